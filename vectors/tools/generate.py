#!/usr/bin/env python3
"""Generate the amp-conformance vector corpus (vectors/*.json).

Independent of the Rust code: uses only the Python standard library (hashlib, hmac, json, base64)
and the `cryptography` package for Ed25519, plus a small pure-Python Ed25519 group implementation
for the hand-crafted edge cases (small-order keys, non-canonical S) that no signing library emits.

Output is deterministic: keys come from fixed seeds, Ed25519 is deterministic, case order is
fixed, and the pretty printer is stable. Run from anywhere:

    python3 vectors/tools/generate.py            # (re)write vectors/*.json
    python3 vectors/tools/generate.py --check    # exit 1 if the files on disk differ

Definitions of the payload profiles and of strict/lax verification: see vectors/README.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ampvec_common import INT_LITERAL, RawNumber, dumps_pretty  # noqa: E402

VECTORS_DIR = Path(__file__).resolve().parent.parent
SCHEMA_ID = "amp-conformance/vectors/v1"
PUBLISHED = "agentmessaging/protocol tests/test-vectors.json@87105cea"
PROFILES = ["sorted", "jcs", "insertion", "python-ascii"]
N = RawNumber

# --------------------------------------------------------------------------------------------
# Payload serialisation profiles (C-01..C-04)
# --------------------------------------------------------------------------------------------


def es_number(x: float) -> str:
    """ECMAScript Number::toString for a finite double (shortest round-trip digits)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    exp_i = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = ip + fp
    e2 = exp_i - len(fp)
    stripped = digits.lstrip("0")
    trail = len(stripped) - len(stripped.rstrip("0"))
    digits = stripped.rstrip("0")
    e2 += trail
    k = len(digits)
    n = k + e2
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + body


def num_text(raw: RawNumber, profile: str) -> str:
    t = raw.text
    is_int = bool(INT_LITERAL.match(t))
    if profile == "python-ascii":
        return str(int(t)) if is_int else repr(float(t))
    # sorted / jcs / insertion: every number is an IEEE double printed as ECMAScript does.
    return es_number(float(t))


def js_string(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def py_ascii_string(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= o <= 0x7E:
            out.append(ch)
        elif o > 0xFFFF:
            v = o - 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 | (v >> 10), 0xDC00 | (v & 0x3FF)))
        else:
            out.append("\\u%04x" % o)
    out.append('"')
    return "".join(out)


def utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be")


def serialize(value: Any, profile: str) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, RawNumber):
        return num_text(value, profile)
    if isinstance(value, str):
        return py_ascii_string(value) if profile == "python-ascii" else js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(serialize(v, profile) for v in value) + "]"
    if isinstance(value, dict):
        keys = list(value.keys())
        if profile in ("sorted", "jcs"):
            keys.sort(key=utf16_key)
        elif profile == "python-ascii":
            keys.sort()
        enc = py_ascii_string if profile == "python-ascii" else js_string
        return "{" + ",".join(enc(k) + ":" + serialize(value[k], profile) for k in keys) + "}"
    raise TypeError(type(value))


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def payload_hash(payload: Any, profile: str) -> str:
    return b64(hashlib.sha256(serialize(payload, profile).encode("utf-8")).digest())


# --------------------------------------------------------------------------------------------
# Ed25519: keys via `cryptography`, edge cases via a tiny pure-Python group implementation.
# --------------------------------------------------------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y: int, sign: int):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % P
    B = (a[1] + a[0]) * (b[1] + b[0]) % P
    C = 2 * a[3] * b[3] * D % P
    DD = 2 * a[2] * b[2] % P
    E, F, G, H = B - A, DD - C, DD + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def _mul(s: int, pt):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _encode(pt) -> bytes:
    zi = pow(pt[2], P - 2, P)
    x, y = pt[0] * zi % P, pt[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(b: bytes):
    v = int.from_bytes(b, "little")
    y, sign = v & ((1 << 255) - 1), v >> 255
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
BASE = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)
IDENTITY_HEX = "01" + "00" * 31
# A point of order 8 (a well-known torsion point; checked below).
ORDER8_HEX = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"


def _is_identity(pt) -> bool:
    return pt[0] % P == 0 and (pt[1] - pt[2]) % P == 0


def craft_small_order_signature(pub: bytes, msg: bytes) -> bytes:
    """A signature (R=[s]B, s) that passes the cofactorless equation because [k]A is the identity."""
    a = _decode(pub)
    assert a is not None and _is_identity(_mul(8, a))
    s = 1
    while True:
        s_bytes = hashlib.sha512(b"amp-conformance small-order " + s.to_bytes(4, "big")).digest()
        sc = int.from_bytes(s_bytes, "little") % L
        r = _encode(_mul(sc, BASE))
        k = int.from_bytes(hashlib.sha512(r + pub + msg).digest(), "little") % L
        if _is_identity(_mul(k, a)):
            return r + sc.to_bytes(32, "little")
        s += 1


def seed_for(i: int) -> bytes:
    return hashlib.sha256(f"amp-conformance vector key {i}".encode()).digest()


class Key:
    def __init__(self, i: int):
        self.name = f"key{i}"
        self.seed = seed_for(i)
        self.sk = Ed25519PrivateKey.from_private_bytes(self.seed)
        pk = self.sk.public_key()
        self.pub = pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.pem = pk.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.der = pk.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, msg: bytes) -> bytes:
        return self.sk.sign(msg)

    def record(self) -> dict:
        return {
            "seed_hex": self.seed.hex(),
            "seed_derivation": f'sha256("amp-conformance vector key {self.name[3:]}")',
            "public_key_hex": self.pub.hex(),
            "public_key_pem": self.pem,
            "flags": ["test-key"],
        }


KEYS = {i: Key(i) for i in (1, 2, 3)}

# --------------------------------------------------------------------------------------------
# Signature text parsing and verification (definitions of strict and lax, see README)
# --------------------------------------------------------------------------------------------

ASCII_WS = " \t\n\r\f\v"


def decode_sig_text(text: str, mode: str):
    if mode == "strict":
        if len(text) != 88 or not text.endswith("=="):
            return None
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            return None
        if b64(raw) != text:  # non-zero trailing bits
            return None
        return raw
    t = "".join(c for c in text if c not in ASCII_WS)
    stripped = t.rstrip("=")
    if len(t) - len(stripped) > 2:
        return None
    t = stripped
    t = t.replace("-", "+").replace("_", "/")
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except ValueError:
        return None


def ed_verify(pub: bytes, msg: bytes, sig_text: str, mode: str) -> bool:
    raw = decode_sig_text(sig_text, mode)
    if raw is None or len(raw) != 64 or len(pub) != 32:
        return False
    r_b, s_b = raw[:32], raw[32:]
    s = int.from_bytes(s_b, "little")
    # strict: RFC 8032 (S < L). lax: the historical ref10 bound (top three bits clear), C-56.
    if s >= (L if mode == "strict" else 2**253):
        return False
    a = _decode(pub)
    if a is None:
        return False
    if mode == "strict":
        if _encode(a) != pub or _is_identity(_mul(8, a)):
            return False
        r = _decode(r_b)
        if r is None or _is_identity(_mul(8, r)):
            return False
    k = int.from_bytes(hashlib.sha512(r_b + pub + msg).digest(), "little") % L
    neg_a = (-a[0] % P, a[1], a[2], -a[3] % P)
    return _encode(_add(_mul(s, BASE), _mul(k, neg_a))) == r_b


def verdicts(pub: bytes, msg: bytes, sig_text: str) -> dict:
    return {m: ("valid" if ed_verify(pub, msg, sig_text, m) else "invalid") for m in ("strict", "lax")}


def result_of(v: dict) -> str:
    if v["strict"] == v["lax"]:
        return v["strict"]
    if v["strict"] == "invalid" and v["lax"] == "valid":
        return "acceptable"
    raise AssertionError("strict accepted what lax rejected")


# --------------------------------------------------------------------------------------------
# Canonical signing string (SIG-007, C-05, C-07, C-08)
# --------------------------------------------------------------------------------------------

PRIORITIES = ("urgent", "high", "normal", "low")


def canonical_string(fields: dict, profile: str):
    pr = fields.get("priority", "normal")
    if pr is None:
        pr = "normal"
    if pr not in PRIORITIES:
        return None
    irt = fields.get("in_reply_to")
    irt = "" if irt is None else irt
    ph = fields["payload_hash"] if "payload_hash" in fields else payload_hash(fields["payload"], profile)
    return "|".join([fields["from"], fields["to"], fields["subject"], pr, irt, ph])


# --------------------------------------------------------------------------------------------
# Case construction helpers
# --------------------------------------------------------------------------------------------


def case(cid, desc, clauses, inp, result, expected=None, flags=None, profiles=None, core_only=None):
    """core_only: why no provider's behaviour can reveal this case (it then runs against the core only)."""
    c = {"id": cid, "description": desc, "clauses": clauses}
    if flags:
        c["flags"] = flags
    c["input"] = inp
    c["result"] = result
    if expected is not None:
        c["expected"] = expected
    if profiles:
        c["profiles"] = profiles
    if core_only:
        c["live"] = False
        c["live_reason"] = core_only
    return c


def core_only(cases, reasons):
    """Marks the cases named in `reasons` (id -> why) as core-only; every id must exist."""
    ids = {c["id"] for c in cases}
    missing = set(reasons) - ids
    assert not missing, f"core_only names unknown cases {missing}"
    for c in cases:
        if c["id"] in reasons:
            c["live"] = False
            c["live_reason"] = reasons[c["id"]]
    return cases


def vfile(topic, kind, description, source, cases, flags, keys=None, core_only=None):
    """core_only: why no case of this file can run against a provider (file-level `live: false`)."""
    out = {
        "schema": SCHEMA_ID,
        "topic": topic,
        "kind": kind,
        "description": description,
        "source": source,
    }
    if core_only:
        out["live"] = False
        out["live_reason"] = core_only
    if keys:
        out["keys"] = keys
    out["flags"] = flags
    out["cases"] = cases
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), f"duplicate ids in {topic}"
    used = {f for c in cases for f in c.get("flags", [])}
    missing = used - set(flags)
    assert not missing, f"{topic}: undefined flags {missing}"
    return out


# --------------------------------------------------------------------------------------------
# address
# --------------------------------------------------------------------------------------------

LOCAL_TLDS = ("local", "internal", "localhost")


def _name_ok(n):
    return 1 <= len(n) <= 63 and all(c.isascii() and (c.isalnum() or c in "-_") for c in n)


def _label_ok(s):
    return 1 <= len(s) <= 63 and all(c.isascii() and (c.isalnum() or c == "-") for c in s)


def address_expect(s: str, parse: str = "full", known=None):
    """Returns (result, expected). Expectation model: ABNF of 02 + 254-char total, split last2."""
    if parse == "any" and "@" not in s:
        if _name_ok(s):
            return "valid", {"form": "short", "name": s.lower(), "tenant": None, "provider": None, "is_local": None}
        return "invalid", {"rule": "ADDR-002"}
    if s == "" or s.count("@") != 1:
        return "invalid", {"rule": "ADDR-001"}
    if len(s) > 254:
        return "invalid", {"rule": "ADDR-004"}
    name, domain = s.split("@")
    if not _name_ok(name):
        return "invalid", {"rule": "ADDR-002"}
    labels = domain.split(".")
    if parse == "any" and len(labels) == 1 and _label_ok(labels[0]):
        return "valid", {"form": "short", "name": name.lower(), "tenant": labels[0].lower(), "provider": None, "is_local": None}
    if len(labels) < 3:
        return "invalid", {"rule": "ADDR-001"}
    for i, x in enumerate(labels):
        if not _label_ok(x):
            return "invalid", {"rule": "ADDR-003" if i < len(labels) - 2 else "ADDR-001"}
    low = [x.lower() for x in labels]
    split = 2
    if known:
        for dom in sorted(known, key=len, reverse=True):
            dl = dom.split(".")
            if len(dl) < len(low) and low[-len(dl):] == dl:
                split = len(dl)
                break
    tenant, provider = ".".join(low[:-split]), ".".join(low[-split:])
    tld = low[-1] if low[-1] in LOCAL_TLDS else None
    exp = {
        "form": "full",
        "address": name.lower() + "@" + ".".join(low),
        "name": name.lower(),
        "tenant": tenant,
        "provider": provider,
        "is_local": tld is not None,
        "local_tld": tld,
    }
    return "valid", exp


