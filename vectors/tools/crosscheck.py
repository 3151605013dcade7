#!/usr/bin/env python3
"""Independently re-derive every expected output of every vector case.

    python3 vectors/tools/crosscheck.py [FILE ...] [--openssl] [--quiet]

Default FILEs: every vectors/*.json (testdata/ is not part of the corpus). Exits 1 naming each
case whose recorded result/expectation disagrees with this script's own computation, and always
ends with the line `crosscheck: N passed, N failed`.

This file shares no protocol code with generate.py on purpose (only the raw-number JSON loader):
- python-ascii is Python's own json.dumps(sort_keys=True, separators=(',', ':')) over values
  rebuilt from the number text (int for integer literals, float otherwise);
- jcs is the `rfc8785` package when installed (pip install rfc8785), else the fallback below;
- sorted/insertion use json.dumps(ensure_ascii=False) with numbers patched in afterwards;
- Ed25519 is `cryptography` (OpenSSL: cofactorless, accepts small-order keys, rejects S >= L),
  with strict extras (canonical base64, small-order A/R, canonical A) checked on an
  affine-coordinate curve implementation written separately from generate.py's.
- With --openssl, valid/invalid verdicts of 64-byte signatures are also checked with
  `openssl pkeyutl -verify -rawin`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ampvec_common import RawNumber, loads_raw  # noqa: E402

try:
    import rfc8785  # type: ignore
except ImportError:  # pragma: no cover - optional second implementation
    rfc8785 = None

VECTORS_DIR = Path(__file__).resolve().parent.parent
PROFILES = ("sorted", "jcs", "insertion", "python-ascii")
KINDS = {
    "address", "message_id", "payload_hash", "canonical_string", "signature", "fingerprint",
    "webhook_hmac", "federation_signature", "replay", "attachment", "scan_status", "agent_card",
    "routing",
}
RESULTS = {"valid", "invalid", "acceptable"}


class Mismatch(Exception):
    pass


# ------------------------------------------------------------------------------------------
# Value model: RawNumber -> Python numbers per reading
# ------------------------------------------------------------------------------------------

def is_int_text(t: str) -> bool:
    return re.fullmatch(r"-?(?:0|[1-9]\d*)", t) is not None


def to_python(v: Any) -> Any:
    """Python's json.loads reading: int for integer literals, float otherwise."""
    if isinstance(v, RawNumber):
        return int(v.text) if is_int_text(v.text) else float(v.text)
    if isinstance(v, list):
        return [to_python(x) for x in v]
    if isinstance(v, dict):
        return {k: to_python(x) for k, x in v.items()}
    return v


def ecma_number(x: float) -> str:
    """Number::toString via Decimal digits (a second, independent layout implementation)."""
    if x == 0:
        return "0"
    neg = x < 0
    d = Decimal(repr(abs(x))).normalize()
    _, digs, exp = d.as_tuple()
    ds = "".join(map(str, digs))
    k, n = len(ds), len(ds) + exp
    if k <= n <= 21:
        s = ds + "0" * (n - k)
    elif 0 < n <= 21:
        s = ds[:n] + "." + ds[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + ds
    else:
        s = ds[0] + ("." + ds[1:] if k > 1 else "") + "e" + format(n - 1, "+d")
    return ("-" if neg else "") + s


def number_text(t: str, profile: str) -> str:
    # sorted, jcs and insertion all read numbers as IEEE doubles (JavaScript semantics).
    return ecma_number(float(t))


def utf16_units(s: str) -> list[int]:
    """Code units as JavaScript sees them (astral characters become surrogate pairs)."""
    out = []
    for ch in s:
        cp = ord(ch)
        if cp >= 0x10000:
            cp -= 0x10000
            out += [0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)]
        else:
            out.append(cp)
    return out


