#!/usr/bin/python3
"""Aggregates the scoreboard's score files (scripts/accuracy, docs/accuracy.md).

Reads OUT/cases.tsv and, per case, OUT/cases/<id>/score.json (records written by musclecsa_score)
or its failure files (failed.stage, failed.exit_code, failed.log naming the log). Writes
OUT/summary.json (every record of every case, plus one entry per case with its status) and
OUT/summary.md (a table per subject and modality), each through a temporary file and a rename.
Standard library only.
"""

import argparse
import datetime
import json
import os
import statistics
import sys

CASE_COLUMNS = ["case_id", "subject", "kind", "region", "modality", "acquisition", "noise_sd", "septa",
                "septum_width_mm", "septum_fat_fraction", "fat_infiltration", "seed", "anatomy", "exclude_subject"]
EVIDENCE_KINDS = ("semi-real", "real")


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def load_cases(args):
    cases, records = [], []
    with open(args.cases, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            case = dict(zip(CASE_COLUMNS, line.rstrip("\n").split("\t")))
            folder = os.path.join(args.out, "cases", case["case_id"])
            score_file = os.path.join(folder, "score.json")
            if os.path.exists(score_file):
                try:
                    case_records = json.loads(read_text(score_file))
                    if not isinstance(case_records, list):
                        raise ValueError("not a JSON array")
                except ValueError as e:
                    case.update(status="failed", stage="summary", exit_code=None,
                                stderr_tail=f"{score_file}: unreadable score file: {e}")
                    cases.append(case)
                    continue
                for r in case_records:
                    r["case_kind"] = case["kind"]
                records.extend(case_records)
                time_file = os.path.join(folder, "time_s")
                case.update(status="scored", records=len(case_records),
                            time_s=int(read_text(time_file)) if os.path.exists(time_file) else None)
            elif os.path.exists(os.path.join(folder, "failed.stage")):
                log = os.path.join(folder, read_text(os.path.join(folder, "failed.log")).strip())
                tail = read_text(log).splitlines()[-12:] if os.path.exists(log) else ["(no log)"]
                case.update(status="failed", stage=read_text(os.path.join(folder, "failed.stage")).strip(),
                            exit_code=int(read_text(os.path.join(folder, "failed.exit_code")).strip()),
                            stderr_tail="\n".join(tail))
            else:
                case.update(status="not_run", stage=None, exit_code=None,
                            stderr_tail="no score and no failure recorded (interrupted run?)")
            cases.append(case)
    return cases, records


def row_stats(records):
    groups = [r for r in records if r["kind"] == "group"]
    muscles = [r for r in records if r["kind"] == "muscle"]
    return {
        "group_dice": mean(r["dice"] for r in groups),
        "muscle_dice": mean(r["dice"] for r in muscles),
        "group_csa_level": mean(abs(r["csa_level_error_pct"]) if r["csa_level_error_pct"] is not None else None
                                for r in groups),
        "group_csa_slices": mean(r["csa_slices_mean_abs_error_pct"] for r in groups),
        "group_ff": mean(abs(r["ff_error_points"]) if r["ff_error_points"] is not None else None for r in groups),
    }


def markdown(args, cases, records, created):
    lines = [
        "# Accuracy scoreboard",
        "",
        f"- created {created} from commit `{args.commit}`; run time {args.run_time_s // 60} min {args.run_time_s % 60:02d} s",
        f"- phantoms: **{args.mode}**" + (" (drawn from the segmenter's own layout: plumbing only, NOT accuracy evidence)"
                                          if args.mode == "analytic" else ""),
        "- leave-one-subject-out: " + ("analyze --atlas-exclude-subject on every case" if args.exclude_supported == "1"
                                       else "recorded only (this analyze uses no atlas and has no --atlas-exclude-subject)"),
        f"- cases: {len(cases)} ({sum(c['status'] == 'scored' for c in cases)} scored, "
        f"{sum(c['status'] == 'failed' for c in cases)} failed, {sum(c['status'] == 'not_run' for c in cases)} not run)",
        "",
        "Means over cases and both sides. Group Dice: quadriceps, hamstrings, adductors (calf: the four compartments); "
        "muscle Dice: every listed muscle (sartorius and gracilis included). CSA errors are mean absolute % "
        "(at the standard level; over slices where the truth has >= 1 cm2); FF error is mean absolute points (Dixon). "
        "n/a: not measurable (no level found, or no fat fraction).",
        "",
        "| subject | kind | modality | cases | group Dice | muscle Dice | group CSA error at level (%) "
        "| group CSA error over slices (%) | group FF error (points) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = []
    for c in cases:
        key = (c["subject"], c["kind"], c["modality"])
        if key not in keys:
            keys.append(key)
    for subject, kind, modality in keys:
        rs = [r for r in records if r["subject"] == subject and r["case_kind"] == kind and r["modality"] == modality]
        cs = [c for c in cases if (c["subject"], c["kind"], c["modality"]) == (subject, kind, modality)]
        failed = sum(c["status"] != "scored" for c in cs)
        s = row_stats(rs)
        label = kind + (" (NOT evidence)" if kind == "analytic" else "")
        lines.append(f"| {subject} | {label} | {modality} | {len(cs)}" + (f" ({failed} failed)" if failed else "") +
                     f" | {fmt(s['group_dice'], 3)} | {fmt(s['muscle_dice'], 3)} | {fmt(s['group_csa_level'], 1)}"
                     f" | {fmt(s['group_csa_slices'], 1)} | {fmt(s['group_ff'], 1)} |")
    evidence = [r for r in records if r["case_kind"] in EVIDENCE_KINDS]
    analytic = [r for r in records if r["case_kind"] == "analytic"]
    for name, rs in (("**mean, accuracy evidence (semi-real + real)**", evidence),
                     ("**mean, analytic phantoms (NOT accuracy evidence)**", analytic)):
        if rs:
            s = row_stats(rs)
            lines.append(f"| {name} | | | | {fmt(s['group_dice'], 3)} | {fmt(s['muscle_dice'], 3)} | "
                         f"{fmt(s['group_csa_level'], 1)} | {fmt(s['group_csa_slices'], 1)} | {fmt(s['group_ff'], 1)} |")

    # The targets: listed muscles, worst subject, and values off by > 15% without a flag.
    listed = ("rectus_femoris", "vastus_lateralis", "vastus_medialis", "vastus_intermedius",
              "gastrocnemius_medial", "gastrocnemius_lateral", "soleus")
    if evidence:
        groups = [r for r in evidence if r["kind"] == "group"]
        by_subject = {}
        for r in groups:
            by_subject.setdefault(r["subject"], []).append(r["dice"])
        worst = min(((mean(v), k) for k, v in by_subject.items() if mean(v) is not None), default=(None, ""))
        level = [r for r in groups if r.get("csa_level_error_pct") is not None]
        level_bad = [r for r in level if abs(r["csa_level_error_pct"]) > 15]
        level_bad_unflagged = [r for r in level_bad if not r.get("csa_level_withheld")]
        withheld = [r for r in groups if r.get("csa_level_withheld")]
        slices_bad = sum(r.get("csa_slices_over_15pct", 0) for r in groups)
        slices_bad_unflagged = sum(r.get("csa_slices_over_15pct_unflagged", 0) for r in groups)
        slices_all = sum(r.get("csa_slices_count", 0) for r in groups)
        lines += ["", "## Targets (accuracy evidence)", "",
                  "| measure | value |", "|---|---|",
                  f"| listed muscles Dice ({', '.join(listed)}) | {fmt(mean(r['dice'] for r in evidence if r['structure'] in listed), 3)} |",
                  f"| group Dice, worst subject | {fmt(worst[0], 3)} ({worst[1]}) |",
                  f"| group CSA at the level: worst absolute error (%) | "
                  f"{fmt(max((abs(r['csa_level_error_pct']) for r in level), default=None), 1)} |",
                  f"| group values at the level withheld (low confidence) | {len(withheld)} of {len(level) + len([r for r in withheld if r.get('csa_level_error_pct') is None])} |",
                  f"| group values at the level off by > 15% | {len(level_bad)}, of which not withheld: {len(level_bad_unflagged)} |",
                  f"| group values per slice off by > 15% | {slices_bad} of {slices_all} group-slices, of which not flagged: {slices_bad_unflagged} |"]

    real = [r for r in records if r["case_kind"] == "real"]
    if real:
        lines += ["", "## Real images: Dice per group and side", "",
                  "Reference: nnU-Net predictions shipped with the images (a model, not manual labels); "
                  "adductors are one group in the reference. CSA over slices: mean absolute %.", "",
                  "| case | side | quadriceps | hamstrings | adductors | sartorius | gracilis | all muscle | "
                  "all muscle CSA over slices (%) | all muscle FF error (points) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for case_id in sorted({r["case_id"] for r in real}):
            for side in ("right", "left"):
                by = {r["structure"]: r for r in real if r["case_id"] == case_id and r["side"] == side}
                if not by:
                    continue
                d = lambda k: fmt(by[k]["dice"], 3) if k in by else "n/a"
                m = by.get("muscle", {})
                lines.append(f"| {case_id} | {side} | {d('quadriceps')} | {d('hamstrings')} | {d('adductors')} | "
                             f"{d('sartorius')} | {d('gracilis')} | {d('muscle')} | "
                             f"{fmt(m.get('csa_slices_mean_abs_error_pct'), 1)} | {fmt(m.get('ff_error_points'), 1)} |")

    bad = [c for c in cases if c["status"] != "scored"]
    lines += ["", "## Failed cases", ""]
    if not bad:
        lines.append("none")
    else:
        lines += ["| case | status | stage | exit code | last line of its log |", "|---|---|---|---|---|"]
        for c in bad:
            last = (c.get("stderr_tail") or "").strip().splitlines()
            last = last[-1].replace("|", "\\|") if last else ""
            lines.append(f"| {c['case_id']} | {c['status']} | {c.get('stage') or ''} | {c.get('exit_code')} | {last} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--run-time-s", type=int, required=True)
    p.add_argument("--exclude-supported", default="0")
    args = p.parse_args()
    cases, records = load_cases(args)
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = {
        "format": "musclecsa-accuracy-summary",
        "version": 1,
        "created_utc": created,
        "git_commit": args.commit,
        "phantoms": args.mode,
        "leave_one_subject_out": "analyze --atlas-exclude-subject" if args.exclude_supported == "1" else "recorded only",
        "run_time_s": args.run_time_s,
        "cases": cases,
        "records": records,
    }
    write_atomically(os.path.join(args.out, "summary.json"), json.dumps(summary, indent=1) + "\n")
    write_atomically(os.path.join(args.out, "summary.md"), markdown(args, cases, records, created))
    failed = [c for c in cases if c["status"] != "scored"]
    for c in failed:
        print(f"scripts/accuracy: case {c['case_id']} {c['status']}" +
              (f" in {c['stage']} (exit {c['exit_code']})" if c.get("stage") else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