def gen_address():
    cases = []

    def add(cid, desc, clauses, addr, parse="full", flags=None, known=None, rule=True):
        res, exp = address_expect(addr, parse, known)
        if res == "invalid" and not rule:
            exp = {}
        inp = {"address": addr}
        if parse != "full":
            inp["parse"] = parse
        if known:
            inp["split"] = {"known": known}
        cases.append(case(cid, desc, clauses, inp, res, exp, flags))

    pub = ["published"]
    add("addr-001", "Standard external address with single-segment tenant", ["ADDR-001"], "alice@acme.crabmail.ai", "any", pub)
    add("addr-002", "Multi-segment tenant: provider is the last two labels", ["ADDR-001", "C-15"], "bob@team.acme.crabmail.ai", "any", pub + ["last2-split"])
    add("addr-003", "Local provider address (.local domain)", ["ADDR-001", "MESH-001", "MESH-002"], "agent@org.aimaestro.local", "any", pub)
    add("addr-004", "Short form (name only); tenant and provider come from configuration at runtime", ["ADDR-008", "C-10"], "simple-name", "any", pub)

    add("addr-010", "Name of exactly 63 characters", ["ADDR-002"], "a" * 63 + "@acme.crabmail.ai")
    add("addr-011", "Name of 64 characters is too long", ["ADDR-002"], "a" * 64 + "@acme.crabmail.ai")
    dom254 = "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".ai"
    add("addr-012", "Total length exactly 254 characters", ["ADDR-004", "C-16"], "a" * 63 + "@" + dom254)
    dom255 = "b" * 63 + "." + "c" * 63 + "." + "d" * 60 + ".ai"
    add("addr-013", "Total length 255 characters (every part individually valid)", ["ADDR-004", "C-16"], "a" * 63 + "@" + dom255)
    add("addr-014", "Underscore in the agent name is allowed", ["ADDR-002"], "build_bot@acme.crabmail.ai")
    add("addr-015", "Underscore in a scope segment is invalid", ["ADDR-003"], "bob@my_team.crabmail.ai")
    add("addr-016", "Underscore in a provider label is invalid", ["ADDR-001"], "bob@team.crab_mail.ai", rule=False)
    add("addr-017", "Uppercase is normalised to lowercase", ["ADDR-005", "C-09"], "Alice@ACME.CrabMail.AI")
    add("addr-018", "Missing @", ["ADDR-001"], "alice.acme.crabmail.ai")
    add("addr-019", "Two @ signs", ["ADDR-001"], "alice@bob@acme.crabmail.ai")
    add("addr-020", "Empty name", ["ADDR-002"], "@acme.crabmail.ai")
    add("addr-021", "Empty domain", ["ADDR-001"], "alice@")
    add("addr-022", "Empty label between dots", ["ADDR-001", "ADDR-003"], "alice@acme..crabmail.ai", rule=False)
    add("addr-023", "Leading dot in the domain", ["ADDR-001", "ADDR-003"], "alice@.acme.crabmail.ai", rule=False)
    add("addr-024", "Trailing dot (DNS root) is not part of the grammar", ["ADDR-001"], "alice@acme.crabmail.ai.", rule=False)
    add("addr-025", "Non-ASCII letter in the name (violates both the ASCII grammar and the name charset, so no single rule is recorded)", ["ADDR-001", "ADDR-002"], "jos\u00e9@acme.crabmail.ai", rule=False)
    add("addr-026", "Non-ASCII (IDN, not punycoded) provider label", ["ADDR-001"], "bob@acme.crabm\u00e4il.ai", rule=False)
    add("addr-027", "Dot in the agent name (schema allows it, ABNF does not)", ["ADDR-002", "C-16"], "first.last@acme.crabmail.ai", flags=["schema-differs"])
    add("addr-028", "Scope segment of 63 characters", ["ADDR-003"], "bob@" + "s" * 63 + ".crabmail.ai")
    add("addr-029", "Scope segment of 64 characters", ["ADDR-003"], "bob@" + "s" * 64 + ".crabmail.ai", rule=False)
    add("addr-030", ".internal is a local-network indicator", ["MESH-002", "C-66"], "agent@org.corp.internal")
    add("addr-031", ".localhost is a local-network indicator", ["MESH-002", "C-66"], "agent@org.dev.localhost")
    add("addr-032", "Uppercase .LOCAL is normalised and still local", ["MESH-002", "ADDR-005"], "Agent@Org.AIMaestro.LOCAL")
    add("addr-033", "'local' as an inner label is not a local TLD", ["MESH-002"], "agent@local.acme.io")
    add("addr-034", "06a host-scoped local form: tenant keeps host and org under last2", ["MESH-001", "C-15"], "agent@host-1.org.aimaestro.local", flags=["last2-split"])
    add("addr-035", "06 example: last2 puts 'agents' into the tenant", ["ADDR-001", "C-15"], "bob@team.agents.corp.io", flags=["last2-split"])
    add("addr-036", "Known provider list: provider is the longest configured suffix", ["ADDR-001", "C-15"], "bob@team.agents.corp.io", known=["agents.corp.io"], flags=["known-split"])
    add("addr-037", "Known provider list that does not match falls back to last2", ["ADDR-001", "C-15"], "bob@team.acme.crabmail.ai", known=["agents.corp.io"], flags=["known-split"])
    add("addr-038", "Only two labels: no scope before the provider", ["ADDR-001", "C-15"], "alice@crabmail.ai")
    add("addr-039", "Leading hyphen in the name is allowed by the ABNF", ["ADDR-002", "C-16"], "-bot@acme.crabmail.ai", flags=["abnf-edge"])
    add("addr-040", "Whitespace around the address is not trimmed", ["ADDR-001"], " alice@acme.crabmail.ai", rule=False)
    add("addr-041", "Short form name@tenant", ["ADDR-008"], "bob@acme", "any")
    add("addr-042", "Short form with an invalid name", ["ADDR-002"], "bad name", "any")
    add("addr-043", "parse_any of a full address gives the full form", ["ADDR-001", "ADDR-008"], "carol@ops.acme.example.com", "any")
    add("addr-044", "Digits-only name and scope", ["ADDR-002", "ADDR-003"], "007@42.crabmail.ai")
    core_only(cases, {
        **{cid: "Its point is the tenant/provider split (C-15), which is the deciding provider's own configuration; mapping the address onto the target's domain removes it" for cid in ("addr-002", "addr-034", "addr-035", "addr-036", "addr-037")},
        **{cid: "Its point is the local-network top-level domain (MESH-002); mapping onto the target's domain removes it (routing.json tests local-network addresses live)" for cid in ("addr-003", "addr-030", "addr-031", "addr-032", "addr-033")},
        **{cid: "Its point is the 254-character total; the target's provider domain has another length, so the mapped address cannot keep it" for cid in ("addr-012", "addr-013")},
    })
    return vfile(
        "address",
        "address",
        "Address parsing, validation, normalisation, tenant/provider split and local-network detection.",
        PUBLISHED + " (addr-001..004, original ids); other cases derived from the 02 ABNF, the 254-character bound and 06a reserved domains (computed by vectors/tools/generate.py)",
        cases,
        {
            "published": "Case taken from the spec's tests/test-vectors.json with its original id",
            "last2-split": "Expectation assumes ProviderSplit::Last2 (provider = last two labels), the only split the published vectors define (C-15)",
            "known-split": "Expectation assumes ProviderSplit::Known with the listed provider domains",
            "schema-differs": "message.schema.json's from/to regex would accept this; the ABNF (the expectation) does not (C-16)",
            "abnf-edge": "Allowed by the ABNF although unusual for DNS-style names (C-16)",
        },
    )


# --------------------------------------------------------------------------------------------
# message ids
# --------------------------------------------------------------------------------------------

import re  # noqa: E402

SCHEMA_ID_RE = re.compile(r"msg_[0-9]+_[a-zA-Z0-9]+")
STRICT_ID_RE = re.compile(r"msg_[0-9]+_[a-f0-9]+")


def msgid_expect(s):
    sch = "valid" if SCHEMA_ID_RE.fullmatch(s) and s.isascii() else "invalid"
    st = "valid" if STRICT_ID_RE.fullmatch(s) and s.isascii() else "invalid"
    exp = {"schema": sch, "strict": st}
    return result_of({"strict": st, "lax": sch}), exp


def gen_msgid():
    cases = []

    def add(cid, desc, clauses, s, flags=None):
        res, exp = msgid_expect(s)
        f = list(flags or [])
        if res == "acceptable":
            f.append("strict-ids")
        cases.append(case(cid, desc, clauses, {"id": s}, res, exp, f or None))

    pub = ["published"]
    add("msgid-001", "Valid message ID with standard timestamp and hex suffix", ["MSG-007"], "msg_1706648400_abc123", pub)
    add("msgid-002", "Valid message ID with longer hex suffix", ["MSG-007"], "msg_1706648400_deadbeef0099", pub)
    add("msgid-003", "Path traversal attempt", ["MSG-007", "ATT-010"], "../../../etc/passwd", pub)
    add("msgid-004", "Slash in the suffix (directory escape)", ["MSG-007", "ATT-010"], "msg_1706648400_abc/123", pub)
    add("msgid-005", "Missing msg_ prefix", ["MSG-007"], "1706648400_abc123", pub)
    add("msgid-006", "Uppercase hex: invalid only under --strict-ids (the schema allows it)", ["MSG-007", "C-12"], "msg_1706648400_ABC123", pub)
    add("msgid-007", "Empty string", ["MSG-007"], "", pub)
    add("msgid-010", "Spec 04 example with a non-hex suffix", ["MSG-007", "C-12"], "msg_1706648400_xyz789def")
    add("msgid-011", "AFP example id with a non-hex suffix", ["MSG-007", "C-12"], "msg_1790900000_afp001")
    add("msgid-012", "Ack example id msg_001 has no suffix", ["MSG-007", "C-12"], "msg_001")
    add("msgid-013", "Trailing newline (a regex anchored with $ would accept it)", ["MSG-007"], "msg_1706648400_abc123\n")
    add("msgid-014", "Dot-dot suffix", ["MSG-007", "ATT-010"], "msg_1706648400_..")
    add("msgid-015", "Percent-encoded slash", ["MSG-007", "ATT-010"], "msg_1706648400_abc%2F123")
    add("msgid-016", "Embedded NUL", ["MSG-007", "ATT-010"], "msg_1706648400_abc\u0000")
    add("msgid-017", "Backslash", ["MSG-007", "ATT-010"], "msg_1706648400_abc\\123")
    add("msgid-018", "Empty timestamp", ["MSG-007"], "msg__abc123")
    add("msgid-019", "Empty suffix", ["MSG-007"], "msg_1706648400_")
    add("msgid-020", "Uppercase prefix", ["MSG-007"], "MSG_1706648400_abc123")
    add("msgid-021", "Negative timestamp", ["MSG-007"], "msg_-1_abc123")
    add("msgid-022", "Full-width digits in the timestamp", ["MSG-007"], "msg_\uff11\uff17\uff10\uff16_abc123")
    add("msgid-023", "Extra underscore segment", ["MSG-007"], "msg_1706648400_abc_123")
    add("msgid-024", "Leading space", ["MSG-007"], " msg_1706648400_abc123")
    add("msgid-025", "Traversal inside a well-formed prefix", ["MSG-007", "ATT-010"], "msg_1706648400_abc/../../x")
    add("msgid-026", "Mixed-case alphanumeric suffix", ["MSG-007", "C-12"], "msg_1706648400_Ab12")
    return vfile(
        "message_id",
        "message_id",
        "Message id format under the schema regex ^msg_[0-9]+_[a-zA-Z0-9]+$ and the published vectors' strict regex ^msg_[0-9]+_[a-f0-9]+$ (whole-string match).",
        PUBLISHED + " (msgid-001..007, original ids); others from 04 Message ID Format, message.schema.json and spec examples",
        cases,
        {
            "published": "Case taken from the spec's tests/test-vectors.json with its original id",
            "strict-ids": "Valid under the schema regex (default), invalid under --strict-ids (published hex-only regex); graded acceptable (C-12)",
        },
    )


