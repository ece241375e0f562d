#!/usr/bin/env python3
"""Plots of an fftconv_bench JSON file (bench/results/README.md describes the format).

    plot.py RESULT.json [--out DIR]     PNGs next to RESULT.json (or in DIR)
    plot.py --latest DIR [--out DIR]    the newest *.json in DIR
    plot.py RESULT.json --table         a Markdown table of the headline layers on stdout (no matplotlib needed)

Writes <stem>_<group>.png for each sweep (median time vs the swept value, one line per implementation, the
p10-p90 band shaded; forward and step side by side) and <stem>_headline.png (speed-up of each policy over the
run's baseline per headline layer: cuDNN on the GPU, oneDNN on the host; over naive when the run had no
baseline). A run with several storage types (--dtype fp32,bf16) gets each set of files per type, named
<stem>_<dtype>_<group>.png, and one table per type. Needs matplotlib only.
"""
import argparse
import glob
import json
import os
import sys

plt = None  # matplotlib.pyplot, imported when a plot is drawn (--table needs none)


def load_pyplot():
    global plt
    try:
        import matplotlib
    except ImportError:
        # 77: CTest's skip code, so a machine without matplotlib reports the plot test as skipped, not passed
        print(f"plot.py: matplotlib is not installed for {sys.executable} (Debian: python3-matplotlib)")
        sys.exit(77)

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot

    plt = matplotlib.pyplot

SWEEPS = ["functional_input", "functional_kernel", "functional_dims", "network_input", "network_kernel",
          "network_batch", "scale", "depthwise", "stem", "causal"]
# vendor (the policy: oneDNN / cuDNN through fftconv::conv) in the baseline's hue, a shade apart.
COLORS = {"cudnn": "black", "onednn": "tab:green", "naive": "tab:gray", "im2col": "tab:blue", "fft": "tab:red",
          "vendor": "tab:olive", "automatic": "tab:purple"}
MARKERS = {"cudnn": "s", "onednn": "D", "naive": "x", "im2col": "o", "fft": "^", "vendor": "P", "automatic": "v"}


def device_title(doc):
    env = doc.get("environment", {})
    if doc.get("mode") == "gpu":
        where = f"{env.get('gpu', '?')} (GPU, CUDA events)"
    else:
        where = f"host CPU {env.get('cpu', '?')}: CPU wall time, not GPU results"
    quick = ", --quick sizes" if doc.get("quick") else ""
    storage = {c.get("dtype", "fp32") for c in doc.get("cases", [])}
    dtype = f", {storage.pop()} storage" if len(storage) == 1 and storage != {"fp32"} else ""
    return f"{where}, {doc.get('date', '')}{quick}{dtype}"


def by_dtype(doc):
    """(dtype, the document with that dtype's cases only) for each storage type in the run, fp32 first."""
    dtypes = sorted({c.get("dtype", "fp32") for c in doc.get("cases", [])}, key=lambda d: (d != "fp32", d))
    return [(d, dict(doc, cases=[c for c in doc["cases"] if c.get("dtype", "fp32") == d])) for d in dtypes]


def sweep_label(cases):
    """The swept quantity and what stays fixed, read from the cases (so --quick runs are labelled right)."""
    c = cases[0]
    sweep = c["sweep"]
    fixed = []
    if c["kind"] == "network":
        fixed.append("network conv 3→16")
    else:
        fixed.append(f"{c['in_channels']}→{c['out_channels']} ch")
        if c.get("groups", 1) != 1:
            fixed.append(f"groups {c['groups']}")
        if sweep != "dims":
            fixed.append(f"{c['dims']}D")
        low, high = c.get("padding", [0])[0], c.get("padding_high", c.get("padding", [0]))[0]
        if sweep != "stride" and c.get("stride", [1])[0] != 1:
            fixed.append(f"stride {c['stride'][0]}")
        if low or high:
            fixed.append(f"padding {low}" + (f",{high}" if high != low else ""))
    if sweep != "input size":
        fixed.append(f"n={c['input'][0]}")
    if sweep != "kernel size":
        fixed.append(f"k={c['kernel'][0]}")
    if sweep != "batch size":
        fixed.append(f"batch {c['batch']}")
    return f"{sweep} ({', '.join(fixed)})"


def implementations(doc):
    return ([doc["baseline"]] if doc.get("baseline") else []) + list(doc.get("policies", []))


def ok_results(case):
    return {r["impl"]: r for r in case["results"] if r.get("status") == "ok"}


