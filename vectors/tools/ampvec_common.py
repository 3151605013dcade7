"""Shared plumbing for generate.py: raw-number-preserving JSON I/O and a stable pretty printer.

Only *file handling* lives here. Every protocol computation (serialisation profiles, hashes,
canonical strings, signatures, HMACs) is written twice on purpose: once in generate.py and once,
independently, in crosscheck.py, which does not import this module's computations.
"""

from __future__ import annotations

import json
import re
from typing import Any

INT_LITERAL = re.compile(r"-?(0|[1-9][0-9]*)\Z")


class RawNumber:
    """A JSON number kept as its source text, so `1.0`, `-0` and `1e21` survive a round trip."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", text):
            raise ValueError(f"not a JSON number: {text!r}")
        self.text = text

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def loads_raw(text: str) -> Any:
    """Parse JSON keeping every number as RawNumber and rejecting duplicate keys."""

    def pairs(items):
        out = {}
        for k, v in items:
            if k in out:
                raise ValueError(f"duplicate key {k!r}")
            out[k] = v
        return out

    def bad_constant(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(
        text,
        parse_int=RawNumber,
        parse_float=RawNumber,
        parse_constant=bad_constant,
        object_pairs_hook=pairs,
    )


def _dump_str(s: str) -> str:
    # ensure_ascii=False keeps the files readable; control characters are escaped by json.
    return json.dumps(s, ensure_ascii=False)


def dumps_pretty(value: Any, indent: int = 0) -> str:
    """Deterministic 2-space pretty printer that writes RawNumber text verbatim."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError("write floats as RawNumber so their text is explicit")
    if isinstance(value, str):
        return _dump_str(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(isinstance(v, (str, int, RawNumber)) and not isinstance(v, bool) for v in value) and sum(
            len(dumps_pretty(v)) + 2 for v in value
        ) < 80:
            return "[" + ", ".join(dumps_pretty(v) for v in value) + "]"
        return "[\n" + ",\n".join(inner + dumps_pretty(v, indent + 1) for v in value) + "\n" + pad + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = [inner + _dump_str(k) + ": " + dumps_pretty(v, indent + 1) for k, v in value.items()]
        return "{\n" + ",\n".join(parts) + "\n" + pad + "}"
    raise TypeError(f"cannot serialise {type(value).__name__}")