# --------------------------------------------------------------------------------------------
# payload hashes
# --------------------------------------------------------------------------------------------


def per_profile(compute):
    """compute(profile) -> (result, expected); returns (result, expected, profiles) with overrides."""
    base = compute("sorted")
    prof = {}
    for p in PROFILES[1:]:
        r = compute(p)
        if r != base:
            prof[p] = {"result": r[0], "expected": r[1]}
    return base[0], base[1], prof or None


def gen_payload_hash():
    cases = []

    def add(cid, desc, clauses, payload, flags=None):
        def comp(p):
            text = serialize(payload, p)
            return "valid", {"canonical": text, "hash": payload_hash(payload, p)}

        res, exp, prof = per_profile(comp)
        f = list(flags or [])
        if prof and "profile-dependent" not in f:
            f.append("profile-dependent")
        cases.append(case(cid, desc, clauses, {"payload": payload}, res, exp, f or None, prof))

    def add_text(cid, desc, clauses, text, flags=None):
        h = b64(hashlib.sha256(text.rstrip(" \t\r\n").encode()).digest())
        cases.append(case(cid, desc, clauses, {"serialized": text}, "valid", {"hash": h}, flags))

    pub = ["published"]
    add("hash-001", "Simple notification payload with two keys", ["SIG-008"], {"type": "notification", "message": "Hello"}, pub)
    add(
        "hash-002",
        "Payload with an attachments array (keys sorted at all levels); not a valid AMP payload, hash fixture only",
        ["SIG-008", "C-43"],
        {"type": "message", "message": "See attached", "attachments": [{"filename": "doc.pdf", "mime_type": "application/pdf", "size": N("1024"), "digest": "sha256:abc123"}]},
        pub,
    )
    add("hash-010", "Already-sorted ASCII payload: every profile agrees", ["SIG-008"], {"message": "Hello", "type": "notification"})
    add(
        "hash-011",
        "Nested objects sorted at every level",
        ["SIG-008"],
        {"type": "task", "message": "Run", "context": {"zeta": {"b": N("2"), "a": N("1")}, "alpha": {"y": True, "x": False}}},
    )
    add(
        "hash-012",
        "Array of objects: array order kept, object keys sorted",
        ["SIG-008"],
        {"type": "batch", "message": "m", "context": {"items": [{"id": N("2"), "name": "b"}, {"name": "a", "id": N("1")}]}},
    )
    # A non-empty `message`: the case is about the empty `o` and `a`; an empty message body is a
    # payload question of its own that a provider may refuse before it looks at the hash.
    add("hash-013", "Empty object and empty array", ["SIG-008"], {"type": "t", "message": "m", "context": {"o": {}, "a": []}})
    add("hash-014", "Non-ASCII Latin text (é) and a check mark", ["SIG-008", "C-02"], {"type": "notification", "message": "h\u00e9llo \u2713"})
    add("hash-015", "CJK text", ["SIG-008", "C-02"], {"type": "notification", "message": "\u4f60\u597d\uff0c\u4e16\u754c"})
    add("hash-016", "Astral-plane emoji (surrogate pair in UTF-16)", ["SIG-008", "C-02"], {"type": "notification", "message": "ship it \U0001F680"})
    add(
        "hash-017",
        "Keys whose UTF-16 order differs from code-point order (U+1F600 vs U+FF61)",
        ["SIG-008", "C-04"],
        {"type": "notification", "message": "x", "context": {"\U0001F600": N("1"), "\uff61": N("2")}},
    )
    add(
        "hash-018",
        "Integer-like keys sort as strings: \"10\" < \"9\" < \"a\"",
        ["SIG-008", "C-04"],
        {"type": "t", "message": "m", "context": {"a": N("3"), "9": N("2"), "10": N("1")}},
    )
    add("hash-019", "Quote and backslash escapes", ["SIG-008"], {"type": "t", "message": 'say "hi" \\ bye'})
    add(
        "hash-020",
        "Control characters: named escapes and \\u00XX for the rest",
        ["SIG-008"],
        {"type": "t", "message": "a\nb\tc\rd\be\ff\u0000g\u001fh"},
    )
    add("hash-021", "U+2028 and U+2029 stay raw in JSON.stringify/JCS, escaped by Python", ["SIG-008", "C-02"], {"type": "notification", "message": "a\u2028b\u2029c"})
    add("hash-022", "DEL (U+007F) is raw in JS/JCS, escaped by Python ensure_ascii", ["SIG-008", "C-02"], {"type": "t", "message": "del\u007fhere"})
    add("hash-023", "Number zero", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("0")}})
    add("hash-024", "Negative zero written as -0", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("-0")}}, ["number-text"])
    add("hash-025", "Negative zero written as -0.0", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("-0.0")}})
    add("hash-026", "A plain fraction 1.5", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("1.5")}})
    add("hash-027", "Integral float 1.0: JS prints 1, Python 1.0", ["SIG-008", "C-03"], {"type": "notification", "message": "x", "context": {"n": N("1.0")}})
    add("hash-028", "1e21: exponent form in every profile", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("1e21")}})
    add("hash-029", "1e-7: JS 1e-7, Python 1e-07", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("1e-7")}})
    add("hash-030", "2^53+1: the IEEE double 2^53 in JS-style profiles, exact in python-ascii", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("9007199254740993")}})
    add("hash-031", "1e20 is printed in full by JS (below the 1e21 switch)", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("1e20")}})
    add("hash-032", "Small fraction 0.000001 (JS keeps decimal, Python 1e-06)", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("0.000001")}})
    add("hash-033", "Negative integer and negative fraction", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"i": N("-42"), "f": N("-2.25")}})
    add("hash-034", "Booleans and nested arrays", ["SIG-008"], {"type": "t", "message": "m", "context": {"flags": [True, False, [N("1"), [N("2"), []]]]}})
    add("hash-035", "null inside the payload is serialised as null (JSON-001 forbids sending it; C-06)", ["SIG-008", "JSON-001", "C-06"], {"type": "t", "message": "m", "context": {"gone": None}})
    add("hash-036", "Key order differs from insertion only at depth 2", ["SIG-008", "C-01"], {"message": "m", "type": "t", "context": {"b": N("1"), "a": N("2")}})
    add("hash-037", "Keys differing only in case sort uppercase first", ["SIG-008"], {"type": "t", "message": "m", "context": {"b": N("1"), "B": N("2"), "a": N("3"), "A": N("4")}})
    add("hash-038", "Non-ASCII key (é) sorts after ASCII letters", ["SIG-008", "C-02"], {"type": "t", "message": "m", "context": {"\u00e9t\u00e9": N("1"), "ete": N("2"), "z": N("3")}})
    add("hash-039", "Combining sequence kept unnormalised (e + U+0301)", ["SIG-008", "C-18"], {"type": "t", "message": "e\u0301"})
    add("hash-040", "Large integer 2^63: IEEE double in JS-style profiles, exact in python-ascii", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("9223372036854775808")}})
    add("hash-041", "Exponent-written integer 1e2 is a float (JS 100, Python 100.0)", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("1e2")}})
    add("hash-043", "Shortest-digits tie: ECMAScript picks the even last digit (found by fuzzing)", ["SIG-008", "C-03"], {"type": "t", "message": "m", "context": {"n": N("112779752796.453125")}})
    add("hash-042", "Mixed tree resembling a real task payload", ["SIG-008"], {
        "type": "task",
        "message": "Review PR #42",
        "context": {"repo": "acme/api", "pr": N("42"), "labels": ["bug", "p1"], "meta": {"draft": False, "reviewers": [{"login": "bob", "weight": N("0.5")}]}},
    })
    add(
        "hash-044",
        "`__proto__` is an ordinary key: JSON parsers must keep it as data (a JS object literal would drop it)",
        ["SIG-008", "MSG-010"],
        {"type": "t", "message": "m", "context": {"__proto__": {"admin": True}, "b": N("1")}},
    )
    add(
        "hash-045",
        "Integer-like keys among others: sorted as strings (\"1\" < \"10\" < \"2\"), not first in numeric order as JS objects keep them",
        ["SIG-008", "C-04"],
        {"type": "t", "message": "m", "context": {"b": N("1"), "2": N("2"), "a": N("3"), "10": N("4"), "1": N("5")}},
    )
    add_text("hash-050", "Serialized text with a trailing newline (jq -c output) hashes like the stripped text", ["SIG-009"], '{"message":"Hello","type":"notification"}\n')
    add_text("hash-051", "Serialized text with trailing spaces and CRLF", ["SIG-009"], '{"message":"Hello","type":"notification"}  \r\n')
    add_text("hash-052", "Serialized text without trailing whitespace", ["SIG-009"], '{"message":"Hello","type":"notification"}')
    add_text("hash-053", "Leading whitespace is not stripped (only trailing)", ["SIG-009"], ' {"message":"Hello","type":"notification"}')
    core_only(cases, {
        "hash-002": "Its attachments array is a hash fixture, not valid attachment metadata: no provider routes it",
        "hash-035": "JSON-001 forbids sending null inside a payload, so a provider's refusal or stripping says nothing about its hash",
        **{f"hash-05{i}": "SIG-009 concerns how a sender hashes its own serialised text; the route body carries parsed JSON, so a provider never sees the whitespace" for i in range(4)},
    })
    return vfile(
        "payload_hash",
        "payload_hash",
        "payload_hash = base64(sha256(serialised payload)) under each payload profile (sorted default, jcs, insertion, python-ascii).",
        PUBLISHED + " (hash-001..002, original ids); the rest computed with Python hashlib and the profile definitions in vectors/README.md; catalogue §1.15 divergence vectors reproduced (hash-001, hash-014, hash-017, hash-021, hash-027)",
        cases,
        {
            "published": "Case taken from the spec's tests/test-vectors.json with its original id",
            "profile-dependent": "The serialisation differs between payload profiles; see `profiles` (C-01..C-04)",
            "number-text": "Expectation depends on the number's source text (-0 is an integer literal in Python); readers that parse -0 as the double -0.0 and keep no text cannot reproduce the python-ascii form",
        },
    )


# --------------------------------------------------------------------------------------------
# canonical strings
# --------------------------------------------------------------------------------------------

BASE_FIELDS = {"from": "alice@acme.crabmail.ai", "to": "bob@acme.crabmail.ai", "subject": "Deploy status", "priority": "low", "in_reply_to": ""}
HELLO = {"type": "notification", "message": "Hello"}