def dumps_js(v: Any, profile: str) -> str:
    """sorted/insertion/jcs-fallback: json.dumps(ensure_ascii=False) with numbers patched in."""
    nonce = secrets.token_hex(8)
    nums: list[str] = []

    def prep(x):
        if isinstance(x, RawNumber):
            nums.append(number_text(x.text, profile))
            return f"@{nonce}#{len(nums) - 1}@"
        if isinstance(x, list):
            return [prep(y) for y in x]
        if isinstance(x, dict):
            keys = list(x)
            if profile != "insertion":
                keys = sorted(keys, key=utf16_units)
            return {k: prep(x[k]) for k in keys}
        return x

    out = json.dumps(prep(v), ensure_ascii=False, separators=(",", ":"))
    return re.sub(f'"@{nonce}#(\\d+)@"', lambda m: nums[int(m.group(1))], out)


def jcs(v: Any) -> str:
    if rfc8785 is not None:
        def to_jcs_value(x):
            if isinstance(x, RawNumber):
                f = float(x.text)
                if is_int_text(x.text) and abs(int(x.text)) < 2**53:
                    return int(x.text)
                return f
            if isinstance(x, list):
                return [to_jcs_value(y) for y in x]
            if isinstance(x, dict):
                return {k: to_jcs_value(y) for k, y in x.items()}
            return x

        return rfc8785.dumps(to_jcs_value(v)).decode("utf-8")
    return dumps_js(v, "jcs")


def serialise(v: Any, profile: str) -> str:
    if profile == "python-ascii":
        return json.dumps(to_python(v), sort_keys=True, separators=(",", ":"))
    if profile == "jcs":
        a = jcs(v)
        b = dumps_js(v, "jcs")
        if a != b:
            raise Mismatch(f"internal: rfc8785 and fallback JCS disagree: {a!r} vs {b!r}")
        return a
    return dumps_js(v, profile)


def phash(v: Any, profile: str) -> str:
    return base64.b64encode(hashlib.sha256(serialise(v, profile).encode("utf-8")).digest()).decode()


# ------------------------------------------------------------------------------------------
# Ed25519 (strict extras on an affine curve; the equation itself via `cryptography`)
# ------------------------------------------------------------------------------------------

Q = 2**255 - 19
ELL = 2**252 + 27742317777372353535851937790883648493
DD = (-121665 * pow(121666, -1, Q)) % Q


def inv(a):
    return pow(a, Q - 2, Q)


def aff_add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = DD * x1 * x2 * y1 * y2 % Q
    return ((x1 * y2 + x2 * y1) * inv(1 + t) % Q, (y1 * y2 + x1 * x2) * inv(1 - t) % Q)


def aff_decompress(b: bytes):
    n = int.from_bytes(b, "little")
    y, s = n & ((1 << 255) - 1), n >> 255
    if y >= Q:
        return None, False
    u, w = (y * y - 1) % Q, (DD * y * y + 1) % Q
    x = u * pow(w, 3, Q) * pow(u * pow(w, 7, Q), (Q - 5) // 8, Q) % Q
    if (w * x * x - u) % Q:
        x = x * pow(2, (Q - 1) // 4, Q) % Q
    if (w * x * x - u) % Q:
        return None, False
    if x == 0 and s:
        return None, False
    if x % 2 != s:
        x = Q - x
    return (x, y), True


def small_order(pt) -> bool:
    p = pt
    for _ in range(3):
        p = aff_add(p, p)
    return p == (0, 1)


def b64_strict(text: str):
    if not re.fullmatch(r"[A-Za-z0-9+/]{86}==", text):
        return None
    raw = base64.b64decode(text)
    return raw if base64.b64encode(raw).decode() == text else None


def b64_lax(text: str):
    t = re.sub(r"[ \t\n\r\f\v]", "", text)
    m = re.fullmatch(r"([A-Za-z0-9+/\-_]*)(={0,2})", t)
    if not m:
        return None
    body = m.group(1).translate(str.maketrans("-_", "+/"))
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4))
    except binascii.Error:
        return None


