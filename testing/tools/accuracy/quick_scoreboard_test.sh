#!/usr/bin/env bash
# ctest Accuracy.QuickScoreboardWritesScoredRecords: runs scripts/accuracy --quick into a fresh
# folder and checks the summary's structure and that the scores are numbers. No threshold on the
# method's accuracy. Usage: quick_scoreboard_test.sh SCRIPT BIN_DIR
set -euo pipefail
script=$1 bin_dir=$2
out=$(mktemp -d "${TMPDIR:-/tmp}/musclecsa-accuracy-quick.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$script" --quick --bin-dir "$bin_dir" --out "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, math, os, sys
out = sys.argv[1]
s = json.load(open(os.path.join(out, "summary.json")))
errors = []
def need(cond, what):
    if not cond: errors.append(what)
need(s.get("format") == "musclecsa-accuracy-summary" and s.get("version") == 1, "format/version")
need(s.get("phantoms") in ("analytic", "semi-real"), "phantoms: " + str(s.get("phantoms")))
need(isinstance(s.get("git_commit"), str) and s["git_commit"], "git_commit")
need(isinstance(s.get("run_time_s"), int), "run_time_s")
cases, records = s.get("cases", []), s.get("records", [])
need(len(cases) == 4, f"--quick runs 4 cases (2 subjects x CT, Dixon), got {len(cases)}")
for c in cases:
    need(c["status"] == "scored", f"case {c['case_id']}: {c['status']} {c.get('stage')} {c.get('stderr_tail')}")
need({c["region"] for c in cases} == {"thigh", "calf"}, "one thigh and one calf subject")
need({c["modality"] for c in cases} == {"ct", "mr-dixon"}, "CT and Dixon only")
num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
keys = ["case_id", "subject", "modality", "tags", "side", "structure", "kind", "dice", "csa_level_truth_cm2",
        "csa_level_result_cm2", "csa_level_error_pct", "csa_slices_mean_abs_error_pct", "csa_slices_worst_abs_error_pct",
        "ff_truth_pct", "ff_result_pct", "ff_error_points", "flags"]
for c in cases:
    rs = [r for r in records if r["case_id"] == c["case_id"]]
    need(len(rs) > 0, f"{c['case_id']}: no records")
    for side in ("right", "left"):
        groups = [r for r in rs if r["side"] == side and r["kind"] == "group"]
        need(len(groups) in (3, 4), f"{c['case_id']} {side}: {len(groups)} groups")
        need(any(r["structure"] == "muscle" for r in rs if r["side"] == side), f"{c['case_id']} {side}: no all-muscle record")
    for r in rs:
        missing = [k for k in keys if k not in r]
        need(not missing, f"{c['case_id']} {r.get('structure')}: missing {missing}")
        need(r["kind"] in ("muscle", "group", "tissue"), f"kind {r['kind']}")
        need(num(r["dice"]) and 0 <= r["dice"] <= 1, f"{c['case_id']} {r['side']} {r['structure']}: dice {r['dice']}")
        if r["truth_voxels"] > 0 and r["csa_slices_count"] > 0:
            need(num(r["csa_slices_mean_abs_error_pct"]), f"{r['structure']}: slice CSA error not a number")
        if r["kind"] == "group":
            # Every analytic and semi-real phantom holds its whole reference bone: both levels exist.
            need(num(r["csa_level_error_pct"]) or r["csa_level_note"], f"{r['structure']}: level error null without a reason")
            if c["modality"] == "mr-dixon":
                need(num(r["ff_error_points"]), f"{c['case_id']} {r['structure']}: Dixon FF error not a number")
            else:
                need(r["ff_error_points"] is None and r["ff_note"], f"{c['case_id']}: CT has an FF error")
md = open(os.path.join(out, "summary.md")).read()
need(s["git_commit"] in md and "| subject |" in md and "mean" in md, "summary.md table/stamp")
if errors:
    print("summary check failed:\n  " + "\n  ".join(errors[:40]))
    sys.exit(1)
print(f"summary check passed: {len(cases)} cases, {len(records)} records, phantoms {s['phantoms']}")
PY