def gen_canonical():
    cases = []

    def add(cid, desc, clauses, fields, flags=None):
        def comp(p):
            s = canonical_string(fields, p)
            if s is None:
                return "invalid", {}
            return "valid", {"canonical": s}

        res, exp, prof = per_profile(comp)
        f = list(flags or [])
        if prof:
            f.append("profile-dependent")
        cases.append(case(cid, desc, clauses, fields, res, exp, f or None, prof))

    pub = ["published"]
    add("canon-001", "Standard message with no in_reply_to", ["SIG-007"], {"from": "alice@acme.crabmail.ai", "to": "bob@acme.crabmail.ai", "subject": "Hello", "priority": "normal", "in_reply_to": "", "payload_hash": "4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg="}, pub)
    add("canon-002", "Reply with in_reply_to set and urgent priority (hash has no published source payload)", ["SIG-007", "C-43"], {"from": "bob@acme.crabmail.ai", "to": "alice@acme.crabmail.ai", "subject": "Re: Hello", "priority": "urgent", "in_reply_to": "msg_1706648400_abc123", "payload_hash": "/NLmVfR3svEribQpxW+NNQKd8a1wxocA7BX7JcFcm6o="}, pub)
    add("canon-003", "Cross-provider message with low priority", ["SIG-007"], {"from": "agent@org.aimaestro.local", "to": "bob@team.acme.crabmail.ai", "subject": "Status Update", "priority": "low", "in_reply_to": "", "payload_hash": "bE6R8lh+sLvN5+g5bucp+rbMYJ0M9qkqH+d702x/yWQ="}, pub)
    for i, pr in enumerate(PRIORITIES):
        add(f"canon-01{i}", f"Priority {pr}", ["SIG-007", "MSG-004"], {**BASE_FIELDS, "priority": pr, "payload": HELLO})
    f = {k: v for k, v in BASE_FIELDS.items() if k != "priority"}
    add("canon-020", "Omitted priority is signed as normal", ["SIG-007", "C-07"], {**f, "payload": HELLO})
    add("canon-021", "in_reply_to null is signed as the empty string", ["SIG-007", "C-05"], {**BASE_FIELDS, "in_reply_to": None, "payload": HELLO})
    f = {k: v for k, v in BASE_FIELDS.items() if k != "in_reply_to"}
    add("canon-022", "Absent in_reply_to is signed as the empty string", ["SIG-007", "C-05"], {**f, "payload": HELLO})
    add("canon-023", "in_reply_to given", ["SIG-007", "MSG-011"], {**BASE_FIELDS, "in_reply_to": "msg_1706648400_abc123", "payload": HELLO})
    add("canon-024", "'|' in the subject is kept verbatim (no escaping) and makes the string ambiguous", ["SIG-007", "C-08"], {**BASE_FIELDS, "subject": "S|low", "priority": "normal", "in_reply_to": "X", "payload_hash": "4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg="}, ["pipe-ambiguity"])
    add("canon-025", "Collision partner of canon-024: different fields, same canonical string", ["SIG-007", "C-08"], {**BASE_FIELDS, "subject": "S", "priority": "low", "in_reply_to": "normal|X", "payload_hash": "4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg="}, ["pipe-ambiguity"])
    add("canon-026", "Unicode subject (UTF-8, emoji)", ["SIG-007", "C-02"], {**BASE_FIELDS, "subject": "Gr\u00fc\u00dfe \U0001F44B \u65e5\u672c", "payload": HELLO})
    add("canon-027", "Subject in NFD form is not normalised", ["SIG-007", "C-18"], {**BASE_FIELDS, "subject": "Cafe\u0301", "payload": HELLO})
    add("canon-028", "Mixed-case addresses are signed verbatim", ["SIG-007", "C-09"], {**BASE_FIELDS, "to": "Bob@Acme.crabmail.ai", "payload": HELLO})
    # MSG-004 first: a provider that accepts an unknown priority breaks the priority rule; SIG-007
    # (no canonical string exists for it) is the signing consequence.
    add("canon-029", "Unknown priority value is refused", ["MSG-004", "SIG-007"], {**BASE_FIELDS, "priority": "critical", "payload": HELLO})
    add("canon-030", "Priority is case-sensitive", ["MSG-004", "SIG-007"], {**BASE_FIELDS, "priority": "URGENT", "payload": HELLO})
    add("canon-031", "Non-ASCII payload: hash (and so the string) differs under python-ascii", ["SIG-007", "SIG-008", "C-02"], {**BASE_FIELDS, "payload": {"type": "notification", "message": "h\u00e9llo \u2713"}})
    add("canon-032", "Subject with a newline is kept verbatim", ["SIG-007"], {**BASE_FIELDS, "subject": "line1\nline2", "payload": HELLO})
    add("canon-033", "Empty subject (schema minLength 1, the string itself is still defined)", ["SIG-007", "C-42"], {**BASE_FIELDS, "subject": "", "payload": HELLO})
    no_payload = "Gives only a payload_hash, no payload: no message whose payload has that hash can be routed"
    core_only(cases, {
        "canon-001": no_payload,
        "canon-002": no_payload,
        "canon-003": no_payload,
        "canon-024": no_payload,
        "canon-025": no_payload,
        "canon-028": "Its point is a mixed-case `from`; a provider fills `from` from the authenticated agent (API-010), so no client can send it",
        "canon-033": "Defines the string for an empty subject, which providers must refuse (schema minLength 1, MSG-003): the route cannot carry it",
    })
    return vfile(
        "canonical_string",
        "canonical_string",
        "Canonical signing string from|to|subject|priority|in_reply_to|payload_hash (UTF-8, no escaping); payload_hash given or computed from `payload` under the run's profile.",
        PUBLISHED + " (canon-001..003, original ids); others computed by vectors/tools/generate.py from 04 Canonical Signature Format",
        cases,
        {
            "published": "Case taken from the spec's tests/test-vectors.json with its original id",
            "profile-dependent": "payload_hash is computed from `payload` and differs between payload profiles (C-01..C-04)",
            "pipe-ambiguity": "Two different field sets produce the same canonical string because '|' is not escaped (C-08)",
        },
    )


# --------------------------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------------------------

SHIP = {"message": "Ship it", "type": "notification"}
SIG_FIELDS = {**BASE_FIELDS, "payload": SHIP}


def sign_fields(key: Key, fields: dict, profile: str = "sorted") -> str:
    return b64(key.sign(canonical_string(fields, profile).encode()))


def gen_signature():
    cases = []
    k1, k2 = KEYS[1], KEYS[2]

    def add(cid, desc, clauses, pub_hex, fields, sig_text, flags=None, unsigned=None, signed=None):
        def comp(p):
            msg = canonical_string(fields, p)
            if msg is None:
                return "invalid", {"strict": "invalid", "lax": "invalid"}
            v = verdicts(bytes.fromhex(pub_hex), msg.encode(), sig_text)
            return result_of(v), {**v, "canonical": msg}

        res, exp, prof = per_profile(comp)
        f = list(flags or [])
        if prof:
            f.append("profile-dependent")
        if res == "acceptable" and "lax-only" not in f:
            f.append("lax-only")
        inp = {"public_key": pub_hex, "fields": fields, "signature": sig_text}
        if signed:
            # The fields the signature was actually made over (tampering cases): lets a live run
            # re-sign them for its own agents and then present the altered fields.
            inp["signed_fields"] = signed
        if unsigned:
            inp["unsigned"] = unsigned
        cases.append(case(cid, desc, clauses, inp, res, exp, f or None, prof))

    good = sign_fields(k1, SIG_FIELDS)
    raw = base64.b64decode(good)
    pk1, pk2 = k1.pub.hex(), k2.pub.hex()

    add("sig-001", "Valid signature", ["SIG-007", "SIG-010", "SIG-011"], pk1, SIG_FIELDS, good)
    add("sig-002", "Valid signature from a second key", ["SIG-010"], pk2, SIG_FIELDS, sign_fields(k2, SIG_FIELDS))
    nopri = {k: v for k, v in SIG_FIELDS.items() if k != "priority"}
    add("sig-003", "Priority omitted, signed as normal", ["SIG-007", "C-07"], pk1, nopri, sign_fields(k1, nopri))
    reply = {**SIG_FIELDS, "in_reply_to": "msg_1706648400_abc123"}
    sig_reply = sign_fields(k1, reply)
    add("sig-004", "Reply signed with in_reply_to", ["SIG-007", "MSG-011"], pk1, reply, sig_reply)
    nul = {**SIG_FIELDS, "in_reply_to": None}
    add("sig-005", "in_reply_to null verifies against a signature over the empty string", ["SIG-007", "C-05"], pk1, nul, good)
    absent = {k: v for k, v in SIG_FIELDS.items() if k != "in_reply_to"}
    add("sig-006", "in_reply_to absent verifies against a signature over the empty string", ["SIG-007", "C-05"], pk1, absent, good)
    uni = {**SIG_FIELDS, "subject": "D\u00e9ploiement \u2713 \U0001F680"}
    add("sig-007", "Non-ASCII subject signed as UTF-8", ["SIG-007", "SIG-010"], pk1, uni, sign_fields(k1, uni))
    pipe = {**SIG_FIELDS, "subject": "a|b|c"}
    add("sig-008", "'|' in the subject, signed verbatim", ["SIG-007", "C-08"], pk1, pipe, sign_fields(k1, pipe))

    def flip(byte, bit):
        b = bytearray(raw)
        b[byte] ^= 1 << bit
        return b64(bytes(b))

    add("sig-010", "Bit flip in R (byte 0)", ["SIG-015"], pk1, SIG_FIELDS, flip(0, 0))
    add("sig-011", "Bit flip in R (byte 31)", ["SIG-015"], pk1, SIG_FIELDS, flip(31, 3))
    add("sig-012", "Bit flip in S (byte 32)", ["SIG-015"], pk1, SIG_FIELDS, flip(32, 0))
    add("sig-013", "Bit flip in S (byte 50)", ["SIG-015"], pk1, SIG_FIELDS, flip(50, 5))
    add("sig-014", "High bit of S set (S >= L)", ["SIG-015"], pk1, SIG_FIELDS, flip(63, 7))
    add("sig-015", "Valid signature checked against another key", ["SIG-015"], pk2, SIG_FIELDS, good)
    add("sig-020", "from altered", ["SIG-016"], pk1, {**SIG_FIELDS, "from": "mallory@acme.crabmail.ai"}, good, signed=SIG_FIELDS)
    add("sig-021", "to altered (redirect)", ["SIG-016"], pk1, {**SIG_FIELDS, "to": "eve@acme.crabmail.ai"}, good, signed=SIG_FIELDS)
    add("sig-022", "subject altered", ["SIG-016"], pk1, {**SIG_FIELDS, "subject": "Deploy status!"}, good, signed=SIG_FIELDS)
    add("sig-023", "Priority escalation low -> urgent", ["SIG-016"], pk1, {**SIG_FIELDS, "priority": "urgent"}, good, signed=SIG_FIELDS)
    add("sig-024", "Thread hijack: in_reply_to added", ["SIG-016"], pk1, {**SIG_FIELDS, "in_reply_to": "msg_1706648400_abc123"}, good, signed=SIG_FIELDS)
    add("sig-025", "in_reply_to pointed at another message", ["SIG-016"], pk1, {**reply, "in_reply_to": "msg_1706648400_abc124"}, sig_reply, signed=reply)
    add("sig-026", "in_reply_to removed from a signed reply", ["SIG-016"], pk1, SIG_FIELDS, sig_reply, signed=reply)
    add("sig-027", "One payload byte changed", ["SIG-016"], pk1, {**SIG_FIELDS, "payload": {"message": "Ship it!", "type": "notification"}}, good, signed=SIG_FIELDS)
    add("sig-028", "Payload key added", ["SIG-016"], pk1, {**SIG_FIELDS, "payload": {**SHIP, "context": {}}}, good, signed=SIG_FIELDS)
    add("sig-029", "Mixed-case to does not verify a signature made over the lowercase address", ["SIG-016", "C-09"], pk1, {**SIG_FIELDS, "to": "Bob@acme.crabmail.ai"}, good, signed=SIG_FIELDS)
    add("sig-030", "Truncated signature (63 bytes)", ["SIG-011", "SIG-015"], pk1, SIG_FIELDS, b64(raw[:63]))
    add("sig-031", "Empty signature", ["SIG-015"], pk1, SIG_FIELDS, "")
    add("sig-032", "Signature with an extra byte (65 bytes)", ["SIG-011", "SIG-015"], pk1, SIG_FIELDS, b64(raw + b"\x00"))
    add("sig-033", "All-zero signature", ["SIG-015"], pk1, SIG_FIELDS, b64(bytes(64)))
    add("sig-034", "Not base64 at all", ["SIG-011", "SIG-015"], pk1, SIG_FIELDS, "not a signature!")
    add("sig-035", "Ed25519 over SHA-256(canonical) instead of the raw bytes (pre-hash)", ["SIG-010"], pk1, SIG_FIELDS, b64(k1.sign(hashlib.sha256(canonical_string(SIG_FIELDS, "sorted").encode()).digest())))
    add("sig-036", "Signature over the canonical string plus a trailing newline", ["SIG-007", "SIG-010"], pk1, SIG_FIELDS, b64(k1.sign((canonical_string(SIG_FIELDS, "sorted") + "\n").encode())))

    # Base64 variants (C-56): find a subject whose signature has both '+' and '/'.
    n = 0
    while True:
        fv = {**SIG_FIELDS, "subject": f"Deploy status {n}"}
        sv = sign_fields(k1, fv)
        if "+" in sv and "/" in sv:
            break
        n += 1
    add("sig-040", "Standard base64 with '+' and '/' (baseline for the variants)", ["SIG-011"], pk1, fv, sv)
    add("sig-041", "URL-safe alphabet", ["SIG-011", "C-56"], pk1, fv, sv.replace("+", "-").replace("/", "_"))
    add("sig-042", "Padding removed", ["SIG-011", "C-56"], pk1, fv, sv.rstrip("="))
    add("sig-043", "URL-safe and unpadded", ["SIG-011", "C-56"], pk1, fv, sv.replace("+", "-").replace("/", "_").rstrip("="))
    add("sig-044", "Trailing newline after the base64 text", ["SIG-011", "C-56"], pk1, fv, sv + "\n")
    add("sig-045", "Leading space before the base64 text", ["SIG-011", "C-56"], pk1, fv, " " + sv)
    add("sig-046", "Line break inside the base64 text (MIME wrapping): lax readers drop all whitespace", ["SIG-011", "C-56"], pk1, fv, sv[:44] + "\n" + sv[44:])
    # Non-canonical trailing bits: the last data char carries 2 significant bits of 6.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = sv[85]
    noncanon = sv[:85] + alphabet[alphabet.index(last) | 0x0F] + "=="
    if noncanon == sv:
        noncanon = sv[:85] + alphabet[alphabet.index(last) | 0x01] + "=="
    add("sig-047", "Non-zero unused bits in the last base64 character", ["SIG-011", "C-56"], pk1, fv, noncanon)
    add("sig-048", "Three padding characters", ["SIG-011", "C-56"], pk1, fv, sv + "=")

    s = int.from_bytes(raw[32:], "little")
    add("sig-050", "Non-canonical S: S + L (malleated copy of a valid signature)", ["SIG-010", "C-56"], pk1, SIG_FIELDS, b64(raw[:32] + (s + L).to_bytes(32, "little")), ["malleability"])
    msg = canonical_string(SIG_FIELDS, "sorted").encode()
    ident = bytes.fromhex(IDENTITY_HEX)
    add("sig-051", "Small-order public key: identity point (01 00..00)", ["SIG-010", "C-56"], IDENTITY_HEX, SIG_FIELDS, b64(craft_small_order_signature(ident, msg)), ["small-order"])
    o8 = bytes.fromhex(ORDER8_HEX)
    add("sig-052", "Small-order public key: a point of order 8", ["SIG-010", "C-56"], ORDER8_HEX, SIG_FIELDS, b64(craft_small_order_signature(o8, msg)), ["small-order"])
    other = canonical_string({**SIG_FIELDS, "subject": "anything at all"}, "sorted").encode()
    add("sig-053", "Identity key: a signature crafted for another message also passes a cofactorless check", ["SIG-010", "C-56"], IDENTITY_HEX, SIG_FIELDS, b64(craft_small_order_signature(ident, other)), ["small-order"])

    add("sig-060", "Unsigned fields changed (id, timestamp, thread_id): signature still verifies", ["SIG-014"], pk1, SIG_FIELDS, good,
        unsigned={"id": "msg_1767225999_ffff", "timestamp": "2026-01-01T00:06:39Z", "thread_id": "msg_1767225000_aaaa"})
    add("sig-061", "Unsigned fields changed (expires_at, idempotency_key): signature still verifies", ["SIG-014", "IDEM-001"], pk1, SIG_FIELDS, good,
        unsigned={"expires_at": "2026-02-01T00:00:00Z", "idempotency_key": "idk_3f2b8c1e-9d4a-4b7e-8f1a-2c3d4e5f6a7b"})

    insertion_order = {**SIG_FIELDS, "payload": {"type": "notification", "message": "Ship it"}}
    add("sig-070", "Payload in non-sorted insertion order signed under sorted: insertion readers fail", ["SIG-008", "C-01"], pk1, insertion_order, sign_fields(k1, insertion_order, "sorted"))
    add("sig-071", "Payload signed under insertion order: only insertion readers verify", ["SIG-008", "C-01"], pk1, insertion_order, sign_fields(k1, insertion_order, "insertion"))
    nonascii = {**SIG_FIELDS, "payload": {"message": "h\u00e9llo \u2713", "type": "notification"}}
    add("sig-072", "Non-ASCII payload signed under sorted (UTF-8): python-ascii readers fail", ["SIG-008", "C-02"], pk1, nonascii, sign_fields(k1, nonascii, "sorted"))
    add("sig-073", "Non-ASCII payload signed under python-ascii: only python-ascii readers verify", ["SIG-008", "C-02"], pk1, nonascii, sign_fields(k1, nonascii, "python-ascii"))
    flt = {**SIG_FIELDS, "payload": {"context": {"n": N("1.0")}, "message": "x", "type": "notification"}}
    add("sig-074", "Float 1.0 in the payload signed under sorted: python-ascii writes 1.0 and fails", ["SIG-008", "C-03"], pk1, flt, sign_fields(k1, flt, "sorted"))

    return vfile(
        "signature",
        "signature",
        "Ed25519 message signatures over the canonical string, verified under strict and lax rules (see README).",
        "Computed with Python `cryptography` (Ed25519, deterministic RFC 8032 signing) from fixed test seeds; small-order and S+L cases crafted with the pure-Python group code in vectors/tools/generate.py",
        cases,
        {
            "profile-dependent": "The payload hash inside the canonical string differs between payload profiles, so the verdict does (C-01..C-03)",
            "lax-only": "Rejected by strict verification, accepted by lax verification; graded acceptable (C-56)",
            "malleability": "Non-canonical S (S + L): RFC 8032 and strict verifiers reject; lax readers modelled on ref10's historical check (S < 2^253) accept the malleated copy; graded acceptable (C-56)",
            "small-order": "Small-order public key: strict verifiers reject it, cofactorless lax verifiers accept the crafted signature (C-56)",
            "test-key": "Public test key from a published seed: never use for anything but tests",
        },
        keys={k.name: k.record() for k in (k1, k2)},
    )


