#!/usr/bin/env python3
"""Convert the research catalogue (spec-catalogue.md) into suites/requirements.toml.

Re-runnable and deterministic: the same markdown and the same curated overlay
(contradictions.toml next to this script) always produce byte-identical TOML.

    python3 tools/catalogue/md_to_toml.py [--md PATH] [--out PATH] [--check]

What is mechanical and what is curated:
  * requirement rows (§1 tables)   -> fully mechanical (level, implicit marker, binds,
                                      testability + note, flags, capability, C-refs)
  * contradiction records (§2)     -> id, title, clauses cited in the text, the `Suite:`
                                      action text: mechanical.  handling / profile /
                                      2-3 line summary / extra clauses: curated overlay,
                                      because they are judgement calls; the script refuses
                                      to run if a record has no overlay entry (or vice versa).
  * profiles (§3.3)                -> mechanical (flag, values); names follow the CLI.
                                      The overlay's [profile.<name>] tables may withdraw a
                                      profile no case can judge (`withdrawn = "why"`: it is
                                      not emitted, so no CLI flag has to exist for it) or
                                      choose its `default` among its values.
  * source revisions (§0)          -> mechanical (file -> commit read).

The script cross-checks its own parse against the counts the markdown states in §3.1
(total rows, per-level rows, implicit rows, per-testability rows, contradiction count)
and exits non-zero on any mismatch, so a silently dropped row cannot slip through.
`--check` compares the generated text with the existing output instead of writing it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import Counter, OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_MD = Path("/work/shared/spec-catalogue.md")
DEFAULT_OUT = REPO / "suites" / "requirements.toml"
OVERLAY = HERE / "contradictions.toml"

CATALOGUE_VERSION = "2026-11-25"
SPEC_REPO = "agentmessaging/protocol"

LEVELS = ["MUST NOT", "MUST", "SHOULD NOT", "SHOULD", "MAY"]  # longest first for matching
LEVEL_ORDER = ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"]
TESTABILITY = ["VECTOR", "BLACKBOX", "RECEIVER", "FEDERATION", "BUS", "UNTESTABLE"]
HANDLINGS = {"profile", "warning", "skip", "info", "fail-only-if"}

ROW_HEADER = "| ID | Level | Requirement | Binds | Testability | Where |"
REQ_ID = re.compile(r"^[A-Z]+-[0-9]{3}$")
ID_IN_TEXT = re.compile(r"\b([A-Z]+)-([0-9]{3})(?:\.\.([0-9]{3}))?\b")
C_REF = re.compile(r"\bC-([0-9]{2})(?:\.\.C-([0-9]{2}))?")
CELL_SPLIT = re.compile(r"(?<!\\)\|")

# §3.3 flag -> profile name used by the CLI.  Only the payload profile is renamed: the
# architecture gives every signing/verifying command a single `--profile` switch.
PROFILE_RENAME = {"payload-hash": ("payload-profile", "--profile")}


class ParseError(Exception):
    pass


def die(msg: str) -> None:
    print(f"md_to_toml: error: {msg}", file=sys.stderr)
    sys.exit(1)


def cells(line: str) -> list[str]:
    parts = CELL_SPLIT.split(line.strip())
    if parts and parts[0] == "":
        parts = parts[1:]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def c_refs(text: str) -> list[str]:
    out = []
    for m in C_REF.finditer(text):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        for n in range(lo, hi + 1):
            out.append(f"C-{n:02d}")
    return out


def req_refs(text: str) -> list[str]:
    out = []
    for m in ID_IN_TEXT.finditer(text):
        prefix, lo = m.group(1), int(m.group(2))
        hi = int(m.group(3)) if m.group(3) else lo
        for n in range(lo, hi + 1):
            out.append(f"{prefix}-{n:03d}")
    return out


def uniq(seq):
    return list(OrderedDict.fromkeys(seq))


def section_lines(lines: list[str], start_prefix: str, end_prefix: str) -> list[str]:
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith(start_prefix))
    except StopIteration:
        raise ParseError(f"heading starting with {start_prefix!r} not found")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(end_prefix)), len(lines))
    return lines[start:end]


# ---------------------------------------------------------------- §0 sources

def parse_sources(lines: list[str]) -> "OrderedDict[str, str]":
    block = section_lines(lines, "## 0.", "## Legend")
    out: "OrderedDict[str, str]" = OrderedDict()
    in_table = False
    for line in block:
        if line.startswith("| File | Commit read"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            if out:
                break
            continue
        c = cells(line)
        if len(c) < 2 or set(c[0]) <= {"-"}:
            continue
        files = [f.strip() for f in c[0].split(",")]
        if not all(re.match(r"^(spec|schemas|tests|examples)/", f) for f in files):
            continue  # "Older snapshot" history row
        commit = c[1].replace("`", "").strip()
        for f in files:
            out[f] = commit
    if not out:
        raise ParseError("§0 source table is empty")
    return out


# ---------------------------------------------------------------- §1 rows

APPENDIX_PREFIX = [
    ("(App. A", "appendix-a-injection-patterns"),
    ("(App. B", "appendix-b-provider-checklist"),
    ("(Guide", "attachment-guide"),
]


def parse_level(cell: str, rid: str):
    found = []
    pattern = re.compile(r"(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)(\*?)")
    for m in pattern.finditer(cell):
        found.append((m.group(1), m.group(2) == "*"))
    if not found:
        raise ParseError(f"{rid}: no RFC 2119 keyword in level cell {cell!r}")
    level, implicit = found[0]
    # the level text is kept when the cell says more than one (optionally starred) keyword
    combined = cell.strip() not in (level, level + "*")
    return level, implicit, (cell.strip() if combined else None)


def parse_testability(cell: str, req_text: str, rid: str, section: str):
    m = re.match(r"^([A-Z]+)\b\s*(.*)$", cell.strip())
    if not m or m.group(1) not in TESTABILITY:
        raise ParseError(f"{rid}: testability cell does not start with a known category: {cell!r}")
    category = m.group(1).lower()
    note = m.group(2).strip().replace("`[", "[").replace("]`", "]")
    if note.startswith("(") and note.endswith(")") and note.count("(") == 1:
        note = note[1:-1].strip()  # "(7-day wait)" -> "7-day wait"
    flags = []
    if "[admin]" in cell:
        flags.append("admin")
    if "[slow]" in cell:
        flags.append("slow")
    if "C-mode" in cell:
        flags.append("c-mode")
    cap = None
    cm = re.search(r"\[cap: ([^\]]+)\]", cell) or re.search(r"\[cap: ([^\]]+)\]", req_text)
    if cm:
        cap = cm.group(1).strip()
    elif section == "12-notification" and "(no cap gate)" not in req_text:
        cap = "notify:v1"
    return category, (note or None), flags, cap


def split_binds(cell: str) -> list[str]:
    """"provider, client" -> two parties; "sending/receiving provider" -> both providers."""
    out = []
    for b in (x.strip() for x in cell.split(",")):
        m = re.match(r"^(\w+)/(\w+) (\w+)$", b)
        out.extend([f"{m.group(1)} {m.group(3)}", f"{m.group(2)} {m.group(3)}"] if m else [b] if b else [])
    return uniq(out)


def section_from_heading(line: str):
    m = re.search(r"`([0-9a-z-]+)\.md`", line)
    return m.group(1) if m else None


def parse_requirements(lines: list[str]):
    block = section_lines(lines, "## 1.", "## 2.")
    reqs = []
    section = None
    group_flags: list[str] = []
    in_req_table = False
    for line in block:
        if line.startswith("### ") or line.startswith("#### "):
            stem = section_from_heading(line)
            if line.startswith("### "):
                section = stem  # may be None (1.11 Local Bus, 1.14 appendices, 1.15)
                group_flags = []
                if "Channel bridging" in line:
                    group_flags = ["bridging"]
            elif stem:
                section = stem
            if line.startswith("#### 1.11a"):
                group_flags = ["bus-fs"]
            elif line.startswith("#### 1.11b"):
                group_flags = ["bus-uds"]
            in_req_table = False
            continue
        if line.strip() == ROW_HEADER:
            in_req_table = True
            continue
        if not line.startswith("|"):
            in_req_table = False if line.strip() else in_req_table
            continue
        if not in_req_table:
            continue
        c = cells(line)
        if set("".join(c)) <= {"-", ":"}:
            continue
        if len(c) != 6:
            raise ParseError(f"row with {len(c)} cells (expected 6): {line[:80]}")
        rid, level_cell, text, binds, test_cell, where = c
        if not REQ_ID.match(rid):
            raise ParseError(f"bad requirement id {rid!r}")
        sec = section
        if sec is None:
            sec = next((s for p, s in APPENDIX_PREFIX if text.startswith(p)), None)
        if sec is None:
            raise ParseError(f"{rid}: cannot tell which spec file the row belongs to")
        level, implicit, level_text = parse_level(level_cell, rid)
        testability, note, flags, cap = parse_testability(test_cell, text, rid, sec)
        refs = uniq(c_refs(" ".join(c)))
        reqs.append(
            OrderedDict(
                id=rid,
                section=sec,
                heading=where,
                level=level,
                level_text=level_text,
                implicit=implicit,
                binds=split_binds(binds),
                testability=testability,
                testability_note=note,
                capability=cap,
                flags=flags + group_flags,
                contradictions=refs,
                summary=text,
            )
        )
    return reqs


# ---------------------------------------------------------------- §2 records

def join_wrapped(parts: list[str]) -> str:
    """Undo the markdown's hard wrapping.  A line that breaks inside a token
    (`--flag=a|` + `b|c`, or `canonical-` + `identifier`) is glued without a space."""
    out = ""
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if out and (re.search(r"[^\s]\|$", out) or re.search(r"[A-Za-z]-$", out)):
            out += p
        elif out:
            out += " " + p
        else:
            out = p
    return out


def parse_contradictions(lines: list[str]):
    block = section_lines(lines, "## 2.", "## 3.")
    records = []
    cur = None
    head = re.compile(r"^\*\*C-([0-9]{2}) (.+?)\*\*\s*(.*)$")
    for line in block:
        m = head.match(line)
        if m:
            if cur:
                records.append(cur)
            cur = {"id": f"C-{m.group(1)}", "title": m.group(2).strip().rstrip("."), "body": [m.group(3)]}
            continue
        if cur is None:
            continue
        if line.startswith("#") or line.startswith("Numbering note"):
            records.append(cur)
            cur = None
            continue
        if line.strip():
            cur["body"].append(line.strip())
    if cur:
        records.append(cur)
    for r in records:
        body = join_wrapped(r.pop("body"))
        r["body"] = body
        sm = re.search(r"\bSuite:\s*(.*)$", body)
        r["action"] = sm.group(1).strip() if sm else None
    return records


# ---------------------------------------------------------------- §3 summary

def parse_stated_counts(lines: list[str]):
    block = section_lines(lines, "### 3.1", "### 3.2")
    text = "\n".join(block)
    m = re.search(r"Total requirement rows: \*\*([0-9]+)\*\*", text)
    if not m:
        raise ParseError("§3.1 total not found")
    total = int(m.group(1))
    levels, implicit, testab = {}, {}, {}
    for line in block:
        c = cells(line) if line.startswith("|") else []
        if len(c) == 3 and c[0] in LEVEL_ORDER:
            levels[c[0]] = int(c[1])
            implicit[c[0]] = int(c[2])
        if len(c) == 3 and c[0] in TESTABILITY:
            testab[c[0].lower()] = int(c[1])
    cm = re.search(r"Contradiction/ambiguity records in §2: \*\*([0-9]+)\*\*", text)
    return total, levels, implicit, testab, (int(cm.group(1)) if cm else None)


def parse_test_first(lines: list[str]):
    block = section_lines(lines, "### 3.2", "### 3.3")
    ids = []
    for line in block:
        c = cells(line) if line.startswith("|") else []
        if len(c) == 3 and c[0].isdigit():
            ids.append(c[1])
    return ids


def parse_profiles(lines: list[str]):
    block = section_lines(lines, "### 3.3", "## 4.")
    text = " ".join(l.strip() for l in block[1:])
    profiles = []
    for piece in text.split(" · "):
        cs = uniq(c_refs(piece))
        for m in re.finditer(r"`--([a-z-]+)(?:=([^`]+))?`", piece):
            flag, values = m.group(1), m.group(2)
            vals = [v.strip() for v in values.replace("| ", "|").split("|")] if values else []
            name, cli_flag = PROFILE_RENAME.get(flag, (flag, f"--{flag}"))
            profiles.append(
                OrderedDict(
                    name=name,
                    flag=cli_flag,
                    md_flag=f"--{flag}",
                    values=vals,
                    default=vals[0] if vals else "off",
                    cited=cs,
                )
            )
    if not profiles:
        raise ParseError("§3.3 lists no profiles")
    return profiles


# ---------------------------------------------------------------- TOML output

def toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_val(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_val(x) for x in v) + "]"
    raise TypeError(type(v))


def toml_key(k: str) -> str:
    return k if re.match(r"^[A-Za-z0-9_-]+$", k) else toml_str(k)


HEADER = """\
# amp-conformance requirement catalogue — GENERATED, do not edit by hand.
#
# Source: the research catalogue spec-catalogue.md (restatements in the project's own
# words of the AMP spec in {spec_repo}; per-file commits in [meta.spec_revision]).
# Regenerate: python3 tools/catalogue/md_to_toml.py   (judgement calls for contradiction
# records live in tools/catalogue/contradictions.toml; edit that, then regenerate).
# Loaded, validated and exposed as typed data by the crate amp-catalogue.
#
# [meta]
#   spec_repo          GitHub repository of the spec
#   spec_revision      table: spec file path -> commit that was read ("unknown ..." when not resolvable)
#   catalogue_version  date of this catalogue
#   expected_count     number of [[requirement]] entries (the loader refuses a different count)
#   expected_contradictions  number of [[contradiction]] entries
#   test_first         the 25 requirement ids to implement first, in priority order (md §3.2)
#
# [[requirement]]
#   id                 stable handle, [A-Z]+-NNN; suite cases cite it
#   section            spec file stem (04-messages, 06a-local-networks, appendix-b-provider-checklist ...)
#   heading            heading(s) in that file the clause comes from ("08 X" = heading X of 08-api)
#   level              first RFC 2119 keyword: MUST | MUST NOT | SHOULD | SHOULD NOT | MAY
#   level_text         the full level cell when it combines keywords, e.g. "SHOULD / MUST" (absent otherwise)
#   implicit           true when the clause is a stated fact/format/table with no keyword ("MUST*");
#                      graded like the keyword but reported as implicit (softer message)
#   binds              who the clause obliges: provider, client, recipient, auth server, bus component, ...
#   testability        first category: vector | blackbox | receiver | federation | bus | untestable
#   testability_note   rest of that cell: why untestable, secondary categories, [admin], [slow], [cap: x]
#   capability         /v1/info capability token that gates the row (only when gated)
#   flags              admin   = needs an admin key          slow    = needs long waits
#                      c-mode  = client/recipient duty, testable when the mock grades a client
#                      bus-fs / bus-uds = belongs to one of the two Local Bus designs (C-49)
#                      bridging = optional channel-bridging profile, never gates core conformance (C-50)
#   contradictions     every C-nn record the row mentions
#   summary            one-line restatement (field names, statuses and error codes exact)
#
# [[contradiction]]
#   id, title          C-NN handle and short title (gaps in numbering are merged records)
#   clauses            requirement ids the record touches
#   handling           profile      = behaviour selected by a named CLI profile (see `profile`)
#                      warning      = reported as a non-failing finding citing this record
#                      fail-only-if = the case fails only for behaviour no reading allows
#                      info         = recorded / reported, never a verdict
#                      skip         = no case (note only, or rows outside core conformance)
#   profile            name of the [[profile]] when handling = "profile"
#   summary            where the spec disagrees and what amp-conformance does (2-3 lines)
#   action             the research catalogue's full "Suite:" instruction
#
# [[profile]]
#   name, flag         profile name and the CLI switch that selects it
#   md_flag            the switch as the research catalogue spelled it
#   values, default    allowed values (empty = on/off switch) and the default
#   contradictions     records resolved by this profile
"""


def emit(sources, reqs, contras, profiles, test_first) -> str:
    out = [HEADER.format(spec_repo=SPEC_REPO)]
    out.append("[meta]")
    out.append(f"spec_repo = {toml_str(SPEC_REPO)}")
    out.append(f"catalogue_version = {toml_str(CATALOGUE_VERSION)}")
    out.append(f"expected_count = {len(reqs)}")
    out.append(f"expected_contradictions = {len(contras)}")
    out.append("test_first = [")
    for i in range(0, len(test_first), 8):
        out.append("  " + ", ".join(toml_str(x) for x in test_first[i : i + 8]) + ",")
    out.append("]")
    out.append("")
    out.append("[meta.spec_revision]")
    for f, c in sources.items():
        out.append(f"{toml_key(f)} = {toml_str(c)}")
    out.append("")
    for r in reqs:
        out.append("[[requirement]]")
        for k, v in r.items():
            if v is None or (isinstance(v, list) and not v and k in ("flags", "contradictions")):
                continue
            out.append(f"{k} = {toml_val(v)}")
        out.append("")
    for c in contras:
        out.append("[[contradiction]]")
        for k in ("id", "title", "clauses", "handling", "profile", "summary", "action"):
            v = c.get(k)
            if v is None:
                continue
            out.append(f"{k} = {toml_val(v)}")
        out.append("")
    for p in profiles:
        out.append("[[profile]]")
        for k in ("name", "flag", "md_flag", "values", "default", "contradictions"):
            out.append(f"{k} = {toml_val(p[k])}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--md", type=Path, default=DEFAULT_MD)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="fail if --out differs from what would be generated")
    args = ap.parse_args()

    try:
        lines = args.md.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        die(f"cannot read {args.md}: {e}")
    try:
        overlay = tomllib.loads(OVERLAY.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        die(f"cannot load overlay {OVERLAY}: {e}")

    try:
        sources = parse_sources(lines)
        reqs = parse_requirements(lines)
        contras = parse_contradictions(lines)
        total, s_levels, s_implicit, s_testab, s_contras = parse_stated_counts(lines)
        test_first = parse_test_first(lines)
        profiles = parse_profiles(lines)
    except ParseError as e:
        die(str(e))

    problems = []
    ids = [r["id"] for r in reqs]
    dup = [i for i, n in Counter(ids).items() if n > 1]
    if dup:
        problems.append(f"duplicate requirement ids: {dup}")
    idset = set(ids)

    # --- cross-check against the md's own §3.1 counts
    if len(reqs) != total:
        problems.append(f"parsed {len(reqs)} rows, §3.1 says {total}")
    lv = Counter(r["level"] for r in reqs)
    im = Counter(r["level"] for r in reqs if r["implicit"])
    for k in LEVEL_ORDER:
        if lv[k] != s_levels.get(k):
            problems.append(f"level {k}: parsed {lv[k]}, §3.1 says {s_levels.get(k)}")
        if im[k] != s_implicit.get(k):
            problems.append(f"implicit {k}: parsed {im[k]}, §3.1 says {s_implicit.get(k)}")
    tb = Counter(r["testability"] for r in reqs)
    for k, n in s_testab.items():
        if tb[k] != n:
            problems.append(f"testability {k}: parsed {tb[k]}, §3.1 says {n}")
    if s_contras is not None and len(contras) != s_contras:
        problems.append(f"parsed {len(contras)} contradiction records, §3.1 says {s_contras}")
    if len(test_first) != 25:
        problems.append(f"§3.2 lists {len(test_first)} ids, expected 25")
    for t in test_first:
        if t not in idset:
            problems.append(f"§3.2 id {t} is not a catalogue row")

    # --- contradictions: mechanical clauses + overlay
    cids = {c["id"] for c in contras}
    over = overlay.get("contradiction", {})
    if set(over) != cids:
        problems.append(
            f"overlay/md mismatch: missing overlay for {sorted(cids - set(over))}, "
            f"overlay for unknown records {sorted(set(over) - cids)}"
        )
    cited_by_rows: dict[str, list[str]] = {}
    for r in reqs:
        for c in r["contradictions"]:
            if c not in cids:
                problems.append(f"{r['id']} cites {c}, which is not a §2 record")
            cited_by_rows.setdefault(c, []).append(r["id"])
    # --- profiles: the overlay withdraws the ones no case judges and may pick a default
    over_p = overlay.get("profile", {})
    md_names = {p["name"] for p in profiles}
    for name in sorted(set(over_p) - md_names):
        problems.append(f"overlay profile {name}: not a §3.3 profile")
    withdrawn = {}
    for p in profiles:
        o = over_p.get(p["name"], {})
        if "withdrawn" in o:
            if not str(o["withdrawn"]).strip():
                problems.append(f"overlay profile {p['name']}: withdrawn needs a reason")
            withdrawn[p["name"]] = o["withdrawn"]
        if "default" in o:
            if o["default"] not in p["values"]:
                problems.append(f"overlay profile {p['name']}: default {o['default']!r} not in {p['values']}")
            p["default"] = o["default"]
    withdrawn_cites = {c for p in profiles if p["name"] in withdrawn for c in p["cited"]}
    profiles = [p for p in profiles if p["name"] not in withdrawn]
    profile_names = {p["name"] for p in profiles}
    for c in contras:
        o = over.get(c["id"], {})
        in_text = [i for i in req_refs(c["body"]) if i in idset]
        extra = o.get("extra_clauses", [])
        for e in extra:
            if e not in idset:
                problems.append(f"overlay {c['id']}: extra clause {e} is not a row")
        c["clauses"] = sorted(uniq(in_text + cited_by_rows.get(c["id"], []) + extra))
        if not c["clauses"]:
            problems.append(f"{c['id']}: touches no requirement; add extra_clauses in the overlay")
        c["handling"] = o.get("handling")
        if c["handling"] not in HANDLINGS:
            problems.append(f"overlay {c['id']}: handling {c['handling']!r} not in {sorted(HANDLINGS)}")
        c["profile"] = o.get("profile")
        if (c["handling"] == "profile") != (c["profile"] is not None):
            problems.append(f"overlay {c['id']}: profile must be set exactly when handling = profile")
        if c["profile"] is not None and c["profile"] not in profile_names:
            why = "withdrawn" if c["profile"] in withdrawn else "unknown"
            problems.append(f"overlay {c['id']}: {why} profile {c['profile']}")
        if "action" in o:  # the suite's own instruction where it departs from the md's
            c["action"] = " ".join(o["action"].split())
        c["summary"] = " ".join(o.get("summary", "").split())
        if not c["summary"]:
            problems.append(f"overlay {c['id']}: summary missing")
    # profiles: contradictions come from the overlay; §3.3's citations must agree
    for p in profiles:
        p["contradictions"] = sorted(c["id"] for c in contras if c.get("profile") == p["name"])
        if not p["contradictions"]:
            problems.append(f"profile {p['name']}: no contradiction record selects it")
        for cid in p["cited"]:
            rec = next((c for c in contras if c["id"] == cid), None)
            # §3.3 cites records per group of flags (C-39/C-40 for --transport and --signing):
            # a record served by a withdrawn sibling flag is not this flag's to handle.
            if rec is not None and rec.get("profile") is None and cid in withdrawn_cites:
                continue
            if rec is None or rec.get("handling") != "profile":
                problems.append(f"§3.3 ties {cid} to {p['flag']}, but the overlay does not handle {cid} by profile")

    if problems:
        for p in problems:
            print(f"md_to_toml: {p}", file=sys.stderr)
        sys.exit(1)

    contras.sort(key=lambda c: c["id"])  # md groups records by topic; the data file is by id
    text = emit(sources, reqs, contras, profiles, test_first)
    tomllib.loads(text)  # the output must be valid TOML

    if args.check:
        try:
            current = args.out.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            die(f"{args.out} is stale; run tools/catalogue/md_to_toml.py")
        print(f"{args.out}: up to date")
        return
    args.out.write_text(text, encoding="utf-8")
    print(
        f"wrote {args.out}: {len(reqs)} requirements, {len(contras)} contradictions, "
        f"{len(profiles)} profiles"
    )
    print("levels:", {k: lv[k] for k in LEVEL_ORDER}, "implicit:", sum(im.values()))
    print("testability:", {k.lower(): tb[k.lower()] for k in TESTABILITY})


if __name__ == "__main__":
    main()
