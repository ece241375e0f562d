#!/usr/bin/env python3
"""Is fftconv::automatic within --limit of the best policy on each headline row? (issue 23, bench/README.md)

    bench/ab_automatic.py --bench BUILD/bench/fftconv_bench [--rounds 3] [--limit 1.1] [--out DIR] [-- BENCH ARGS]

Runs fftconv_bench --rounds times (default: --host --only headline --policies naive,im2col,fft,vendor,automatic,
the oneDNN baseline on). Within a run every contestant times a row one right after the other (interleaved), each
after its own untimed first call, so automatic's times are those after its choice; the rounds repeat the whole
run. A policy's time on a row is the median over the rounds of each round's median. Per row: each policy's time,
the baseline's, the best of the candidates (every policy but automatic that ran; naive is skipped by the bench's
--naive-cap where its predicted time per call is over 1 s, which is every headline row on a 2-core host),
automatic / best and, beside it, the median of each round's own automatic / best (both ran in the same minute,
so a load change between rounds cancels), and automatic's choice in each round. The verdict is the worst
automatic / best <= --limit; a row over it prints automatic's choice() reason from each round. Prints a Markdown
table and writes ab_automatic_<date>.json (each round's result files in <date>_round<k>/ beside it) to --out.
OMP_WAIT_POLICY=passive unless set.
"""
import argparse
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys

CANDIDATES = ("naive", "im2col", "fft", "vendor")  # what automatic chooses among, as the bench names them


