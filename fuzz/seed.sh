#!/usr/bin/env bash
# Regenerate the seed corpora fuzz/corpus/<target>/seed-* from the test vectors (vectors/*.json).
# Small on purpose (a few dozen files per target, < 200 KB in total): libFuzzer grows the
# corpus itself; the seeds only point it at the interesting shapes. Needs python3.
set -euo pipefail
cd "$(dirname "$0")"
rm -f corpus/*/seed-*
python3 - <<'PY'
import json, os, hashlib, glob

VEC = "../vectors"
def load(name):
    with open(os.path.join(VEC, name), encoding="utf-8") as f:
        return json.load(f)

def write(target, data, limit=40):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    if len([n for n in os.listdir(d) if n.startswith("seed-")]) >= limit:
        return
    if isinstance(data, str):
        data = data.encode("utf-8")
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

compact = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))

# address: "address \0 tenant \0 provider \0 known..." (see fuzz_targets/address.rs)
for case in load("address.json")["cases"]:
    inp = case.get("input", {})
    addr = inp.get("address")
    if isinstance(addr, str):
        known = inp.get("known_providers") or inp.get("providers") or []
        extra = "\0".join(str(k) for k in known) if isinstance(known, list) else ""
        write("address", addr + ("\0acme\0example.com\0" + extra if extra else ""))

# canonical_jcs_diff: plain JSON payloads (objects only).
for case in load("payload_hash.json")["cases"]:
    p = case.get("input", {}).get("payload")
    if isinstance(p, dict):
        write("canonical_jcs_diff", compact(p))

# route_body: flat route bodies built from canonical-string and payload vectors, plus edge cases.
payloads = [c["input"]["payload"] for c in load("payload_hash.json")["cases"]
            if isinstance(c.get("input", {}).get("payload"), dict)]
for i, case in enumerate(load("canonical_string.json")["cases"]):
    f = case.get("input", {})
    if not isinstance(f, dict):
        continue
    body = {k: f[k] for k in ("to", "subject", "priority", "in_reply_to") if k in f}
    body["payload"] = payloads[i % len(payloads)] if payloads else {"type": "notification", "message": "hi"}
    body["signature"] = "A" * 86 + "=="
    write("route_body", compact(body))
for raw in ['{"to":"a@b.c.d","subject":"s","payload":{"type":"t","message":"m"},"signature":"x"}',
            '{"to":"a@b.c.d","to":"e@f.g.h"}', '{"n":NaN}', '[' * 130, '{"subject":"' + "s" * 257 + '"}',
            '\ufeff{}', '{"options":{"receipt":"yes"}}', '{"payload":{"type":1}}']:
    write("route_body", raw)

# sign_verify: bytes of canonical strings (arbitrary reads them as field material).
for case in load("canonical_string.json")["cases"][:20]:
    write("sign_verify", compact(case.get("input", {})))

# vector_file: first byte picks the file name, then a trimmed vector file (first 2 cases).
names = ["address.json", "signature.json", "payload_hash.json", "canonical_string.json",
         "webhook_hmac.json", "fuzz.json"]
for path in sorted(glob.glob(os.path.join(VEC, "*.json"))):
    base = os.path.basename(path)
    if base == "vector.schema.json":
        continue
    doc = load(base)
    if isinstance(doc.get("cases"), list):
        doc["cases"] = doc["cases"][:2]
    idx = names.index(base) if base in names else 5
    write("vector_file", bytes([idx]) + compact(doc).encode("utf-8"))

# mock_http / mock_ws: structured (arbitrary) inputs; seed with route and frame texts.
for p in payloads[:10]:
    write("mock_http", compact({"to": "fuzz@fuzz.amp-mock.test", "subject": "s", "payload": p}))
for t in ['{"type":"auth","token":"x"}', '{"type":"ping"}', '{"type":"route","data":{}}',
          '{"type":"message.ack","id":"msg_1"}', '{"type":"ack","id":""}']:
    write("mock_ws", t)
PY
du -sh corpus | cut -f1 | xargs echo "seed corpus size:"
for d in corpus/*/; do echo "$(ls "$d" | grep -c '^seed-') $(basename "$d")"; done
