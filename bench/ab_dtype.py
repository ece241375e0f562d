#!/usr/bin/env python3
"""A/B of one policy in bf16 against fp32 storage on the same layers, in one session (bench/README.md).

    bench/ab_dtype.py --bench BUILD/bench/fftconv_bench [--rounds 3] [--limit 1.1] [--out DIR] [-- BENCH ARGS]

Runs fftconv_bench --rounds times (default: --host --only headline --policies fft --passes step --no-baseline);
each run times every layer in both dtypes one after the other (--dtype fp32,bf16), and alternate rounds swap the
order (bf16,fp32), so that neither dtype always runs second. A layer's time per dtype is the median over the
rounds of each round's median; the verdict is bf16 / fp32 <= --limit. Beside it, the median over the rounds of
each round's own bf16 / fp32 (the two ran back to back, so a load change between rounds cancels), and each
round's load average: on a shared machine the rounds can differ by more than the dtypes do. Prints a Markdown table and writes
ab_dtype_<date>.json (each round's result files in <date>_round<k>/ beside it) to --out.
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


def run_round(bench, out_dir, order, extra):
    # One folder per round: the bench names its files by the second, which two quick rounds may share.
    os.makedirs(out_dir, exist_ok=True)
    before = set(glob.glob(os.path.join(out_dir, "*.json")))
    command = [bench, "--out", out_dir, "--dtype", ",".join(order)] + extra
    print("ab_dtype: " + " ".join(command), flush=True)
    status = subprocess.call(command)
    if status >= 2:  # 1: a check failed or a contestant threw, which the table shows; >= 2: nothing written
        sys.exit(f"ab_dtype: fftconv_bench exited {status}")
    written = sorted(set(glob.glob(os.path.join(out_dir, "*.json"))) - before)
    if not written:
        sys.exit("ab_dtype: fftconv_bench wrote no JSON")
    with open(written[-1]) as f:
        return written[-1], json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", required=True, help="the fftconv_bench executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.1, help="largest bf16 / fp32 time that passes")
    parser.add_argument("--policy", default="fft", help="the policy compared (its name in the JSON)")
    parser.add_argument("--out", default="build-bench-results/ab_dtype", help="where the JSON files go")
    parser.add_argument("--from-rounds", nargs="+", metavar="JSON",
                        help="summarise these rounds' result files instead of running the bench")
    parser.add_argument("bench_args", nargs="*", help="after --: fftconv_bench's selection (replaces the default)")
    args = parser.parse_args()
    extra = args.bench_args or ["--host", "--only", "headline", "--policies", args.policy, "--passes", "step",
                                "--no-baseline"]
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    os.makedirs(args.out, exist_ok=True)

    samples = {}  # (label, pass) -> {dtype: [round medians]}
    files, loads = [], []
    environment = None
    session = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rounds = []
    if args.from_rounds:
        for path in args.from_rounds:
            with open(path) as f:
                rounds.append((path, json.load(f)))
    for r in range(0 if args.from_rounds else args.rounds):
        order = ["fp32", "bf16"] if r % 2 == 0 else ["bf16", "fp32"]
        rounds.append(run_round(args.bench, os.path.join(args.out, f"{session}_round{r + 1}"), order, extra))
    for path, doc in rounds:
        files.append(os.path.relpath(path, args.out))
        loads.append([doc.get("environment", {}).get("load_average_at_start"), doc.get("summary", {}).get("load_average")])
        environment = environment or doc.get("environment")
        for case in doc.get("cases", []):
            for result in case.get("results", []):
                if result.get("impl") == args.policy and result.get("status") == "ok":
                    key = (case["label"], case["pass"])
                    samples.setdefault(key, {}).setdefault(case.get("dtype", "fp32"), []).append(result["median_ms"])

    rows, worst = [], 0.0
    print(f"\n{args.policy}: bf16 / fp32 storage, median over {len(rounds)} rounds of each round's median "
          f"(limit {args.limit}); load average per round (start, end): {loads}\n")
    print("| layer | pass | fp32 ms | bf16 ms | bf16 / fp32 | median of paired ratios | rounds fp32 | rounds bf16 |")
    print("|---|---|---|---|---|---|---|---|")
    for (label, pass_name), by_dtype in samples.items():
        fp32, bf16 = by_dtype.get("fp32", []), by_dtype.get("bf16", [])
        if not fp32 or not bf16:
            continue
        a, b = statistics.median(fp32), statistics.median(bf16)
        ratio = b / a
        paired = statistics.median(y / x for x, y in zip(fp32, bf16))
        worst = max(worst, ratio)
        rows.append({"label": label, "pass": pass_name, "fp32_ms": a, "bf16_ms": b, "ratio": ratio,
                     "paired_ratio_median": paired, "fp32_rounds_ms": fp32, "bf16_rounds_ms": bf16})
        fmt = lambda values: ", ".join(f"{v:.4g}" for v in values)
        print(f"| {label} | {pass_name} | {a:.4g} | {b:.4g} | {ratio:.3f} | {paired:.3f} | {fmt(fp32)} | {fmt(bf16)} |")
    verdict = bool(rows) and worst <= args.limit
    print(f"\nworst bf16 / fp32: {worst:.3f}: {'within' if verdict else 'over'} {args.limit}")
    stamp = session
    summary = {"schema": "fftconv-ab-dtype/1", "date": stamp, "policy": args.policy, "rounds": len(rounds),
               "load_average_per_round": loads,
               "bench_args": extra, "limit": args.limit, "worst_ratio": worst, "within_limit": verdict,
               "environment": environment, "round_files": files, "rows": rows}
    path = os.path.join(args.out, f"ab_dtype_{stamp}.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"wrote {path}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