def run_round(bench, out_dir, extra):
    # One folder per round: the bench names its files by the second.
    os.makedirs(out_dir, exist_ok=True)
    before = set(glob.glob(os.path.join(out_dir, "*.json")))
    command = [bench, "--out", out_dir] + extra
    print("ab_automatic: " + " ".join(command), flush=True)
    status = subprocess.call(command)
    if status >= 2:  # 1: a check failed or a contestant threw, which the table shows; >= 2: nothing written
        sys.exit(f"ab_automatic: fftconv_bench exited {status}")
    written = sorted(set(glob.glob(os.path.join(out_dir, "*.json"))) - before)
    if not written:
        sys.exit("ab_automatic: fftconv_bench wrote no JSON")
    with open(written[-1]) as f:
        return written[-1], json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", help="the fftconv_bench executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.1, help="largest automatic / best time that passes")
    parser.add_argument("--out", default="build-bench-results/ab_automatic", help="where the JSON files go")
    parser.add_argument("--from-rounds", nargs="+", metavar="JSON",
                        help="summarise these rounds' result files instead of running the bench")
    parser.add_argument("bench_args", nargs="*", help="after --: fftconv_bench's selection (replaces the default)")
    args = parser.parse_args()
    if not args.from_rounds and not args.bench:
        parser.error("--bench is required unless --from-rounds is given")
    extra = args.bench_args or ["--host", "--only", "headline", "--policies", ",".join(CANDIDATES + ("automatic",))]
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    os.makedirs(args.out, exist_ok=True)

    session = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rounds = []
    if args.from_rounds:
        for path in args.from_rounds:
            with open(path) as f:
                rounds.append((path, json.load(f)))
    for r in range(0 if args.from_rounds else args.rounds):
        rounds.append(run_round(args.bench, os.path.join(args.out, f"{session}_round{r + 1}"), extra))

    # (label, pass) -> {impl: [one median per round]}, and automatic's choice and reason per round.
    samples, choices, reasons, statuses, order = {}, {}, {}, {}, []
    files, loads, baseline, environment = [], [], None, None
    for round_index, (path, doc) in enumerate(rounds):
        files.append(os.path.relpath(path, args.out))
        loads.append([doc.get("environment", {}).get("load_average_at_start"), doc.get("summary", {}).get("load_average")])
        environment = environment or doc.get("environment")
        baseline = baseline or doc.get("baseline")
        for case in doc.get("cases", []):
            key = (case["label"], case["pass"])
            if key not in samples:
                order.append(key)
            by_impl = samples.setdefault(key, {})
            for result in case.get("results", []):
                impl = result.get("impl")
                if result.get("status") == "ok":
                    by_impl.setdefault(impl, [None] * len(rounds))[round_index] = result["median_ms"]
                else:
                    statuses.setdefault(key, {})[impl] = f"{result.get('status')}: {result.get('reason', '')}"
                if impl == "automatic":
                    details = result.get("details", {})
                    choices.setdefault(key, []).append(details.get("choice", "-"))
                    reasons.setdefault(key, []).append(details.get("choice_reason", ""))

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    rows, worst, worst_row = [], 0.0, None
    shown = [c for c in CANDIDATES if any(c in samples[k] for k in order)]
    print(f"\nautomatic against the best of {{{', '.join(CANDIDATES)}}}: median over {len(rounds)} rounds of each "
          f"round's median ms (limit {args.limit}); baseline {baseline}; load average per round (start, end): {loads}\n")
    header = ["layer", "pass"] + [f"{c} ms" for c in shown] + ["automatic ms", f"{baseline} ms", "best",
                                                                 "automatic / best", "median of paired ratios",
                                                                 "automatic's choice per round"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for key in order:
        by_impl = samples[key]
        automatic = median(by_impl.get("automatic", []))
        times = {c: median(by_impl[c]) for c in CANDIDATES if c in by_impl}
        times = {c: t for c, t in times.items() if t is not None}
        if automatic is None or not times:
            print(f"| {key[0]} | {key[1]} | automatic or every candidate did not run: {statuses.get(key, {})} |")
            continue
        best = min(times, key=times.get)
        ratio = automatic / times[best]
        paired = []
        for r in range(len(rounds)):
            ran = [by_impl[c][r] for c in times if by_impl[c][r] is not None]
            if by_impl["automatic"][r] is not None and ran:
                paired.append(by_impl["automatic"][r] / min(ran))
        paired_ratio = statistics.median(paired) if paired else None
        base = median(by_impl.get(baseline, [])) if baseline else None
        if ratio > worst:
            worst, worst_row = ratio, key
        rows.append({"label": key[0], "pass": key[1], "median_ms": times, "automatic_ms": automatic,
                     "baseline_ms": base, "best": best, "ratio": ratio, "paired_ratio_median": paired_ratio,
                     "rounds_ms": by_impl, "choices": choices.get(key, []), "choice_reasons": reasons.get(key, []),
                     "not_run": statuses.get(key, {})})
        cell = lambda c: f"{times[c]:.4g}" if c in times else "skipped"
        print("| " + " | ".join([key[0], key[1]] + [cell(c) for c in shown] +
                                [f"{automatic:.4g}", f"{base:.4g}" if base is not None else "-", best, f"{ratio:.3f}",
                                 f"{paired_ratio:.3f}" if paired_ratio is not None else "-",
                                 ", ".join(choices.get(key, []))]) + " |")
    verdict = bool(rows) and worst <= args.limit
    print(f"\nworst automatic / best: {worst:.3f} ({' '.join(worst_row) if worst_row else '-'}): "
          f"{'within' if verdict else 'over'} {args.limit}")
    for row in rows:
        if row["ratio"] > args.limit:
            print(f"\n{row['label']} {row['pass']}: automatic {row['automatic_ms']:.4g} ms against {row['best']} "
                  f"{row['median_ms'][row['best']]:.4g} ms ({row['ratio']:.3f}); its choice() per round:")
            for choice, reason in zip(row["choices"], row["choice_reasons"]):
                print(f"  {choice}: {reason}")
    summary = {"schema": "fftconv-ab-automatic/1", "date": session, "rounds": len(rounds),
               "load_average_per_round": loads, "bench_args": extra, "baseline": baseline, "limit": args.limit,
               "worst_ratio": worst, "worst_row": list(worst_row) if worst_row else None, "within_limit": verdict,
               "environment": environment, "round_files": files, "rows": rows}
    path = os.path.join(args.out, f"ab_automatic_{session}.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"wrote {path}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