def ossl_verify(pub: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def verify(pub: bytes, msg: bytes, sig_text: str, mode: str) -> bool:
    sig = b64_strict(sig_text) if mode == "strict" else b64_lax(sig_text)
    if sig is None or len(sig) != 64 or len(pub) != 32:
        return False
    if mode == "strict":
        a, ok = aff_decompress(pub)
        if not ok or small_order(a):
            return False
        r, ok = aff_decompress(sig[:32])
        if not ok or small_order(r):
            return False
    s = int.from_bytes(sig[32:], "little")
    if mode == "lax" and ELL <= s < 2**253:
        # OpenSSL refuses S >= L outright; the lax (ref10-style) reading checks the equation
        # with the unreduced S, which is the same point as S mod L.
        return lax_equation(pub, msg, sig)
    return ossl_verify(pub, msg, sig)


def aff_mul(k: int, pt):
    acc = (0, 1)
    while k:
        if k & 1:
            acc = aff_add(acc, pt)
        pt = aff_add(pt, pt)
        k >>= 1
    return acc


def aff_compress(pt) -> bytes:
    x, y = pt
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


BASE_Y = 4 * pow(5, -1, Q) % Q


def lax_equation(pub: bytes, msg: bytes, sig: bytes) -> bool:
    a, ok = aff_decompress(pub)
    base, _ = aff_decompress(BASE_Y.to_bytes(32, "little"))
    if not ok:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % ELL
    s = int.from_bytes(sig[32:], "little")
    neg_ka = aff_mul(k, ((-a[0]) % Q, a[1]))
    return aff_compress(aff_add(aff_mul(s, base), neg_ka)) == sig[:32]


def verdict(pub, msg, text):
    return {m: "valid" if verify(pub, msg, text, m) else "invalid" for m in ("strict", "lax")}


def combine(strict: str, lax: str) -> str:
    if strict == lax:
        return strict
    if strict == "invalid":
        return "acceptable"
    raise Mismatch("strict accepts what lax rejects")


# ------------------------------------------------------------------------------------------
# Per-kind derivations: each returns (result, expected-dict)
# ------------------------------------------------------------------------------------------

NAME = re.compile(r"[A-Za-z0-9_-]{1,63}")
LABEL = re.compile(r"[A-Za-z0-9-]{1,63}")


def d_address(inp, _p):
    s, mode = inp["address"], inp.get("parse", "full")
    if mode == "any" and "@" not in s:
        return ("valid", {"form": "short", "name": s.lower(), "tenant": None, "provider": None, "is_local": None}) if NAME.fullmatch(s) else ("invalid", {"rule": "ADDR-002"})
    parts = s.split("@")
    if len(parts) != 2:
        return "invalid", {"rule": "ADDR-001"}
    if len(s) > 254:
        return "invalid", {"rule": "ADDR-004"}
    name, dom = parts
    if not NAME.fullmatch(name):
        return "invalid", {"rule": "ADDR-002"}
    labels = dom.split(".")
    if mode == "any" and len(labels) == 1 and LABEL.fullmatch(dom):
        return "valid", {"form": "short", "name": name.lower(), "tenant": dom.lower(), "provider": None, "is_local": None}
    if len(labels) < 3:
        return "invalid", {"rule": "ADDR-001"}
    bad = [i for i, lab in enumerate(labels) if not LABEL.fullmatch(lab)]
    if bad:
        return "invalid", {"rule": "ADDR-003" if bad[0] < len(labels) - 2 else "ADDR-001"}
    dom_l = dom.lower()
    n_prov = 2
    for k in sorted((inp.get("split") or {}).get("known", []), key=len, reverse=True):
        if dom_l.endswith("." + k):
            n_prov = k.count(".") + 1
            break
    low = dom_l.split(".")
    tld = low[-1] if low[-1] in ("local", "internal", "localhost") else None
    return "valid", {
        "form": "full", "address": f"{name.lower()}@{dom_l}", "name": name.lower(),
        "tenant": ".".join(low[:-n_prov]), "provider": ".".join(low[-n_prov:]),
        "is_local": tld is not None, "local_tld": tld,
    }


def d_message_id(inp, _p):
    s = inp["id"]
    sch = "valid" if re.fullmatch(r"msg_[0-9]+_[a-zA-Z0-9]+", s, re.ASCII) else "invalid"
    st = "valid" if re.fullmatch(r"msg_[0-9]+_[a-f0-9]+", s, re.ASCII) else "invalid"
    return combine(st, sch), {"schema": sch, "strict": st}


def d_payload_hash(inp, p):
    if "serialized" in inp:
        t = inp["serialized"].rstrip(" \t\r\n")
        return "valid", {"hash": base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}
    return "valid", {"canonical": serialise(inp["payload"], p), "hash": phash(inp["payload"], p)}


def canon(f, p):
    pr = f.get("priority") or "normal"
    if pr not in ("low", "normal", "high", "urgent"):
        return None
    h = f["payload_hash"] if "payload_hash" in f else phash(f["payload"], p)
    return f"{f['from']}|{f['to']}|{f['subject']}|{pr}|{f.get('in_reply_to') or ''}|{h}"


def d_canonical_string(inp, p):
    c = canon(inp, p)
    return ("invalid", {}) if c is None else ("valid", {"canonical": c})


def d_signature(inp, p):
    if "signed_fields" in inp:
        # Tampering cases name the fields the signature was really made over (sorted profile).
        signed = canon(inp["signed_fields"], "sorted")
        if signed is None or not verify(bytes.fromhex(inp["public_key"]), signed.encode(), inp["signature"], "strict"):
            raise Mismatch("signature does not verify over input.signed_fields")
    c = canon(inp["fields"], p)
    if c is None:
        return "invalid", {"strict": "invalid", "lax": "invalid"}
    v = verdict(bytes.fromhex(inp["public_key"]), c.encode(), inp["signature"])
    return combine(v["strict"], v["lax"]), {**v, "canonical": c}


def d_fingerprint(inp, _p):
    try:
        if "public_key_pem" in inp:
            k = serialization.load_pem_public_key(inp["public_key_pem"].encode())
            if not isinstance(k, Ed25519PublicKey):
                return "invalid", {}
            raw = k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            h = inp["public_key"]
            if not re.fullmatch(r"[0-9a-fA-F]{64}", h):
                return "invalid", {}
            raw = bytes.fromhex(h)
    except ValueError:
        return "invalid", {}
    der = bytes.fromhex("302a300506032b6570032100") + raw
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
    d1 = base64.b64encode(hashlib.sha256(raw).digest()).decode()
    return "valid", {
        "raw32-b64pad": "SHA256:" + d1,
        "raw32-b64nopad": "SHA256:" + d1.rstrip("="),
        "spki-der": "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode(),
        "public_key_hex": raw.hex(),
        "public_key_pem": pem,
    }


def d_webhook_hmac(inp, _p):
    ts, now, win = inp["timestamp"].text, inp["now"].text, inp["window_secs"].text
    mac = hmac.new(inp["secret"].encode("utf-8"), f"{ts}.{inp['body']}".encode("utf-8"), hashlib.sha256).hexdigest()
    exp = {"signature": f"sha256={mac}"}
    hdr = inp["signature"]
    if abs(int(now) - int(ts)) > int(win) or not hdr.startswith("sha256="):
        return "invalid", exp
    got = hdr[len("sha256="):]
    if hmac.compare_digest(got, mac):
        return "valid", exp
    if got != got.lower() and hmac.compare_digest(got.lower(), mac):
        return "acceptable", exp
    return "invalid", exp


def d_federation_signature(inp, _p):
    ts, now, win = int(inp["timestamp"].text), int(inp["now"].text), int(inp["window_secs"].text)
    msg = f"{ts}.{inp['body']}"
    v = verdict(bytes.fromhex(inp["public_key"]), msg.encode(), inp["signature"])
    if abs(now - ts) > win:
        v = {"strict": "invalid", "lax": "invalid"}
    return combine(v["strict"], v["lax"]), {**v, "signing_string": msg}


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def d_replay(inp, _p):
    pol = {k: int(v.text) for k, v in inp["policy"].items()}
    now = ts(inp["now"])

    def decide(relay_mode):
        hits = []
        if inp.get("expires_at") and ts(inp["expires_at"]) < now:
            hits.append("expired")
        t = ts(inp["timestamp"])
        if t - now > pol["max_future_secs"]:
            hits.append("future")
        ref = t
        if inp.get("queued_at"):
            ref = None if relay_mode == "skip" else ts(inp["queued_at"])
        if ref is not None and now - ref > pol["max_age_secs"]:
            hits.append("stale")
        if inp.get("seen_before"):
            hits.append("duplicate")
        if len(hits) > 1:
            raise Mismatch(f"ambiguous replay case, several reasons apply: {hits}")
        return hits[0] if hits else "accept"

    a, b = decide("queued_at"), decide("skip")
    if a != b:
        return "acceptable", {}
    return ("valid" if a == "accept" else "invalid"), {"decision": a}


SCAN = {"pending", "clean", "basic_clean", "unscanned", "suspicious", "rejected"}


def filename_verdict(fn) -> str:
    if not isinstance(fn, str) or not 1 <= len(fn) <= 255:
        return "invalid"
    if any(c in "/\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in fn) or re.search(r"%(2f|5c|00)", fn, re.I):
        return "invalid"
    return "valid" if re.fullmatch(r"[A-Za-z0-9._-]+", fn) else "acceptable"


def digest_ok(d) -> bool:
    return isinstance(d, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", d) is not None


def size_ok(s) -> bool:
    return isinstance(s, RawNumber) and is_int_text(s.text) and int(s.text) >= 0


def d_attachment(inp, _p):
    a = inp["attachment"]
    verdicts = []
    if inp["storage"] == "afp":
        need = ("storage", "filename", "content_type", "size", "digest", "ref")
        if any(k not in a for k in need) or a.get("storage") != "afp":
            return "invalid", {}
        m = re.fullmatch(r"afp://([a-z0-9][a-z0-9-]{0,62})/(.*)", a["ref"]) if isinstance(a["ref"], str) else None
        path_ok = bool(m) and re.fullmatch(r"[A-Za-z0-9._/-]{1,512}", m.group(2)) is not None and ".." not in m.group(2) \
            and not m.group(2).startswith("/") and "//" not in m.group(2)
        verdicts += ["valid" if path_ok else "invalid"]
    else:
        need = ("id", "filename", "content_type", "size", "digest", "url", "scan_status", "uploaded_at", "expires_at")
        if any(k not in a for k in need):
            return "invalid", {}
        i = a["id"]
        if not isinstance(i, str) or any(x in i for x in ("/", "\\", "..", "\0")):
            verdicts.append("invalid")
        else:
            verdicts.append("valid" if re.fullmatch(r"att_[0-9]+_[a-f0-9]+", i) else "acceptable")
        verdicts.append("valid" if a["scan_status"] in SCAN else "invalid")
        verdicts.append("valid" if isinstance(a["url"], str) and a["url"] else "invalid")
    verdicts.append(filename_verdict(a["filename"]))
    verdicts.append("valid" if digest_ok(a["digest"]) else "invalid")
    verdicts.append("valid" if size_ok(a["size"]) else "invalid")
    for r in ("invalid", "acceptable"):
        if r in verdicts:
            return r, {}
    return "valid", {}


def d_scan_status(inp, _p):
    v = inp["value"]
    if v not in SCAN:
        return "invalid", {}
    return "valid", {"routable": v in {"clean", "basic_clean", "suspicious"}}


def card_add_months(t: int, months: int) -> int:
    """Calendar months with the day clamped to the month's length (CARD-002's six months)."""
    import calendar
    from datetime import timezone

    d = datetime.fromtimestamp(t, timezone.utc)
    m0 = d.year * 12 + (d.month - 1) + months
    y, m = divmod(m0, 12)
    day = min(d.day, calendar.monthrange(y, m + 1)[1])
    return int(d.replace(year=y, month=m + 1, day=day).timestamp())


def d_agent_card(inp, _p):
    """02 Agent Card, re-derived: JCS via rfc8785 (when installed) else this file's JCS, the
    separator, Ed25519 through `cryptography`, then expiry and the raw32-b64pad fingerprint."""
    card = inp["card"]
    now = int(inp["now"].text)
    body = {k: v for k, v in card.items() if k != "signature"}
    signing = "amp-agent-card-v1\n" + serialise(body, "jcs")
    exp = {"signing_input": signing}

    def bad(rule, step):
        return "invalid", {**exp, "rule": rule, "step": step}

    required = ("amp_agent_card", "address", "public_key", "key_algorithm", "fingerprint", "issued_at", "expires_at", "signature")
    if any(not isinstance(card.get(f), str) for f in required) or card["amp_agent_card"] != "1.0":
        return bad("CARD-001", "fields")
    try:
        issued, expires = int(ts(card["issued_at"])), int(ts(card["expires_at"]))
    except ValueError:
        return bad("CARD-001", "fields")
    if card["key_algorithm"].lower() != "ed25519":
        return bad("CARD-004", "fields")
    try:
        k = serialization.load_pem_public_key(card["public_key"].encode())
    except ValueError:
        return bad("CARD-004", "fields")
    if not isinstance(k, Ed25519PublicKey):
        return bad("CARD-004", "fields")
    raw = k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if not verify(raw, signing.encode("utf-8"), card["signature"], "strict"):
        return bad("CARD-004", "signature")
    if expires <= now:
        return bad("CARD-004", "expiry")
    if card["fingerprint"] != "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode():
        return bad("CARD-004", "fingerprint")
    warnings = []
    if expires <= issued:
        warnings.append("C-55")
    elif expires > card_add_months(issued, 6):
        warnings.append("CARD-002")
    if issued > now:
        warnings.append("C-55")
    return "valid", {**exp, "warnings": warnings}



ADDRESS_RE = re.compile(r"([A-Za-z0-9_-]{1,63})@((?:[A-Za-z0-9-]{1,63}\.){2,}[A-Za-z0-9-]{1,63})", re.ASCII)
SHORT_RE = re.compile(r"([A-Za-z0-9_-]{1,63})(?:@([A-Za-z0-9-]{1,63}))?", re.ASCII)


def d_routing(inp, _p):
    """Where a provider sends `to`: the ABNF (re), short forms expanded in the provider, then
    own domain -> local / 404, local-network TLD -> mesh, anything else -> federate."""
    refuse400 = {"decision": "refuse", "status": RawNumber("400"), "code": "invalid_field"}
    own = inp["provider"].lower()
    to = inp["to"]
    sender = inp["sender"].lower()
    sender_tenant = sender.split("@", 1)[1]
    if not sender_tenant.endswith("." + own):
        raise Mismatch("sender is not at the provider")
    sender_tenant = sender_tenant[: -(len(own) + 1)]
    m = SHORT_RE.fullmatch(to)
    if m:
        full = f"{m.group(1)}@{m.group(2) or sender_tenant}.{own}".lower()
    elif ADDRESS_RE.fullmatch(to):
        full = to.lower()
    else:
        return "invalid", refuse400
    if len(full) > 254 or not ADDRESS_RE.fullmatch(full):
        return "invalid", refuse400
    domain = full[full.index("@") + 1:]
    host = inp.get("host")
    if domain.endswith("." + own):
        first = domain.split(".", 1)[0]
        if host is not None and first != host.lower():
            return "valid", {"decision": "mesh", "address": full, "host": first}
        if full in {a.lower() for a in inp["agents"]}:
            return "valid", {"decision": "local", "address": full}
        return "invalid", {"decision": "refuse", "status": RawNumber("404"), "code": "not_found"}
    tld = domain.rsplit(".", 1)[1]
    if tld in ("local", "internal", "localhost"):
        return "valid", {"decision": "mesh", "address": full, "host": domain.split(".", 1)[0]}
    return "valid", {"decision": "federate", "address": full, "provider": ".".join(domain.split(".")[-2:])}


DERIVE = {k: globals()["d_" + k] for k in KINDS}
PROFILE_KINDS = {"payload_hash", "canonical_string", "signature"}


# ------------------------------------------------------------------------------------------
# Comparison
# ------------------------------------------------------------------------------------------

def plain(v: Any) -> Any:
    if isinstance(v, RawNumber):
        return v.text
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def check_case(f: dict, c: dict, kind: str) -> list[str]:
    errs = []
    profiles = PROFILES if kind in PROFILE_KINDS else ("sorted",)
    for p in profiles:
        ov = (c.get("profiles") or {}).get(p)
        want_r = ov["result"] if ov else c["result"]
        want_e = plain(ov.get("expected", {}) if ov else c.get("expected", {}))
        try:
            got_r, got_e = DERIVE[kind](c["input"], p)
            got_e = plain(got_e)
        except Mismatch as e:
            errs.append(f"[{p}] {e}")
            continue
        except Exception as e:  # a malformed case is a failure, not a crash
            errs.append(f"[{p}] cannot evaluate: {type(e).__name__}: {e}")
            continue
        if got_r != want_r:
            errs.append(f"[{p}] result: recorded {want_r!r}, derived {got_r!r}")
        if want_r == "valid" or kind in ("signature", "federation_signature", "message_id", "webhook_hmac", "routing"):
            if want_e != got_e and not (want_r != "valid" and all(got_e.get(k) == v for k, v in want_e.items())):
                errs.append(f"[{p}] expected: recorded {json.dumps(want_e, ensure_ascii=False)}, derived {json.dumps(got_e, ensure_ascii=False)}")
        else:
            for k, v in want_e.items():
                if got_e.get(k) != v:
                    errs.append(f"[{p}] expected.{k}: recorded {v!r}, derived {got_e.get(k)!r}")
        if ov is None and c.get("profiles") and p in c["profiles"]:
            pass
    for p, ov in (c.get("profiles") or {}).items():
        if p not in PROFILES:
            errs.append(f"unknown profile {p!r}")
    return errs


def check_structure(f: dict, name: str, known_clauses: set[str] | None) -> list[str]:
    errs = []
    if f.get("schema") != "amp-conformance/vectors/v1":
        errs.append(f"{name}: schema must be amp-conformance/vectors/v1")
    if f.get("kind") not in KINDS:
        errs.append(f"{name}: unknown kind {f.get('kind')!r}")
    seen = set()
    flags = set((f.get("flags") or {}).keys())
    for c in f.get("cases", []):
        if c.get("id") in seen:
            errs.append(f"{name}::{c.get('id')}: duplicate id")
        seen.add(c.get("id"))
        if c.get("result") not in RESULTS:
            errs.append(f"{name}::{c.get('id')}: bad result {c.get('result')!r}")
        for fl in c.get("flags", []):
            if fl not in flags:
                errs.append(f"{name}::{c.get('id')}: flag {fl!r} not defined in the file's flags")
        if not c.get("clauses"):
            errs.append(f"{name}::{c.get('id')}: no clauses")
        if known_clauses is not None:
            for cl in c.get("clauses", []):
                if cl not in known_clauses:
                    errs.append(f"{name}::{c.get('id')}: clause {cl} not in suites/requirements.toml")
    return errs


def load_known_clauses() -> set[str] | None:
    path = VECTORS_DIR.parent / "suites" / "requirements.toml"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    ids = set(re.findall(r'^\s*id\s*=\s*"([A-Z]+-[0-9A-Z]+)"', text, re.M))
    ids |= set(re.findall(r'^\s*\[\s*(?:requirement|contradiction)s?\.([A-Z]+-\d+)\s*\]', text, re.M))
    return ids or None


def openssl_check(files: list[tuple[str, dict]]) -> list[str]:
    """Re-verify every 64-byte signature's lax verdict with the openssl CLI (sorted profile)."""
    exe = shutil.which("openssl")
    if not exe:
        return ["--openssl given but no openssl binary found"]
    errs, n = [], 0
    with tempfile.TemporaryDirectory() as td:
        tdp = Path(td)
        for name, f in files:
            if f.get("kind") not in ("signature", "federation_signature"):
                continue
            for c in f["cases"]:
                inp = c["input"]
                if f["kind"] == "signature":
                    msg = canon(inp["fields"], "sorted")
                else:
                    msg = f"{inp['timestamp'].text}.{inp['body']}"
                sig = b64_lax(inp["signature"])
                if msg is None or not msg or sig is None or len(sig) != 64:
                    continue
                pub = bytes.fromhex(inp["public_key"])
                der = bytes.fromhex("302a300506032b6570032100") + pub
                (tdp / "k.der").write_bytes(der)
                (tdp / "m").write_bytes(msg.encode())
                (tdp / "s").write_bytes(sig)
                r = subprocess.run([exe, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(tdp / "k.der"), "-rawin",
                                    "-in", str(tdp / "m"), "-sigfile", str(tdp / "s")], capture_output=True, timeout=20)
                ok = r.returncode == 0
                n += 1
                if ok != ossl_verify(pub, msg.encode(), sig):
                    errs.append(f"{name}::{c['id']}: openssl CLI says {'valid' if ok else 'invalid'}, cryptography disagrees")
    print(f"openssl: {n} signatures re-verified with the openssl CLI")
    return errs


def main() -> int:
    ap = argparse.ArgumentParser(description="Re-derive every expectation in AMP vector files.")
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--openssl", action="store_true", help="also verify signatures with the openssl CLI")
    ap.add_argument("--quiet", action="store_true", help="only print failures and the summary")
    args = ap.parse_args()
    paths = args.files or sorted(p for p in VECTORS_DIR.glob("*.json") if p.name != "vector.schema.json")
    validator = None
    try:
        import jsonschema  # type: ignore

        validator = jsonschema.Draft202012Validator(json.loads((VECTORS_DIR / "vector.schema.json").read_text(encoding="utf-8")))
    except ImportError:
        if not args.quiet:
            print("note: jsonschema not installed; files not validated against vector.schema.json")
    known = load_known_clauses()
    if known is None and not args.quiet:
        print("note: suites/requirements.toml not found or unreadable; clause ids not checked")
    passed = failed = 0
    loaded = []
    for path in paths:
        name = path.stem
        try:
            f = loads_raw(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"FAIL {path}: cannot load: {e}")
            failed += 1
            continue
        loaded.append((name, f))
        if validator is not None:
            for err in validator.iter_errors(json.loads(path.read_text(encoding="utf-8"))):
                print(f"FAIL {name}: schema: {'/'.join(map(str, err.absolute_path))}: {err.message[:200]}")
                failed += 1
        for e in check_structure(f, name, known):
            print(f"FAIL {e}")
            failed += 1
        kind = f.get("kind")
        if kind not in KINDS:
            continue
        for c in f.get("cases", []):
            errs = check_case(f, c, kind)
            if errs:
                failed += 1
                for e in errs:
                    print(f"FAIL {name}::{c.get('id')}: {e}")
            else:
                passed += 1
    if args.openssl:
        for e in openssl_check(loaded):
            print(f"FAIL {e}")
            failed += 1
    print(f"crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
