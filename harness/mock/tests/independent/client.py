#!/usr/bin/env python3
"""An independent AMP client for the mock: Python's `cryptography` and `urllib`, no Rust code.

Usage: client.py BASE_URL   (e.g. http://127.0.0.1:8787/v1)

Registers two agents, routes a signed message (payload hash: keys sorted, compact, UTF-8;
canonical string from|to|subject|priority|in_reply_to|payload_hash; Ed25519 over its bytes),
fetches it from the relay queue, verifies the sender's signature on what was delivered, acks it,
and checks the refusals: 401 without a key, 403 for a spoofed `from`, 403 for a tampered
subject, 400 for malformed JSON. Prints one line per check and exits non-zero on any failure.
"""
import base64
import hashlib
import json
import secrets
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

BASE = sys.argv[1].rstrip("/")
FAILED = []
PASSED = []


def call(method, path, body=None, key=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    (PASSED if ok else FAILED).append(name)


def register(tenant):
    sk = Ed25519PrivateKey.generate()
    pem = sk.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    name = "py-" + secrets.token_hex(4)
    status, body = call("POST", "/register", {
        "tenant": tenant, "name": name, "public_key": pem, "key_algorithm": "Ed25519"})
    check("register " + name, status == 201, f"{status} {body}")
    return sk, body


def payload_hash(payload):
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def sign(sk, frm, to, subject, priority, in_reply_to, payload):
    canonical = "|".join([frm, to, subject, priority, in_reply_to or "", payload_hash(payload)])
    return base64.b64encode(sk.sign(canonical.encode())).decode()


def main():
    tenant = "py" + secrets.token_hex(3)
    a_sk, a = register(tenant)
    b_sk, b = register(tenant)
    payload = {"type": "request", "message": "héllo from Python", "context": {"z": 1, "a": [1, 2]}}
    body = {"to": b["address"], "subject": "independent", "priority": "high", "payload": payload,
            "signature": sign(a_sk, a["address"], b["address"], "independent", "high", None, payload)}

    status, resp = call("POST", "/route", body)
    check("route without a key is 401", status == 401, f"{status} {resp}")
    status, resp = call("POST", "/route", dict(body, subject="tampered"), key=a["api_key"])
    check("tampered subject is 403 signature_invalid",
          status == 403 and resp.get("error") == "signature_invalid", f"{status} {resp}")
    spoof = dict(body, **{"from": b["address"]})
    spoof["signature"] = sign(a_sk, b["address"], b["address"], "independent", "high", None, payload)
    status, resp = call("POST", "/route", spoof, key=a["api_key"])
    check("spoofed from is 403", status == 403, f"{status} {resp}")
    status, resp = call("POST", "/route", raw=b'{"to": "x", ', key=a["api_key"])
    check("malformed JSON is 400", status == 400 and "error" in (resp or {}), f"{status} {resp}")

    status, resp = call("POST", "/route", body, key=a["api_key"])
    check("signed route accepted", status == 200 and resp.get("id", "").startswith("msg_"),
          f"{status} {resp}")
    msg_id = resp.get("id")
    status, pending = call("GET", "/messages/pending", key=b["api_key"])
    got = [m for m in (pending or {}).get("messages", []) if m.get("id") == msg_id]
    check("message is in the recipient's relay queue", status == 200 and len(got) == 1,
          f"{status} {pending}")
    if got:
        env, pl = got[0]["envelope"], got[0]["payload"]
        a_pub = a_sk.public_key()
        canonical = "|".join([env["from"], env["to"], env["subject"], env.get("priority", "normal"),
                              env.get("in_reply_to") or "", payload_hash(pl)])
        try:
            a_pub.verify(base64.b64decode(env["signature"]), canonical.encode())
            check("delivered signature verifies independently", True)
        except Exception as e:  # noqa: BLE001 - any verification error is a failure
            check("delivered signature verifies independently", False, repr(e))
        check("delivered from is the sender", env["from"] == a["address"], env["from"])
    status, resp = call("DELETE", "/messages/pending/" + str(msg_id), key=b["api_key"])
    check("ack", status == 200 and resp.get("acknowledged") is True, f"{status} {resp}")
    status, pending = call("GET", "/messages/pending", key=b["api_key"])
    check("acked message is gone",
          not any(m.get("id") == msg_id for m in (pending or {}).get("messages", [])), f"{pending}")
    for who in (a, b):
        call("DELETE", "/agents/me", key=who["api_key"])
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