# --------------------------------------------------------------------------------------------
# fingerprints
# --------------------------------------------------------------------------------------------


def fingerprints(raw: bytes, der: bytes) -> dict:
    h = hashlib.sha256(raw).digest()
    return {
        "raw32-b64pad": "SHA256:" + b64(h),
        "raw32-b64nopad": "SHA256:" + b64(h).rstrip("="),
        "spki-der": "SHA256:" + b64(hashlib.sha256(der).digest()),
    }


SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def gen_fingerprint():
    cases = []
    for i in (1, 2, 3):
        k = KEYS[i]
        cases.append(case(f"fp-00{i}", f"Fingerprints of test key {i} from hex", ["CARD-004", "C-19"], {"public_key": k.pub.hex()}, "valid",
                          {**fingerprints(k.pub, k.der), "public_key_hex": k.pub.hex(), "public_key_pem": k.pem}, ["test-key"]))
    for i in (1, 2):
        k = KEYS[i]
        cases.append(case(f"fp-01{i}", f"Fingerprints of test key {i} from SPKI PEM", ["CARD-004", "MESH-005", "C-19"], {"public_key_pem": k.pem}, "valid",
                          {**fingerprints(k.pub, k.der), "public_key_hex": k.pub.hex(), "public_key_pem": k.pem}, ["test-key"]))
    ident = bytes.fromhex(IDENTITY_HEX)
    cases.append(case("fp-020", "Fingerprint of the identity point (a valid encoding, though small-order)", ["C-19"], {"public_key": IDENTITY_HEX}, "valid",
                      {**fingerprints(ident, SPKI_PREFIX + ident), "public_key_hex": IDENTITY_HEX,
                       "public_key_pem": "-----BEGIN PUBLIC KEY-----\n" + b64(SPKI_PREFIX + ident) + "\n-----END PUBLIC KEY-----\n"}))
    x = X25519PrivateKey.from_private_bytes(KEYS[1].seed).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    cases.append(case("fp-030", "An X25519 SPKI PEM is not an Ed25519 key", ["REG-006", "C-19"], {"public_key_pem": x}, "invalid", {}))
    cases.append(case("fp-031", "Hex key of 31 bytes", ["C-19"], {"public_key": KEYS[1].pub.hex()[:62]}, "invalid", {}))
    cases.append(case("fp-032", "Hex key with a non-hex character", ["C-19"], {"public_key": "zz" + KEYS[1].pub.hex()[2:]}, "invalid", {}))
    cases.append(case("fp-033", "PEM with a corrupted base64 body", ["REG-006"], {"public_key_pem": KEYS[1].pem.replace("MCow", "MCo!")}, "invalid", {}))
    return vfile(
        "fingerprint",
        "fingerprint",
        "Key fingerprints SHA256:<base64> under the three readings of C-19: raw 32-byte key padded (default, 09-external), raw unpadded, SHA-256 of the SPKI DER.",
        "Computed with Python hashlib/base64 and `cryptography` serialisation from fixed test seeds",
        cases,
        {"test-key": "Public test key from a published seed: never use for anything but tests"},
        core_only="Pins all three fingerprint readings of C-19 for test keys and malformed key texts; a provider shows only the one reading it chose, for keys registered with it, which the case register.fingerprint already matches against amp-core's readings",
    )


# --------------------------------------------------------------------------------------------
# webhook HMAC
# --------------------------------------------------------------------------------------------

WH_SECRET = "whsec_amp_conformance_test_secret_1"
TS0 = 1767225600  # 2026-01-01T00:00:00Z


