#!/usr/bin/env python3
"""Render a published interop report (Markdown) from one run's JSON report and the hand triage.

The hand triage is data (`reports/interop/<impl>.triage.toml`): root causes, each with a kind
(deviation of the provider, false verdict of the tool, harness problem, or correct as reported),
and every triaged case pointing at one cause. The run decides which causes are live: a cause is
listed only with the non-pass cases of *this* run that point at it, a non-pass case without a
triage entry is listed as UNTRIAGED, and a triaged case that now passes is listed as stale, so
the published page cannot claim more than the run shows.

usage: render-report.py REPORT.json TRIAGE.toml OUT.md [--peer-version V] [--peer-commit C]
                        [--inventory-before FILE --inventory-after FILE] [--command TEXT]
                        [--known-cases FILE]   (`amp-conformance list` output: refuse a triage
                                                that names a case the tool no longer has)
"""
import argparse
import collections
import json
import tomllib

NON_PASS = ("fail", "error", "warn", "info", "blocked", "xpass", "xfail")
KIND_LABEL = {
    "deviation": "true deviation of the provider",
    "tool": "false verdict of the tool",
    "harness": "harness problem",
    "ok": "correct as reported",
}


def one_line(text, limit=220):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell(text):
    return one_line(text, 400).replace("|", "\\|")