def plot_sweep(doc, group, out_path):
    cases = [c for c in doc["cases"] if c["group"] == group and "kind" in c]  # not cases that failed whole
    if not cases:
        return False
    xlabel = sweep_label(cases)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
    for ax, pass_name in zip(axes, ["fwd", "step"]):
        rows = sorted((c for c in cases if c["pass"] == pass_name), key=lambda c: c["x"])
        for impl in implementations(doc):
            xs, med, lo, hi = [], [], [], []
            for c in rows:
                r = ok_results(c).get(impl)
                if r is None:
                    continue
                xs.append(c["x"])
                med.append(r["median_ms"])
                lo.append(r["p10_ms"])
                hi.append(r["p90_ms"])
            if not xs:
                continue
            color = COLORS.get(impl)
            ax.plot(xs, med, marker=MARKERS.get(impl, "."), markersize=4, color=color, label=impl)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, linewidth=0)
        skipped = sorted({r["impl"] for c in rows for r in c["results"] if r.get("status") == "skipped"})
        title = {"fwd": "forward", "step": "training step" if rows and rows[0].get("kind") == "network"
                 else "step (forward + backward data + backward filter)"}[pass_name]
        if skipped:
            title += f"\n(skipped where too slow: {', '.join(skipped)})"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("median time per call [ms]")
        ax.set_yscale("log")
        if group == "functional_dims":
            ax.set_xticks([1, 2, 3])
            ax.set_xticklabels(["1D", "2D", "3D"])
        if group == "stem":
            ax.set_xticks(sorted({c["x"] for c in rows}))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{group}: {device_title(doc)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return True


def plot_headline(doc, out_path):
    cases = [c for c in doc["cases"] if c["group"] == "headline" and "kind" in c]
    if not cases:
        return False
    baseline = doc.get("baseline") or "naive"
    fig, axes = plt.subplots(2, 1, figsize=(13, 8))
    for ax, pass_name in zip(axes, ["fwd", "step"]):
        rows = [c for c in cases if c["pass"] == pass_name]
        # Only policies with at least one bar get a slot (naive is skipped on the large layers).
        policies = [p for p in doc.get("policies", []) if p != baseline and
                    any(p in ok_results(c) and baseline in ok_results(c) for c in rows)]
        labels = [f"{c['dims']}D {c['batch']}×{c['in_channels']}→{c['out_channels']}\n"
                  f"n={c['input'][0]} k={c['kernel'][0]}" for c in rows]
        width = 0.8 / max(1, len(policies))
        for j, impl in enumerate(policies):
            xs, speedups = [], []
            for i, c in enumerate(rows):
                ok = ok_results(c)
                if impl in ok and baseline in ok:
                    xs.append(i - 0.4 + width * (j + 0.5))
                    speedups.append(ok[baseline]["median_ms"] / ok[impl]["median_ms"])
            bars = ax.bar(xs, speedups, width=width, color=COLORS.get(impl), label=impl)
            for bar, s in zip(bars, speedups):
                ax.annotate(f"{s:.2g}", (bar.get_x() + bar.get_width() / 2, s), ha="center", va="bottom",
                            fontsize=6)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel(f"speed-up over {baseline} (×)")
        title = "forward" if pass_name == "fwd" else "step (forward + backward data + backward filter)"
        missing = sorted({r["impl"] for c in rows for r in c["results"] if r.get("status") != "ok"})
        if missing:
            title += f" (missing bars: {', '.join(missing)} skipped or failed there, see the JSON)"
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"headline layers, 'same' padding: {device_title(doc)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return True


def headline_table(doc):
    """Markdown: per headline layer, each implementation's fwd / step median, its ratio to the baseline and the
    workspace it held for the step."""
    cases = [c for c in doc["cases"] if c["group"] == "headline" and "kind" in c]
    baseline = doc.get("baseline")
    impls = implementations(doc)
    by_label = {}
    for c in cases:
        by_label.setdefault(c["label"], {})[c["pass"]] = ok_results(c)
    head = ["layer"] + [f"{i} fwd / step ms" for i in impls]
    head += [f"{i} / {baseline} (fwd, step)" for i in impls if baseline and i != baseline]
    head += [f"{i} workspace MiB (step)" for i in impls]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def ms(r):
        if r is None:
            return "—"
        return f"{r['median_ms']:.4g}" if r["median_ms"] < 1e4 else f"{r['median_ms']:.0f}"

    for label, passes in by_label.items():
        fwd, step = passes.get("fwd", {}), passes.get("step", {})
        row = [label.replace("x", "×").replace("->", "→")]
        row += [f"{ms(fwd.get(i))} / {ms(step.get(i))}" for i in impls]
        for i in impls:
            if not baseline or i == baseline:
                continue
            ratios = [f"{p[i]['ratio_to_baseline']:.2f}" if i in p and "ratio_to_baseline" in p[i] else "—"
                      for p in (fwd, step)]
            row.append(", ".join(ratios))
        row += ["—" if i not in step or "workspace_bytes" not in step[i] else f"{step[i]['workspace_bytes'] / 2**20:.0f}"
                for i in impls]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", nargs="?", help="an fftconv_bench JSON file")
    parser.add_argument("--latest", metavar="DIR", help="plot the newest *.json in DIR")
    parser.add_argument("--out", metavar="DIR", help="where the PNGs go (default: next to the JSON)")
    parser.add_argument("--table", action="store_true", help="print the headline layers as a Markdown table")
    args = parser.parse_args()
    path = args.result
    if args.latest:
        found = sorted(glob.glob(os.path.join(args.latest, "*.json")), key=os.path.getmtime)
        if not found:
            sys.exit(f"plot.py: no *.json in {args.latest}")
        path = found[-1]
    if not path:
        parser.error("give a JSON file or --latest DIR")
    with open(path) as f:
        doc = json.load(f)
    parts = by_dtype(doc)
    if args.table:
        for dtype, part in parts:
            if len(parts) > 1:
                print(f"\n{dtype} storage:\n")
            print(headline_table(part))
        return
    load_pyplot()
    out_dir = args.out or os.path.dirname(os.path.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0])
    written = []
    for dtype, part in parts:
        prefix = f"{stem}_{dtype}" if len(parts) > 1 else stem
        for group in SWEEPS:
            if plot_sweep(part, group, f"{prefix}_{group}.png"):
                written.append(f"{prefix}_{group}.png")
        if plot_headline(part, f"{prefix}_headline.png"):
            written.append(f"{prefix}_headline.png")
    if not written:
        sys.exit(f"plot.py: {path} holds no cases to plot")
    for w in written:
        print(f"wrote {w}")


if __name__ == "__main__":
    main()