def wh_sig(secret: str, ts: int, body: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()


def gen_webhook():
    body = json.dumps({"envelope": {"id": "msg_1767225600_a1b2c3", "from": "alice@acme.crabmail.ai", "to": "bob@acme.crabmail.ai"}, "payload": {"message": "Hello", "type": "notification"}}, separators=(",", ":"))
    cases = []

    def add(cid, desc, clauses, ts, body_, sig, now, result, flags=None, secret=WH_SECRET, window=300):
        inp = {"secret": secret, "timestamp": ts, "body": body_, "signature": sig, "now": now, "window_secs": window}
        cases.append(case(cid, desc, clauses, inp, result, {"signature": wh_sig(secret, ts, body_)}, flags))

    good = wh_sig(WH_SECRET, TS0, body)
    add("wh-001", "Valid signature, 5 s old", ["WH-002", "WH-003"], TS0, body, good, TS0 + 5, "valid")
    add("wh-002", "Exactly 300 s old is still inside the window", ["WH-003"], TS0, body, good, TS0 + 300, "valid")
    add("wh-003", "301 s old is stale", ["WH-003"], TS0, body, good, TS0 + 301, "invalid")
    add("wh-004", "300 s in the future is inside the window", ["WH-003"], TS0, body, good, TS0 - 300, "valid")
    add("wh-005", "301 s in the future is rejected", ["WH-003"], TS0, body, good, TS0 - 301, "invalid")
    add("wh-006", "Signed with another secret", ["WH-002"], TS0, body, wh_sig("whsec_some_other_secret", TS0, body), TS0 + 5, "invalid")
    add("wh-007", "Signed with the secret minus its whsec_ prefix (key is the whole string, C-29)", ["WH-002", "C-29"], TS0, body, wh_sig(WH_SECRET[len("whsec_"):], TS0, body), TS0 + 5, "invalid")
    add("wh-008", "Body altered by one byte", ["WH-002"], TS0, body.replace("Hello", "Hellp"), good, TS0 + 5, "invalid")
    add("wh-009", "Body re-serialised with spaces (signature is over raw bytes)", ["WH-002", "C-29"], TS0, json.dumps(json.loads(body)), good, TS0 + 5, "invalid")
    add("wh-010", "Uppercase hex digest", ["WH-002", "C-29"], TS0, body, "sha256=" + good[7:].upper(), TS0 + 5, "acceptable", ["hex-case"])
    add("wh-011", "Missing sha256= prefix", ["WH-001", "WH-002"], TS0, body, good[7:], TS0 + 5, "invalid")
    add("wh-012", "Header timestamp differs from the signed one", ["WH-002"], TS0 + 1, body, good, TS0 + 5, "invalid")
    add("wh-013", "Truncated digest", ["WH-002"], TS0, body, good[:-2], TS0 + 5, "invalid")
    add("wh-014", "Empty body", ["WH-002"], TS0, "", wh_sig(WH_SECRET, TS0, ""), TS0, "valid")
    nb = '{"payload":{"message":"h\u00e9llo \u2713"}}'
    add("wh-015", "Non-ASCII body hashed as UTF-8 bytes", ["WH-002"], TS0, nb, wh_sig(WH_SECRET, TS0, nb), TS0, "valid")
    add("wh-016", "Signature over the body alone (no timestamp prefix)", ["WH-002"], TS0, body, "sha256=" + hmac.new(WH_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest(), TS0 + 5, "invalid")
    core_only(cases, {"wh-014": "A provider never delivers an empty body: every delivery carries {envelope, payload}"})
    return vfile(
        "webhook_hmac",
        "webhook_hmac",
        "Webhook X-AMP-Signature: sha256=<lowercase hex HMAC-SHA256(key = secret string bytes, msg = \"<timestamp>.<raw body>\")>, freshness window 300 s either way.",
        "Computed with Python hmac/hashlib from 05 Signature Verification and 07 Webhook Security",
        cases,
        {"hex-case": "Uppercase hex is not what providers send; receivers may accept it (C-29); graded acceptable either way"},
    )


# --------------------------------------------------------------------------------------------
# federation signature
# --------------------------------------------------------------------------------------------


def gen_federation():
    k3, k2 = KEYS[3], KEYS[2]
    body = json.dumps({"envelope": {"id": "msg_1767225600_a1b2c3", "from": "alice@acme.crabmail.ai", "to": "bob@team.other.example"}, "payload": {"message": "Hello", "type": "notification"}, "sender_public_key": KEYS[1].pem}, separators=(",", ":"))
    cases = []

    def add(cid, desc, clauses, pub, ts, body_, sig, now, flags=None, window=300):
        msg = f"{ts}.{body_}".encode()
        v = verdicts(pub, msg, sig)
        fresh = abs(now - ts) <= window
        if not fresh:
            v = {"strict": "invalid", "lax": "invalid"}
        inp = {"public_key": pub.hex(), "timestamp": ts, "body": body_, "signature": sig, "now": now, "window_secs": window}
        exp = {**v, "signing_string": msg.decode()}
        f = list(flags or [])
        r = result_of(v)
        if r == "acceptable":
            f.append("lax-only")
        cases.append(case(cid, desc, clauses, inp, r, exp, f or None))

    sig = b64(k3.sign(f"{TS0}.{body}".encode()))
    add("fed-001", "Valid provider signature", ["FED-002", "FED-003"], k3.pub, TS0, body, sig, TS0 + 10)
    add("fed-002", "Body altered", ["FED-002", "FED-003"], k3.pub, TS0, body.replace("Hello", "Hellp"), sig, TS0 + 10)
    add("fed-003", "Stale: 301 s old", ["FED-002", "C-28"], k3.pub, TS0, body, sig, TS0 + 301)
    add("fed-004", "Future: 301 s ahead", ["FED-002", "C-28"], k3.pub, TS0, body, sig, TS0 - 301)
    add("fed-005", "Verified against another provider's key", ["FED-003"], k2.pub, TS0, body, sig, TS0 + 10)
    pyd = json.dumps(json.loads(body))
    add("fed-006", "Signed over Python json.dumps(body) (default separators) but the compact body was sent", ["FED-002", "C-28"], k3.pub, TS0, body, b64(k3.sign(f"{TS0}.{pyd}".encode())), TS0 + 10)
    add("fed-007", "Timestamp header changed after signing", ["FED-002"], k3.pub, TS0 + 1, body, sig, TS0 + 10)
    add("fed-008", "Unpadded base64 signature", ["FED-002", "C-56"], k3.pub, TS0, body, sig.rstrip("="), TS0 + 10)
    add("fed-009", "Exactly 300 s old", ["FED-002", "C-28"], k3.pub, TS0, body, sig, TS0 + 300)
    add("fed-010", "Signature over the body without the timestamp prefix", ["FED-002"], k3.pub, TS0, body, b64(k3.sign(body.encode())), TS0 + 10)
    core_only(cases, {"fed-009": "Exactly on the 300 s boundary: a live clock cannot be controlled to the second"})
    return vfile(
        "federation_signature",
        "federation_signature",
        "Provider request signature for /v1/federation/deliver: Ed25519 over \"<X-AMP-Timestamp>.<raw body bytes>\" (profile body-bytes of C-28), base64, freshness window 300 s.",
        "Computed with Python `cryptography` from fixed test seeds; freshness window chosen by this suite (06 defines none, C-28)",
        cases,
        {
            "lax-only": "Rejected by strict verification, accepted by lax verification; graded acceptable (C-56)",
            "test-key": "Public test key from a published seed: never use for anything but tests",
        },
        keys={k.name: k.record() for k in (k3,)},
    )


# --------------------------------------------------------------------------------------------
# replay
# --------------------------------------------------------------------------------------------

POLICY = {"max_age_secs": 300, "max_future_secs": 60, "dedup_window_secs": 86400}
NOW = "2026-01-01T12:00:00Z"


def gen_replay():
    cases = []

    def add(cid, desc, clauses, inp, decision, result=None, flags=None):
        r = result or ("valid" if decision == "accept" else "invalid")
        full = {"policy": POLICY, "id": "msg_1767268800_abc123", "now": NOW, "seen_before": False, **inp}
        exp = {"decision": decision} if decision else {}
        cases.append(case(cid, desc, clauses, full, r, exp, flags))

    add("rp-001", "Fresh message, 10 s old", ["REPLAY-002"], {"timestamp": "2026-01-01T11:59:50Z"}, "accept")
    add("rp-002", "Id seen before (within the 24 h dedup window)", ["REPLAY-001", "REPLAY-005"], {"timestamp": "2026-01-01T11:59:50Z", "seen_before": True}, "duplicate")
    add("rp-003", "301 s old: stale", ["REPLAY-002"], {"timestamp": "2026-01-01T11:54:59Z"}, "stale")
    add("rp-004", "Exactly 300 s old: accepted", ["REPLAY-002"], {"timestamp": "2026-01-01T11:55:00Z"}, "accept")
    add("rp-005", "Old timestamp but fresh queued_at (relay pickup)", ["REPLAY-002", "C-45"], {"timestamp": "2026-01-01T10:00:00Z", "queued_at": "2026-01-01T11:59:30Z"}, "accept")
    add("rp-006", "Relay message queued 2 h ago: stale under the queued_at reading, accepted when relay messages skip the check", ["REPLAY-002", "C-45"],
        {"timestamp": "2026-01-01T10:00:00Z", "queued_at": "2026-01-01T10:00:05Z"}, None, "acceptable", ["relay-replay"])
    add("rp-007", "61 s in the future", ["REPLAY-003"], {"timestamp": "2026-01-01T12:01:01Z"}, "future")
    add("rp-008", "Exactly 60 s in the future: accepted", ["REPLAY-003"], {"timestamp": "2026-01-01T12:01:00Z"}, "accept")
    add("rp-009", "expires_at 1 s in the past", ["MSG-005"], {"timestamp": "2026-01-01T11:59:50Z", "expires_at": "2026-01-01T11:59:59Z"}, "expired")
    add("rp-010", "expires_at in the future", ["MSG-005"], {"timestamp": "2026-01-01T11:59:50Z", "expires_at": "2026-01-02T00:00:00Z"}, "accept")
    add("rp-011", "Timestamp with a +02:00 offset denoting a fresh instant", ["REPLAY-002", "C-60"], {"timestamp": "2026-01-01T13:59:50+02:00"}, "accept")
    add("rp-012", "Fractional seconds", ["REPLAY-002", "C-60"], {"timestamp": "2026-01-01T11:59:59.250Z"}, "accept")
    add("rp-013", "Far-future timestamp (a year ahead)", ["REPLAY-003"], {"timestamp": "2027-01-01T12:00:00Z"}, "future")
    add("rp-014", "Fresh id with a stale timestamp a day old", ["REPLAY-002"], {"timestamp": "2025-12-31T12:00:00Z"}, "stale")
    core_only(cases, {
        "rp-004": "Exactly on the 300 s boundary: a live clock cannot be controlled to the second",
        "rp-008": "Exactly on the 60 s boundary: a live clock cannot be controlled to the second",
        "rp-005": "queued_at is set by the relay queue that held the message; a delivery to a provider cannot carry it",
        "rp-006": "queued_at is set by the relay queue that held the message; a delivery to a provider cannot carry it",
    })
    return vfile(
        "replay",
        "replay",
        "Recipient replay decision: duplicate ids (REPLAY-001), timestamps older than 300 s (REPLAY-002; queued_at for relay messages, C-45), more than 60 s in the future (REPLAY-003), expired expires_at (MSG-005).",
        "Derived from 07 Replay Protection with the policy given in each case; decisions computed by vectors/tools/generate.py",
        cases,
        {"relay-replay": "Depends on the relay replay profile (C-45): `queued_at` reading says stale, `skip` reading says accept; graded acceptable either way"},
    )


# --------------------------------------------------------------------------------------------
# attachments
# --------------------------------------------------------------------------------------------

DIGEST = "sha256:" + hashlib.sha256(b"amp-conformance attachment body").hexdigest()


def gen_attachment():
    base = {
        "id": "att_1767225600_9f8e7d6c",
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "size": 1024,
        "digest": DIGEST,
        "url": "https://files.crabmail.ai/att_1767225600_9f8e7d6c?sig=abc",
        "scan_status": "clean",
        "uploaded_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-08T00:00:00Z",
    }
    afp = {"storage": "afp", "filename": "data.csv", "content_type": "text/csv", "size": 2048, "digest": DIGEST, "ref": "afp://team-space/reports/q1/data.csv"}
    cases = []

    def add(cid, desc, clauses, storage, att, result, flags=None):
        exp = {}
        cases.append(case(cid, desc, clauses, {"storage": storage, "attachment": att}, result, exp, flags))

    def without(d, k):
        return {x: y for x, y in d.items() if x != k}

    add("att-001", "Valid provider attachment", ["ATT-004"], "provider", base, "valid")
    add("att-002", "md5: digest is rejected, not prefix-stripped", ["ATT-017"], "provider", {**base, "digest": "md5:" + hashlib.md5(b"x").hexdigest()}, "invalid")
    add("att-003", "sha1: digest is rejected", ["ATT-017"], "provider", {**base, "digest": "sha1:" + hashlib.sha1(b"x").hexdigest()}, "invalid")
    add("att-004", "Uppercase hex digest", ["ATT-004"], "provider", {**base, "digest": DIGEST.upper().replace("SHA256:", "sha256:")}, "invalid")
    add("att-005", "Short digest (the published hash-002 fixture's sha256:abc123)", ["ATT-004", "C-43"], "provider", {**base, "digest": "sha256:abc123"}, "invalid")
    add("att-006", "Digest without algorithm prefix", ["ATT-004", "ATT-017"], "provider", {**base, "digest": DIGEST[7:]}, "invalid")
    add("att-007", "Traversal filename", ["ATT-009"], "provider", {**base, "filename": "../../etc/passwd"}, "invalid")
    add("att-008", "Backslash in filename", ["ATT-009"], "provider", {**base, "filename": "..\\evil.exe"}, "invalid")
    add("att-009", "Control character in filename", ["ATT-009"], "provider", {**base, "filename": "bell\u0007.txt"}, "invalid")
    add("att-010", "NUL in filename", ["ATT-009"], "provider", {**base, "filename": "a\u0000.pdf"}, "invalid")
    add("att-011", "Filename of 255 characters", ["ATT-004"], "provider", {**base, "filename": "f" * 251 + ".pdf"}, "valid")
    add("att-012", "Filename of 256 characters", ["ATT-004"], "provider", {**base, "filename": "f" * 252 + ".pdf"}, "invalid")
    add("att-013", "Traversal in the attachment id", ["ATT-010"], "provider", {**base, "id": "att_1767225600_../../x"}, "invalid")
    add("att-014", "Attachment id with a non-hex suffix (schema-invalid, but 08 says ids are opaque)", ["ATT-004", "C-13"], "provider", {**base, "id": "att_1767225600_xyz"}, "acceptable", ["opaque-id"])
    add("att-015", "Negative size", ["ATT-004"], "provider", {**base, "size": -1}, "invalid")
    add("att-016", "Fractional size", ["ATT-004", "JSON-006"], "provider", {**base, "size": N("1.5")}, "invalid")
    add("att-017", "Missing url", ["ATT-004"], "provider", without(base, "url"), "invalid")
    add("att-018", "Missing digest", ["ATT-004"], "provider", without(base, "digest"), "invalid")
    add("att-019", "Percent-encoded separator in the filename", ["ATT-009"], "provider", {**base, "filename": "a%2Fb.pdf"}, "invalid")
    add("att-020", "Non-ASCII filename is not in the sanitised set", ["ATT-009"], "provider", {**base, "filename": "r\u00e9sum\u00e9.pdf"}, "acceptable", ["sanitise-or-reject"])
    add("att-021", "Unknown scan_status value", ["ATT-004", "C-33"], "provider", {**base, "scan_status": "safe"}, "invalid")
    add("afp-001", "Valid AFP attachment", ["AFP-001", "AFP-002"], "afp", afp, "valid")
    add("afp-002", "AFP ref with ..", ["AFP-002"], "afp", {**afp, "ref": "afp://team-space/reports/../secrets.csv"}, "invalid")
    add("afp-003", "AFP ref path with a leading slash", ["AFP-002"], "afp", {**afp, "ref": "afp://team-space//etc/passwd"}, "invalid")
    add("afp-004", "AFP ref path with //", ["AFP-002"], "afp", {**afp, "ref": "afp://team-space/reports//data.csv"}, "invalid")
    add("afp-005", "AFP space with uppercase letters", ["AFP-002"], "afp", {**afp, "ref": "afp://Team-Space/data.csv"}, "invalid")
    add("afp-006", "AFP space of 64 characters", ["AFP-002"], "afp", {**afp, "ref": "afp://" + "s" * 64 + "/data.csv"}, "invalid")
    add("afp-007", "AFP space of 63 characters", ["AFP-002"], "afp", {**afp, "ref": "afp://" + "s" * 63 + "/data.csv"}, "valid")
    add("afp-008", "AFP path with a space", ["AFP-002"], "afp", {**afp, "ref": "afp://team-space/my file.csv"}, "invalid")
    add("afp-009", "AFP with an md5 digest", ["AFP-001", "ATT-017"], "afp", {**afp, "digest": "md5:" + hashlib.md5(b"x").hexdigest()}, "invalid")
    add("afp-010", "AFP of 30 MB: provider size limits do not apply", ["AFP-004"], "afp", {**afp, "size": 31457280}, "valid")
    add("afp-011", "AFP ref with another scheme", ["AFP-002"], "afp", {**afp, "ref": "https://team-space/data.csv"}, "invalid")
    add("afp-012", "AFP missing ref", ["AFP-001"], "afp", without(afp, "ref"), "invalid")
    add("afp-013", "AFP space starting with a hyphen", ["AFP-002"], "afp", {**afp, "ref": "afp://-space/data.csv"}, "invalid")
    return vfile(
        "attachment",
        "attachment",
        "Attachment metadata validation: provider attachments (ATT-004/009/010/017) and AFP attachments (AFP-001/002).",
        "Derived from 04 Attachment Fields/Rules, message.schema.json afp_attachment and attachment.schema.json",
        cases,
        {
            "opaque-id": "Schema regex ^att_[0-9]+_[a-f0-9]+$ rejects it; 08 says ids are opaque; graded acceptable either way (C-13)",
            "sanitise-or-reject": "ATT-009 lets providers sanitise names to [a-zA-Z0-9._-] rather than reject; graded acceptable either way",
        },
        core_only="Provider-storage metadata (url, digest, size, scan_status, timestamps) is issued by the provider's own upload flow, so it cannot be sent as written; the afp cases could reach a provider that advertises attachments:afp, but no live trial routes them yet",
    )


# --------------------------------------------------------------------------------------------
# scan_status
# --------------------------------------------------------------------------------------------


def gen_scan_status():
    routable = {"pending": False, "clean": True, "basic_clean": True, "unscanned": False, "suspicious": True, "rejected": False}
    pub_valid = [
        ("scan-valid-001", "pending", "Not yet scanned"),
        ("scan-valid-002", "clean", "Scanned, nothing found"),
        ("scan-valid-003", "basic_clean", "Passed basic checks only"),
        ("scan-valid-004", "unscanned", "Not scanned (local filesystem delivery only)"),
        ("scan-valid-005", "suspicious", "Possible injection patterns"),
        ("scan-valid-006", "rejected", "Rejected as malicious"),
    ]
    cases = []
    for cid, v, d in pub_valid:
        cases.append(case(cid, f"{v}: {d}", ["ATT-008", "SCAN-002", "C-33"], {"value": v}, "valid", {"routable": routable[v]}, ["published"]))
    for cid, v in (("scan-invalid-001", "text_clean"), ("scan-invalid-002", "unknown"), ("scan-invalid-003", "safe")):
        cases.append(case(cid, f"{v} is not a scan_status value", ["ATT-008"], {"value": v}, "invalid", {}, ["published"]))
    cases.append(case("scan-invalid-010", "Values are case-sensitive", ["ATT-008"], {"value": "CLEAN"}, "invalid", {}))
    cases.append(case("scan-invalid-011", "Empty string", ["ATT-008"], {"value": ""}, "invalid", {}))
    cases.append(case("scan-invalid-012", "Surrounding whitespace is not trimmed", ["ATT-008"], {"value": " clean"}, "invalid", {}))
    return vfile(
        "scan_status",
        "scan_status",
        "scan_status values (04 Attachment Fields, the published set) and whether a provider may route them (ATT-008: clean, basic_clean, suspicious).",
        PUBLISHED + " (scan-valid-001..006, scan-invalid-001..003, original ids); routability from 04 Attachment Rules",
        cases,
        {"published": "Case taken from the spec's tests/test-vectors.json with its original id"},
        core_only="scan_status is set by the provider's scanner; a client cannot make a provider report a given value",
    )


# --------------------------------------------------------------------------------------------
# agent cards (02 Agent Card: CARD-001..004, C-17, C-18, C-19, C-55)
# --------------------------------------------------------------------------------------------

CARD_SEP = b"amp-agent-card-v1\n"


def iso(t: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def card_signing_input(card: dict) -> bytes:
    body = {k: v for k, v in card.items() if k != "signature"}
    return CARD_SEP + serialize(body, "jcs").encode("utf-8")


def card_base(k: Key, issued: int, expires: int, address="alice@acme.amp-mock.test") -> dict:
    return {
        "amp_agent_card": "1.0",
        "address": address,
        "public_key": k.pem,
        "key_algorithm": "Ed25519",
        "fingerprint": fingerprints(k.pub, k.der)["raw32-b64pad"],
        "issued_at": iso(issued),
        "expires_at": iso(expires),
    }


def card_signed(fields: dict, signer: Key) -> dict:
    return {**fields, "signature": b64(signer.sign(card_signing_input(fields)))}


def gen_agent_card():
    k1, k2 = KEYS[1], KEYS[2]
    now = TS0
    day = 86400
    cases = []

    def add(cid, desc, clauses, card, result, warnings=None, rule=None, step=None, flags=None):
        exp = {"signing_input": card_signing_input(card).decode("utf-8")}
        if result == "valid":
            exp["warnings"] = warnings or []
        else:
            exp["rule"] = rule
            exp["step"] = step
        cases.append(case(cid, desc, clauses, {"card": card, "now": now}, result, exp, ["test-key"] + (flags or [])))

    base = card_base(k1, now - 60, now + 90 * day)
    add("card-001", "Minimal card (required fields only) signed by its own key", ["CARD-001", "CARD-003", "CARD-004"], card_signed(base, k1), "valid")
    full = {**base, "id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "alias": "Backend Architect",
            "provider_endpoint": "https://api.amp-mock.test/v1", "capabilities": ["attachments", "threading", "priority"]}
    add("card-002", "Card with every optional field", ["CARD-001", "CARD-003", "CARD-004"], card_signed(full, k1), "valid")
    add("card-003", "Alias not in NFC (e + combining acute): RFC 8785 signs the code points as given", ["CARD-003", "C-18"],
        card_signed({**base, "alias": "Cafe\u0301 bot"}, k1), "valid", flags=["non-nfc"])
    add("card-004", "The NFC spelling of card-003's alias: different bytes, different signature", ["CARD-003", "C-18"],
        card_signed({**base, "alias": "Caf\u00e9 bot"}, k1), "valid")
    add("card-005", "Extension member with number 1.50 (JCS writes 1.5) and an astral alias", ["CARD-003"],
        card_signed({**base, "x_weight": RawNumber("1.50"), "alias": "bot \U0001F600"}, k1), "valid")
    add("card-010", "Card for key 1 signed with key 2 (a provider-signed card, C-17)", ["CARD-004", "C-17"],
        card_signed(base, k2), "invalid", rule="CARD-004", step="signature")
    t = card_signed(base, k1)
    add("card-011", "Alias added after signing", ["CARD-004"], {**t, "alias": "Mallory"}, "invalid", rule="CARD-004", step="signature")
    noseparator = {**base, "signature": b64(k1.sign(serialize(base, "jcs").encode()))}
    add("card-012", "Signature over the JCS bytes without the domain separator", ["CARD-003", "CARD-004"], noseparator, "invalid", rule="CARD-004", step="signature")
    pyjson = {**base, "signature": b64(k1.sign(CARD_SEP + json.dumps(base, sort_keys=True).encode()))}
    add("card-013", "Signature over Python json.dumps(sort_keys=True) with its default spaces, not JCS", ["CARD-003", "CARD-004"], pyjson, "invalid", rule="CARD-004", step="signature")
    unpadded = {**t, "signature": t["signature"].rstrip("=")}
    add("card-014", "Correct signature written without base64 padding (strict verification refuses it)", ["CARD-004", "C-56"], unpadded, "invalid", rule="CARD-004", step="signature")
    add("card-020", "Card expired an hour ago", ["CARD-004"], card_signed(card_base(k1, now - 2 * day, now - 3600), k1), "invalid", rule="CARD-004", step="expiry")
    add("card-021", "Card expiring exactly now is not in the future", ["CARD-004"], card_signed(card_base(k1, now - day, now), k1), "invalid", rule="CARD-004", step="expiry")
    wrongfp = {**base, "fingerprint": fingerprints(k2.pub, k2.der)["raw32-b64pad"]}
    add("card-030", "Fingerprint of another key", ["CARD-004", "C-19"], card_signed(wrongfp, k1), "invalid", rule="CARD-004", step="fingerprint")
    spkifp = {**base, "fingerprint": fingerprints(k1.pub, k1.der)["spki-der"]}
    add("card-031", "Own key's fingerprint in the spki-der reading: wrong under the default raw32-b64pad profile (C-19)", ["CARD-004", "C-19"],
        card_signed(spkifp, k1), "invalid", rule="CARD-004", step="fingerprint")
    nofp = {k: v for k, v in base.items() if k != "fingerprint"}
    add("card-040", "Card without fingerprint", ["CARD-001"], card_signed(nofp, k1), "invalid", rule="CARD-001", step="fields")
    add("card-041", "Card version 2.0", ["CARD-001"], card_signed({**base, "amp_agent_card": "2.0"}, k1), "invalid", rule="CARD-001", step="fields")
    # 2026-01-01 + 6 months = 2026-07-01: exactly the cap is fine, one second more warns.
    cap = 1782864000  # 2026-07-01T00:00:00Z
    assert iso(cap) == "2026-07-01T00:00:00Z"
    add("card-050", "Validity of exactly six calendar months", ["CARD-002"], card_signed(card_base(k1, now, cap), k1), "valid")
    add("card-051", "Validity one second over six months: valid, with a CARD-002 warning", ["CARD-002"], card_signed(card_base(k1, now, cap + 1), k1), "valid", warnings=["CARD-002"])
    add("card-052", "issued_at an hour in the future: valid (only expiry is checked), warned under C-55", ["CARD-004", "C-55"],
        card_signed(card_base(k1, now + 3600, now + 30 * day), k1), "valid", warnings=["C-55"])
    return vfile(
        "agent_card",
        "agent_card",
        "Agent Card signatures and verification (02): Ed25519 over \"amp-agent-card-v1\\n\" + RFC 8785 JCS of the card without `signature`; expiry, fingerprint (raw32-b64pad profile), warnings for CARD-002 and C-55.",
        "Computed with Python `cryptography` Ed25519 and this generator's JCS from fixed test seeds",
        cases,
        {"test-key": "Public test key from a published seed: never use for anything but tests",
         "non-nfc": "Contains text not in Unicode NFC; a verifier that normalises before JCS rejects it (C-18)"},
        keys={k.name: k.record() for k in (k1, k2)},
        core_only="A provider only stores a card signed by the uploading agent's own key for its own address (CARD-004); these cards are signed by test keys for fixed example addresses, so no provider can be shown them as they are",
    )


# --------------------------------------------------------------------------------------------
# routing decisions
# --------------------------------------------------------------------------------------------

ROUTE_PROVIDER = "crabmail.ai"
ROUTE_SENDER = "alice@acme.crabmail.ai"
ROUTE_AGENTS = [
    "alice@acme.crabmail.ai",
    "bob@acme.crabmail.ai",
    "bob@beta.crabmail.ai",
    "carol@beta.crabmail.ai",
    "dev@github.acme.crabmail.ai",
]
MESH_PROVIDER = "aimaestro.local"
MESH_SENDER = "claude@macbook.aimaestro.local"
MESH_AGENTS = ["claude@macbook.aimaestro.local", "agent-b@macbook.aimaestro.local"]


def route_expect(provider, sender, agents, to, host=None):
    """(result, expected): the routing rules of vectors/README.md, computed from the ABNF."""
    bad = ("invalid", {"decision": "refuse", "status": 400, "code": "invalid_field"})
    if not to or not to.isascii():
        return bad
    own = provider.lower()
    if "@" not in to:
        if not _name_ok(to):
            return bad
        full = f"{to}@{sender.split('@')[1][: -len(own) - 1]}.{own}"
    else:
        name, _, dom = to.partition("@")
        if "@" in dom or not _name_ok(name):
            return bad
        labels = dom.split(".")
        if not all(_label_ok(x) for x in labels):
            return bad
        if len(labels) == 1:
            full = f"{name}@{dom}.{own}"
        elif len(labels) == 2:
            return bad
        else:
            full = to
    full = full.lower()
    if len(full) > 254:
        return bad
    name, dom = full.split("@")
    if dom.endswith("." + own):
        tenant = dom[: -len(own) - 1]
        if host is not None and tenant.split(".")[0] != host:
            return "valid", {"decision": "mesh", "address": full, "host": tenant.split(".")[0]}
        if full in agents:
            return "valid", {"decision": "local", "address": full}
        return "invalid", {"decision": "refuse", "status": 404, "code": "not_found"}
    labels = dom.split(".")
    if labels[-1] in LOCAL_TLDS:
        return "valid", {"decision": "mesh", "address": full, "host": labels[0]}
    return "valid", {"decision": "federate", "address": full, "provider": ".".join(labels[-2:])}


def gen_routing():
    cases = []

    def add(cid, desc, clauses, to, flags=None, mesh=False):
        provider, sender, agents = (MESH_PROVIDER, MESH_SENDER, MESH_AGENTS) if mesh else (ROUTE_PROVIDER, ROUTE_SENDER, ROUTE_AGENTS)
        host = "macbook" if mesh else None
        res, exp = route_expect(provider, sender, agents, to, host)
        inp = {"provider": provider}
        if host:
            inp["host"] = host
        inp.update({"sender": sender, "agents": agents, "to": to})
        why = "The deciding provider is a mesh host (06a); a live target is judged as the public provider it is" if mesh else None
        cases.append(case(cid, desc, clauses, inp, res, exp, flags, core_only=why))

    # local delivery
    add("route-001", "Full address in the sender's tenant", ["RTE-023", "ADDR-001"], "bob@acme.crabmail.ai")
    add("route-002", "Full address in another tenant of the same provider", ["RTE-023", "ADDR-001"], "bob@beta.crabmail.ai")
    add("route-003", "Short name expands into the sender's tenant although another tenant has the same name", ["ADDR-009", "ADDR-008", "C-10"], "bob", ["short-form"])
    add("route-004", "Short name@tenant expands into the named tenant, not the sender's", ["ADDR-009", "ADDR-008", "C-10"], "bob@beta", ["short-form"])
    add("route-005", "Short name@tenant naming the sender's own tenant", ["ADDR-009", "ADDR-008", "C-10"], "bob@acme", ["short-form"])
    add("route-006", "Sender addressing itself by short name", ["ADDR-009", "ADDR-008", "C-10"], "alice", ["short-form"])
    add("route-007", "Mixed-case full address is the same address", ["ADDR-005", "C-09"], "Bob@ACME.CrabMail.AI", ["mixed-case"])
    add("route-008", "Upper-case short name expands like the lower-case one", ["ADDR-005", "ADDR-009", "C-10"], "BOB", ["mixed-case", "short-form"])
    add("route-009", "Mixed-case short name@tenant", ["ADDR-005", "ADDR-009", "C-10"], "Bob@Beta", ["mixed-case", "short-form"])
    add("route-010", "Scoped address (scope github inside tenant acme) is delivered locally", ["RTE-023", "ADDR-001", "ADDR-003"], "dev@github.acme.crabmail.ai")
    add("route-011", "Mixed-case scoped address", ["ADDR-005", "ADDR-003", "C-09"], "Dev@GitHub.Acme.crabmail.ai", ["mixed-case"])
    # not found
    add("route-020", "Short name that exists only in another tenant: no fallback across tenants", ["ADDR-009", "AGT-003", "C-37"], "carol", ["short-form"])
    add("route-021", "Unregistered name in the sender's tenant", ["AGT-003", "C-37"], "zed@acme.crabmail.ai")
    add("route-022", "Registered name in a tenant where it is not registered", ["AGT-003", "C-37"], "bob@gamma.crabmail.ai")
    add("route-023", "A scope is part of the address: bob@github.acme is not bob@acme", ["ADDR-003", "AGT-003", "C-37"], "bob@github.acme.crabmail.ai")
    # malformed
    add("route-030", "Two-label domain equal to the provider's own: no scope, not an address", ["ADDR-001"], "bob@crabmail.ai", ["two-label"])
    add("route-031", "Two-label foreign domain: not an address", ["ADDR-001"], "bob@corp.io", ["two-label"])
    add("route-032", "Short form with a scope (two labels) is neither short nor full", ["ADDR-008", "ADDR-001"], "dev@github.acme", ["two-label"])
    add("route-033", "Trailing dot (DNS root) is an empty label, not the same address", ["ADDR-001", "ADDR-003"], "bob@acme.crabmail.ai.")
    add("route-034", "Leading space is not trimmed", ["ADDR-001"], " bob@acme.crabmail.ai")
    add("route-035", "Trailing space after a short name is not trimmed", ["ADDR-002", "ADDR-008"], "bob ")
    add("route-036", "Empty `to`", ["ADDR-001"], "")
    add("route-037", "Two @ signs", ["ADDR-001"], "bob@beta@acme.crabmail.ai")
    add("route-038", "Underscore in a scope segment", ["ADDR-003"], "bob@my_team.crabmail.ai")
    add("route-039", "Short name of 64 characters", ["ADDR-002"], "b" * 64)
    add("route-040", "Non-ASCII name", ["ADDR-001", "ADDR-002"], "b\u00f8b@acme.crabmail.ai")
    add("route-041", "Empty label between dots", ["ADDR-001", "ADDR-003"], "bob@acme..crabmail.ai")
    # other providers
    add("route-050", "Another provider's address is federated (provider = last two labels, C-15)", ["RTE-023", "C-15"], "bob@team.agents.corp.io")
    add("route-051", "Own domain followed by more labels is another provider, not a local address", ["RTE-023"], "bob@acme.crabmail.ai.evil.example", ["lookalike"])
    add("route-052", "A domain merely ending in the provider's name is another provider", ["RTE-023"], "bob@acme.notcrabmail.ai", ["lookalike"])
    add("route-053", "The provider's name as a scope of another domain is another provider", ["RTE-023"], "bob@crabmail.ai.example", ["lookalike"])
    add("route-054", "Mixed-case foreign address is federated, lower-cased", ["RTE-023", "ADDR-005"], "Bob@Team.Agents.Corp.IO", ["mixed-case"])
    add("route-055", "'local' as an inner label is not a local network", ["RTE-023", "MESH-002"], "bob@local.acme.io")
    # local networks (a public provider)
    add("route-060", ".local address goes to the mesh, never to federation", ["RTE-023", "MESH-001", "MESH-002"], "agent@macbook.aimaestro.local", ["local-network"])
    add("route-061", ".internal is a local-network domain too", ["MESH-002", "C-66"], "agent@ci.corp.internal", ["local-network"])
    add("route-062", ".localhost is a local-network domain too", ["MESH-002", "C-66"], "agent@dev.box.localhost", ["local-network"])
    add("route-063", "Upper-case .LOCAL is still local", ["MESH-002", "ADDR-005"], "Agent@MacBook.AIMaestro.LOCAL", ["local-network", "mixed-case"])
    # a mesh host (06a)
    add("route-070", "On a mesh host a short name expands to the own host", ["MESH-011", "C-10"], "agent-b", ["short-form", "mesh-host"], mesh=True)
    add("route-071", "On a mesh host name@host expands to that host and is forwarded", ["MESH-011", "MESH-003"], "agent-b@server-01", ["short-form", "mesh-host"], mesh=True)
    add("route-072", "Full address on another host of the mesh is forwarded there", ["MESH-003"], "agent-b@server-01.aimaestro.local", ["mesh-host"], mesh=True)
    add("route-073", "Full address on the own host is delivered locally", ["MESH-003"], "agent-b@macbook.aimaestro.local", ["mesh-host"], mesh=True)
    add("route-074", "Another local network's address stays in the mesh", ["MESH-002", "MESH-003"], "agent@h1.other.local", ["mesh-host", "local-network"], mesh=True)
    return vfile(
        "routing",
        "routing",
        "The routing decision of a provider for a route request's `to`: deliver locally, forward in the local mesh, federate to another provider, or refuse (400 for a malformed address, 404 for an unregistered local one).",
        "Derived from 02 Address Grammar / Short Addresses, 05 Routing Algorithm, 06 Cross-Provider Message Flow and 06a Routing Algorithm / Reserved Domains / Short Address Expansion; decisions computed by vectors/tools/generate.py",
        cases,
        {
            "short-form": "`to` is a short address expanded inside the provider (ADDR-009); a signature over the short form is C-10's concern, not this file's",
            "mixed-case": "Addresses are case-insensitive (ADDR-005); the decision uses the lower-cased address",
            "two-label": "A domain of two labels has no scope: neither a full address nor a short form",
            "lookalike": "The provider's own domain appears inside a foreign domain; only an exact provider match is local",
            "local-network": "Local-network top-level domain (MESH-002): never federated",
            "mesh-host": "The deciding provider is a mesh host `macbook` of aimaestro.local (06a)",
        },
    )


GENERATORS = [gen_address, gen_msgid, gen_payload_hash, gen_canonical, gen_signature, gen_fingerprint, gen_webhook, gen_federation, gen_replay, gen_attachment, gen_scan_status, gen_agent_card, gen_routing]


def self_checks():
    # Known answers from an earlier independent computation (catalogue §1.15).
    h = {"type": "notification", "message": "Hello"}
    assert payload_hash(h, "sorted") == "4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg="
    assert payload_hash(h, "insertion") == "E3WayERAfyKwcLJ1rYGFnZm4exOtah7E/bzzkFlJXlM="
    u = {"type": "notification", "message": "h\u00e9llo \u2713"}
    assert payload_hash(u, "sorted") == payload_hash(u, "jcs") == "Bex1ghWZs8wjs+NB7co+MhSxWnZ7ilWgqu3xvXSyJBY="
    assert payload_hash(u, "python-ascii") == "c+VSDJiLkIPBPehGiTk/DBoDQ6E0Ahc0sX9iAn4rf2U="
    o8 = _decode(bytes.fromhex(ORDER8_HEX))
    assert o8 is not None and _is_identity(_mul(8, o8)) and not _is_identity(_mul(4, o8))
    # Pure-Python verify agrees with `cryptography` on a fresh signature.
    k = KEYS[1]
    m = b"self-check"
    assert ed_verify(k.pub, m, b64(k.sign(m)), "strict")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if any file would change")
    ap.add_argument("--out", type=Path, default=VECTORS_DIR)
    args = ap.parse_args()
    self_checks()
    changed = []
    total = 0
    for g in GENERATORS:
        f = g()
        total += len(f["cases"])
        text = dumps_pretty(f) + "\n"
        path = args.out / f"{f['topic']}.json"
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            changed.append(path.name)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    print(f"generate: {len(GENERATORS)} files, {total} cases" + (f", changed: {', '.join(changed)}" if changed else ", no changes"))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