def load_inventory(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return sorted({line.strip() for line in f if line.strip()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("triage")
    ap.add_argument("out")
    ap.add_argument("--peer-version", default="?")
    ap.add_argument("--peer-commit", default="?")
    ap.add_argument("--tool-commit", default="?")
    ap.add_argument("--inventory-before")
    ap.add_argument("--inventory-after")
    ap.add_argument("--command", default="")
    ap.add_argument("--known-cases")
    a = ap.parse_args()

    with open(a.report, encoding="utf-8") as f:
        report = json.load(f)
    with open(a.triage, "rb") as f:
        triage = tomllib.load(f)
    causes = triage.get("cause", {})
    case_triage = triage.get("case", {})
    provider = triage.get("provider", {})
    for cid, entry in case_triage.items():
        for key in [entry["cause"], *entry.get("by_verdict", {}).values()]:
            if key not in causes:
                raise SystemExit(f"triage: case {cid} names unknown cause {key}")
    if a.known_cases:
        with open(a.known_cases, encoding="utf-8") as f:
            # Case lines are indented under their section's heading.
            known = {line.split()[0] for line in f if line[:1].isspace() and line.strip()}
        unknown = sorted(set(case_triage) - known)
        if unknown:
            raise SystemExit("triage names cases the tool does not have (renamed or removed?): "
                             + ", ".join(unknown))

    def judged(c):
        """The triage entry for case `c` as (cause key, note), or None. `by_verdict` picks another
        cause for a given verdict: the same case can be a false failure in one tool version and
        rightly blocked or a warning in the next."""
        entry = case_triage.get(c["id"])
        if not entry:
            return None
        return entry.get("by_verdict", {}).get(c["verdict"], entry["cause"]), entry.get("note", "")

    cases = report["cases"]
    summary = report["summary"]
    counts = summary["by_verdict"]
    non_pass = [c for c in cases if c["verdict"] in NON_PASS]
    by_cause = collections.defaultdict(list)
    untriaged = []
    for c in non_pass:
        j = judged(c)
        if j:
            by_cause[j[0]].append(c)
        else:
            untriaged.append(c)
    stale = sorted(cid for cid in case_triage
                   if not any(c["id"] == cid and c["verdict"] in NON_PASS for c in cases))

    def kind_of(c):
        j = judged(c)
        return causes[j[0]]["kind"] if j else "untriaged"

    kinds = collections.Counter(kind_of(c) for c in non_pass)
    tool_open = sum(1 for c in non_pass if kind_of(c) == "tool"
                    and causes[judged(c)[0]].get("status", "open") == "open")

    out = []
    w = out.append
    name = provider.get("name", "provider")
    w(f"# Interop run: amp-conformance against {name} {a.peer_version}\n")
    w(f"- Provider: `{provider.get('repo', '?')}` v{a.peer_version}, commit `{a.peer_commit}`, "
      f"{provider.get('deployment', '')}".rstrip(", ") + "")
    tgt = report.get("target", {})
    w(f"- Target: `{tgt.get('base_url')}`, WebSocket `{tgt.get('ws_url')}`; `/info` version "
      f"`{tgt.get('version')}`, capabilities `{', '.join(tgt.get('capabilities') or [])}`")
    tool = report.get("tool", {})
    w(f"- Tool: {tool.get('name')} {tool.get('version')} (commit `{a.tool_commit}`), run `{report['run']['id']}` "
      f"started {report['run']['started_at']}, {report['run']['duration_ms'] / 1000:.1f} s")
    if a.command:
        w(f"- Command: `{a.command}`")
    w("- Not part of CI: `scripts/interop/ai-maestro.sh` reproduces it (needs Node 20 and the npm registry).\n")

    w("## Summary\n")
    order = ["pass", "fail", "warn", "skip", "blocked", "info", "error", "xfail", "xpass"]
    w("| " + " | ".join(order) + " | total |")
    w("|" + "---|" * (len(order) + 1))
    w("| " + " | ".join(str(counts.get(v, 0)) for v in order) + f" | {summary['total']} |\n")
    w(f"Hand triage of the {len(non_pass)} non-pass verdicts (every fail, warn, info, blocked, error): "
      f"**{kinds['deviation']} true deviations** of the provider, **{kinds['tool']} false verdicts of the "
      f"tool** ({tool_open} still open), {kinds['harness']} harness problems, {kinds['ok']} correct as "
      f"reported (blocked by a probe that names its reason, informational, or a warning citing a spec "
      f"contradiction), **{kinds['untriaged']} untriaged**.\n")

    runner_roots = report.get("root_causes")
    if runner_roots:
        w("### Root causes as the tool reported them\n")
        for r in runner_roots:
            if isinstance(r, dict) and "summary" in r:
                ids = r.get("cases") or []
                w(f"- **{r.get('key', '?')}** ({r.get('kind', '?')}, {r.get('clause', '')}): "
                  f"{one_line(r['summary'], 600)} — {len(ids)} case(s)"
                  + (": " + ", ".join(f"`{i}`" for i in ids) if ids else ""))
            else:
                w(f"- {cell(json.dumps(r, ensure_ascii=False))}")
        w("")

    w("## Root causes (hand triage)\n")
    ordered = sorted(by_cause, key=lambda k: (list(KIND_LABEL).index(causes[k]["kind"]), -len(by_cause[k]), k))
    for key in ordered:
        cause = causes[key]
        hit = by_cause[key]
        status = f", {cause.get('status', 'open')}" if cause["kind"] == "tool" else ""
        clause = f" — {cause['clause']}" if cause.get("clause") else ""
        w(f"### {key}: {cause['title']}\n")
        w(f"*{KIND_LABEL[cause['kind']]}{status}{clause}; {len(hit)} verdict(s): "
          + ", ".join(f"`{c['id']}` ({c['verdict']})" for c in hit) + "*\n")
        if cause.get("basis"):
            w(f"Basis in the spec: {cause['basis']}.\n")
        w(cause["text"].strip() + "\n")

    earlier = [k for k, c in causes.items() if c["kind"] == "tool" and k not in by_cause]
    if earlier:
        w("## False verdicts of the tool found by earlier runs\n")
        w("Judged against this provider in earlier runs (see Runs below), or found while triaging this "
          "one; none of them is a fail, warn, info or blocked verdict of this run (an open one may "
          "still show as a skip, which its text names).\n")
        for key in sorted(earlier):
            cause = causes[key]
            ids = sorted(cid for cid, e in case_triage.items()
                         if key in (e["cause"], *e.get("by_verdict", {}).values()))
            w(f"- **{key}** ({cause.get('status', 'open')}; {cause.get('clause', '')}): {cause['title']}. "
              f"{one_line(cause['text'], 900)} Cases: " + ", ".join(f"`{i}`" for i in ids) + ".")
        w("")

    runs = triage.get("run", [])
    if runs:
        w("## Runs\n")
        w("| when | tool | pass | fail | warn | skip | blocked | info | error | wall time | note |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in runs:
            c = r["counts"]
            w(f"| {r['when']} | `{r['tool']}` | " + " | ".join(str(c.get(v, 0)) for v in
              ("pass", "fail", "warn", "skip", "blocked", "info", "error"))
              + f" | {r['seconds']} s | {cell(r.get('note', ''))} |")
        w(f"| this run | `{a.tool_commit}` | " + " | ".join(str(counts.get(v, 0)) for v in
          ("pass", "fail", "warn", "skip", "blocked", "info", "error"))
          + f" | {report['run']['duration_ms'] / 1000:.1f} s | |")
        w("")

    w("## Every non-pass verdict\n")
    w("| case | verdict | clauses | triage | note | tool's reason |")
    w("|---|---|---|---|---|---|")
    for c in sorted(non_pass, key=lambda c: c["id"]):
        j = judged(c)
        if j:
            tri, note = f"{causes[j[0]]['kind']}: {j[0]}", j[1]
        else:
            tri, note = "**UNTRIAGED**", ""
        reason = c.get("reason")
        if c.get("blocked_by"):
            reason = f"blocked by `{c['blocked_by']}`: {reason or ''}"
        w(f"| `{c['id']}` | {c['verdict']} | {', '.join(c['clauses'])} | {tri} | {cell(note)} | "
          f"{cell(one_line(reason, 260))} |")
    w("")
    if untriaged:
        w("**Untriaged** (no hand judgment yet): " + ", ".join(f"`{c['id']}`" for c in untriaged) + "\n")
    if stale:
        w("Triaged in earlier runs but not non-pass in this one (fixed in the tool or no longer reached): "
          + ", ".join(f"`{s}`" for s in stale) + "\n")

    findings = triage.get("finding", [])
    if findings:
        w("## Found outside the suite's verdicts\n")
        w("Checked by hand against the provider on loopback or in its source, each with whether the "
          "suite judges it now.\n")
        for f_ in findings:
            w(f"- **{f_['title']}** ({f_.get('clause', '')}; {f_.get('status', 'open')}). {one_line(f_['text'], 2000)}")
        w("")

    w("## Skips\n")
    skips = collections.defaultdict(list)
    for c in cases:
        if c["verdict"] == "skip":
            skips[one_line(c.get("reason"), 140)].append(c["id"])
    w("| n | reason | cases |")
    w("|---|---|---|")
    for reason, ids in sorted(skips.items(), key=lambda kv: -len(kv[1])):
        w(f"| {len(ids)} | {cell(reason)} | {', '.join(ids)} |")
    w("")

    w("## Leftovers\n")
    before, after = load_inventory(a.inventory_before), load_inventory(a.inventory_after)
    claimed = report.get("leftovers", [])
    w(f"- The run's own account (`leftovers` in the JSON): {len(claimed)} entr"
      + ("y" if len(claimed) == 1 else "ies"))
    for entry in claimed:
        addr = entry.get("address", "?")
        there = ""
        if after is not None:
            there = (" — still in the provider's list" if addr.lower() in {x.lower() for x in after}
                     else " — **not** in the provider's list after the run (gone)")
        w(f"  - `{addr}` ({entry.get('case', '?')}): {one_line(entry.get('reason'), 300)}{there}")
    if before is not None and after is not None:
        added = sorted(set(after) - set(before))
        gone = sorted(set(before) - set(after))
        w(f"- The provider's own agent list (`GET /agents`, same tenant) before the run: {len(before)}, "
          f"after: {len(after)}; registered by the run and still there: {len(added)}"
          + (": " + ", ".join(f"`{x}`" for x in added) if added else "")
          + (f"; present before and gone after: {len(gone)}" if gone else ""))
    w("")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
