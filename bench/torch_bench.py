#!/usr/bin/env python3
"""fftconv's PyTorch modules beside torch.nn.ConvNd on the C++ bench's headline layers.

    torch_bench.py [--device cpu|cuda] [--policy fft|im2col|naive|auto|all] [--passes fwd,step] [--repeats N]
                   [--match REGEX] [--quick] [--json PATH] [--overhead [--keep-spectra]] [--list]

Rows: the headline layers of bench/src/cases.hpp ('same' padding; 2D 32x64->64 at 64^2, k 3..31; 3D 8x16->16
at 32^3, k 3..9; 1D 16x32->32 at 16384, k 31..1023), labelled as the C++ bench labels them; --quick runs its
--quick sizes. Per row and pass, torch.nn.Conv{1,2,3}d (the baseline: on the CPU oneDNN or torch's own kernels,
cuDNN on the GPU) and fftconv.nn.FFTConv{1,2,3}d with the same weights, input and (step) output gradient:

- fwd: the module's forward under torch.no_grad();
- step: forward with autograd, then torch.autograd.grad for dx, dw and db (nothing accumulates into .grad).

Each contestant's first call is checked against torch's (relative L2: 1e-4 for y and dx, 1e-3 for dw and db,
as the C++ bench checks against oneDNN / cuDNN); fftconv's first call builds its plans and 'auto' measures its
candidates there. Then warm-up calls, then the repeats, interleaved across the contestants (torch, fft, torch,
fft, ...) so that a load change on a shared machine hits both. A contestant whose first call takes more than
--slow-call-seconds gets no further warm-up and --slow-repeats repeats; over --cap-seconds, one repeat (the JSON
and the printout say so). naive is skipped where its time, predicted from a calibration, exceeds
--naive-cap-seconds. On CUDA each call is timed by CUDA events after a synchronisation; TF32 is off.

--overhead (host only): per selected layer and policy, the operator torch.ops.fftconv.conv_forward's per-call
time beside fftconv._C.direct_forward's (a C++ caller's own layer, called into preallocated y and saved),
in one process, interleaved op, direct, op, direct, ...: --overhead-samples samples of each, a sample being the
mean over a block of calls; median per side, their difference in us and in %. keep_spectra is the same on both
sides (off by default, as a forward under no_grad; --keep-spectra for a training forward's).

The JSON (--json) follows the C++ bench's schema (bench/results/README.md) with "torch" as the baseline, so
`bench/plot.py FILE --table` and its plots read it; fields of its own: `torch_backend` (the convolution backend
torch selects), `note`, and `overhead`.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import time

import torch

import fftconv

# The C++ bench's names. No "vendor": the PyTorch package leaves fftconv::vendor out (python/README.md, "Why no
# vendor policy"), and torch's own convolution, this script's baseline, is the vendor's (oneDNN / cuDNN) here.
POLICY_IMPL = {"fft": "fft", "im2col": "im2col", "naive": "naive", "auto": "automatic"}  # the C++ bench's names
TOLERANCE = {"y": 1e-4, "dx": 1e-4, "dw": 1e-3, "db": 1e-3}


# ---------------------------------------------------------------------------------------------------------------
# Layers: bench/src/cases.hpp's headline set, 'same' padding (the span k - 1, floor half before).

class Layer:
    def __init__(self, dims, batch, in_channels, out_channels, n, k):
        self.dims, self.batch, self.in_channels, self.out_channels = dims, batch, in_channels, out_channels
        self.n, self.k = n, k
        self.low = (k - 1) // 2
        self.high = (k - 1) - self.low
        self.label = f"{dims}D {batch}x{in_channels}->{out_channels} n={n} k={k}"

    @property
    def x_shape(self):
        return (self.batch, self.in_channels) + (self.n,) * self.dims

    @property
    def y_shape(self):
        return (self.batch, self.out_channels) + (self.n + self.low + self.high - self.k + 1,) * self.dims

    def forward_macs(self):
        return math.prod(self.y_shape) * self.in_channels * self.k ** self.dims

    def counts(self):
        nx, ny = math.prod(self.x_shape), math.prod(self.y_shape)
        nw = self.out_channels * self.in_channels * self.k ** self.dims
        return nx, nw, self.out_channels, ny


def headline_layers(quick):
    if quick:
        return ([Layer(2, 2, 4, 8, 16, k) for k in (3, 5)] + [Layer(3, 1, 2, 4, 8, 3)] +
                [Layer(1, 2, 4, 4, 256, 31)])
    return ([Layer(2, 32, 64, 64, 64, k) for k in (3, 5, 7, 11, 15, 31)] +
            [Layer(3, 8, 16, 16, 32, k) for k in (3, 5, 7, 9)] +
            [Layer(1, 16, 32, 32, 16384, k) for k in (31, 127, 1023)])


# ---------------------------------------------------------------------------------------------------------------
# Timing

class Clock:
    """Seconds of one call: wall time on the host; on CUDA, events around the call after a synchronisation."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def time(self, fn):
        if self.cuda:
            torch.cuda.synchronize()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) / 1e3, out
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def percentile(sorted_values, q):
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (position - low) * (sorted_values[high] - sorted_values[low])


def stats_ms(samples_s):
    ms = sorted(s * 1e3 for s in samples_s)
    return {"reps": len(ms), "median_ms": percentile(ms, 0.5), "p10_ms": percentile(ms, 0.1),
            "p90_ms": percentile(ms, 0.9), "min_ms": ms[0], "max_ms": ms[-1], "mean_ms": sum(ms) / len(ms)}


def rel_l2(got, ref):
    got, ref = got.detach().double(), ref.detach().double()
    diff = (got - ref).norm().item()
    norm = ref.norm().item()
    return diff / norm if norm > 0 else diff


# ---------------------------------------------------------------------------------------------------------------
# Contestants

def conv_class(prefix, dims):
    return getattr(torch.nn if prefix == "torch" else fftconv.nn, f"{'Conv' if prefix == 'torch' else 'FFTConv'}{dims}d")


def torch_backend(module, x):
    """The backend torch's convolution dispatches to for this layer (mkldnn, cudnn, slow, ...), when it says."""
    try:
        backend = torch._C._select_conv_backend(x, module.weight, module.bias, module.stride,
                                                _explicit_padding(module), module.dilation, False,
                                                [0] * len(module.stride), module.groups, None)
        return str(backend).split(".")[-1]
    except Exception as e:  # a private API: its absence costs a detail only
        return f"unknown ({type(e).__name__})"


def _explicit_padding(module):
    k = module.weight.shape[2:]
    if module.padding == "same":
        return [(kk - 1) // 2 for kk in k]
    return list(module.padding)


def make_pass(module, x, dy, step):
    if step:
        xg = x.detach().requires_grad_(True)
        inputs = (xg, module.weight, module.bias)

        def run():
            y = module(xg)
            return (y,) + torch.autograd.grad(y, inputs, dy)
        return run

    def run():
        with torch.no_grad():
            return (module(x),)
    return run


def calibrate_naive(device, clock):
    """naive's forward multiply-adds per second on a small layer: predicts its time to enforce the cap."""
    layer = Layer(2, 1, 8, 8, 48, 5)
    m = fftconv.nn.FFTConv2d(8, 8, 5, padding="same", policy="naive").to(device)
    x = torch.randn(layer.x_shape, device=device)
    with torch.no_grad():
        m(x)
        seconds = min(clock.time(lambda: m(x))[0] for _ in range(3))
    fftconv.release_layers()
    return layer.forward_macs() / max(seconds, 1e-9)


def run_row(layer, step, policies, args, device, clock, naive_rate, seed):
    torch.manual_seed(seed)
    ref = conv_class("torch", layer.dims)(layer.in_channels, layer.out_channels, layer.k, padding="same").to(device)
    x = torch.randn(layer.x_shape, device=device)
    dy = torch.randn(layer.y_shape, device=device) if step else None
    names = ["y", "dx", "dw", "db"] if step else ["y"]
    nx, nw, nb, ny = layer.counts()
    macs = layer.forward_macs() * (3 if step else 1)
    # Compulsory traffic, as the C++ bench counts it: each pass reads its operands and writes its result once.
    bytes_ = 4 * ((nx + nw + nb + ny) + ((ny + nw + nx) + (nx + ny + nw + nb) if step else 0))
    record = {
        "group": "headline", "sweep": "layer", "x": layer.k, "label": layer.label, "pass": "step" if step else "fwd",
        "kind": "layer", "dims": layer.dims, "batch": layer.batch, "in_channels": layer.in_channels,
        "out_channels": layer.out_channels, "groups": 1, "input": [layer.n] * layer.dims,
        "kernel": [layer.k] * layer.dims, "stride": [1] * layer.dims, "padding": [layer.low] * layer.dims,
        "padding_high": [layer.high] * layer.dims, "output": list(layer.y_shape[2:]), "macs": macs,
        "bytes": bytes_, "reference": "torch", "torch_backend": torch_backend(ref, x),
    }

    contestants = [("torch", ref, None)]
    for policy in policies:
        m = conv_class("fftconv", layer.dims)(layer.in_channels, layer.out_channels, layer.k, padding="same",
                                              policy=policy).to(device)
        m.load_state_dict(ref.state_dict())
        contestants.append((POLICY_IMPL[policy], m, policy))

    results, plans = [], []
    reference_outputs = None
    for impl, module, policy in contestants:
        r = {"impl": impl}
        if policy is not None:
            r["policy"] = policy
            if step:
                r["saved_bytes"] = fftconv._C.saved_state_bytes(
                    list(layer.x_shape), list(module.weight.shape), "float32", [1] * layer.dims,
                    [layer.low] * layer.dims, [layer.high] * layer.dims, [1] * layer.dims, 1, policy, True,
                    device.type == "cuda")
        results.append(r)
        if policy == "naive":
            predicted = macs / naive_rate
            if predicted > args.naive_cap_seconds:
                r.update(status="skipped", reason=f"predicted {predicted:.3g} s per call from the calibrated naive "
                                                  f"rate (cap {args.naive_cap_seconds:g} s)")
                continue
        run = make_pass(module, x, dy, step)
        try:
            first_s, out = clock.time(run)
        except Exception as e:  # recorded, as the C++ bench records a contestant that throws
            r.update(status="error", reason=f"{type(e).__name__}: {e}")
            continue
        r["first_call_ms"] = first_s * 1e3
        if impl == "torch":
            reference_outputs = [o.detach() for o in out]
            r["check"] = "reference"
        elif reference_outputs is not None:
            errors = {n: rel_l2(o, ref_o) for n, o, ref_o in zip(names, out, reference_outputs)}
            r["rel_l2_error"] = errors
            r["reference"] = "torch"
            r["tolerance"] = {"y_dx": TOLERANCE["y"], "dw_db": TOLERANCE["dw"]}
            r["check"] = "pass" if all(errors[n] <= TOLERANCE[n] for n in names) else "fail"
        del out
        if first_s > args.cap_seconds:
            reps, warmup = 1, 0
            r["note"] = (f"first call took {first_s:.3g} s, over --cap-seconds {args.cap_seconds:g}: timed over 1 "
                         "repeat, no warm-up beyond the first call")
        elif first_s > args.slow_call_seconds:
            reps, warmup = min(args.repeats, args.slow_repeats), 0
            r["note"] = (f"first call took {first_s:.3g} s, over --slow-call-seconds {args.slow_call_seconds:g}: "
                         f"{reps} repeats, no warm-up beyond the first call")
        else:
            reps, warmup = args.repeats, max(args.warmup - 1, 0)
        for _ in range(warmup):
            clock.time(run)
        plans.append([r, run, reps, []])

    # The repeats, interleaved: each round times one call of every contestant that still has repeats to do.
    while any(len(p[3]) < p[2] for p in plans):
        for p in plans:
            if len(p[3]) < p[2]:
                seconds, out = clock.time(p[1])
                del out
                p[3].append(seconds)

    baseline_ms = None
    for r, _, _, samples in plans:
        r["status"] = "ok"
        r.update(stats_ms(samples))
        r["gbs"] = bytes_ / (r["median_ms"] * 1e6)
        r["gmacs"] = macs / (r["median_ms"] * 1e6)
        if r["impl"] == "torch":
            baseline_ms = r["median_ms"]
    for r in results:
        if r.get("status") == "ok" and baseline_ms:
            r["ratio_to_baseline"] = r["median_ms"] / baseline_ms
            r["speedup_vs_baseline"] = baseline_ms / r["median_ms"]
    record["results"] = results

    del contestants, plans, reference_outputs, ref, x, dy
    fftconv.release_layers()  # the next row's plans and workspace start from nothing, as torch's do
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return record


# ---------------------------------------------------------------------------------------------------------------
# --overhead: torch.ops.fftconv.conv_forward against fftconv._C.direct_forward, same policy, same thread.

def measure_overhead(layer, policy, args, naive_rate):
    dims = layer.dims
    if policy == "naive" and layer.forward_macs() / naive_rate > args.naive_cap_seconds:
        return {"label": layer.label, "policy": policy, "status": "skipped",
                "reason": f"naive predicted over --naive-cap-seconds {args.naive_cap_seconds:g}"}
    torch.manual_seed(args.seed)
    ref = conv_class("torch", dims)(layer.in_channels, layer.out_channels, layer.k, padding="same")
    x = torch.randn(layer.x_shape)
    w, b = ref.weight.detach(), ref.bias.detach()
    settings = ([1] * dims, [layer.low] * dims, [layer.high] * dims, [1] * dims, 1, policy, args.keep_spectra)
    y = torch.empty(layer.y_shape)
    saved_bytes = fftconv._C.saved_state_bytes(list(x.shape), list(w.shape), "float32", *settings[:6],
                                               args.keep_spectra, False)
    saved = torch.empty(saved_bytes, dtype=torch.uint8)
    op = torch.ops.fftconv.conv_forward

    def op_block(calls):
        start = time.perf_counter()
        for _ in range(calls):
            op(x, w, b, *settings)
        return time.perf_counter() - start

    def direct_block(calls):
        return fftconv._C.direct_forward(x, w, b, y, saved, *settings, calls)

    # Warm-up on both sides (plans; 'auto' measures here), then the block size: about --overhead-block-seconds.
    op_block(2)
    direct_block(2)
    per_call = op_block(1)
    calls = max(1, min(args.overhead_max_calls, round(args.overhead_block_seconds / max(per_call, 1e-7))))

    # Each sample starts with one untimed call of the side about to be timed: switching between the operator
    # and the direct call costs more than either's steady state (see the README's note), and that untimed call,
    # kept as `*_after_switch_us`, is what that switch costs.
    op_s, direct_s, op_switch, direct_switch = [], [], [], []
    for _ in range(args.overhead_samples):
        op_switch.append(op_block(1))
        op_s.append(op_block(calls) / calls)
        direct_switch.append(direct_block(1))
        direct_s.append(direct_block(calls) / calls)

    y_op, _ = op(x, w, b, *settings)
    agree = rel_l2(y, y_op)  # the direct call wrote y: the same layer must give the same result
    fftconv.release_layers()
    op_us, direct_us = statistics.median(op_s) * 1e6, statistics.median(direct_s) * 1e6
    return {
        "label": layer.label, "policy": policy, "status": "ok", "keep_spectra": args.keep_spectra,
        "saved_bytes": saved_bytes, "calls_per_sample": calls, "samples": args.overhead_samples,
        "op_us": op_us, "direct_us": direct_us, "overhead_us": op_us - direct_us,
        "overhead_percent": 100.0 * (op_us - direct_us) / direct_us,
        "op_min_us": min(op_s) * 1e6, "direct_min_us": min(direct_s) * 1e6,
        "op_samples_us": [s * 1e6 for s in op_s], "direct_samples_us": [s * 1e6 for s in direct_s],
        "op_after_switch_us": statistics.median(op_switch) * 1e6,
        "direct_after_switch_us": statistics.median(direct_switch) * 1e6,
        "y_rel_l2_op_vs_direct": agree,
    }


# ---------------------------------------------------------------------------------------------------------------
# The document

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def environment(device):
    config = torch.__config__.show()
    onednn = re.search(r"MKL-DNN v([\w.]+)", config)
    env = {
        "gpu": "no GPU", "cpu": cpu_model(), "cpus_online": os.cpu_count(), "load_average_at_start": load_average(),
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_parallel_backend": "OpenMP" if "parallel backend: OpenMP" in torch.__config__.parallel_info() else
        torch.__config__.parallel_info().strip().splitlines()[-1],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn": onednn.group(1) if onednn else None, "mkldnn_enabled": torch.backends.mkldnn.is_available(),
        "fftconv": fftconv.__version__, "fftconv_has_cuda": fftconv.has_cuda,
        "fftconv_module": os.path.dirname(fftconv.__file__),
    }
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND", "OMP_PLACES", "MKL_NUM_THREADS",
                "OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        if var in os.environ:
            env[var] = os.environ[var]
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(gpu=p.name, compute_capability=f"{p.major}.{p.minor}", sm_count=p.multi_processor_count,
                   memory_bytes=p.total_memory, cuda_runtime=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), cudnn_benchmark=torch.backends.cudnn.benchmark)
    else:
        env["note"] = "host mode: CPU wall-clock times; not GPU results"
    return env


def to_json(value, indent=0):
    """As the C++ bench writes: objects one member per line, arrays of scalars on one line, NaN / inf as null."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return "[" + ", ".join(to_json(v) for v in value) + "]"
        return "[\n" + ",\n".join(inner + to_json(v, indent + 2) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def write_json(path, doc):
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"  # replaced whole, so a reader never sees half a file
    with open(tmp, "w") as f:
        f.write(to_json(doc) + "\n")
    os.replace(tmp, path)


def fmt_ms(r):
    if r.get("status") != "ok":
        return r.get("status", "?")
    ms = lambda v: f"{v:.4g}" if v < 1e4 else f"{v:.0f}"
    return f"{ms(r['min_ms'])} / {ms(r['median_ms'])}"


def print_row(record, policies):
    by = {r["impl"]: r for r in record["results"]}
    cells = [f"{record['label']:<28}", f"{record['pass']:<4}", f"{fmt_ms(by['torch']):>19}"]
    for p in policies:
        r = by.get(POLICY_IMPL[p], {})
        ratio = f"{r['ratio_to_baseline']:.2f}" if "ratio_to_baseline" in r else "—"
        cells += [f"{fmt_ms(r):>19}", f"{ratio:>6}", f"{r.get('check', r.get('status', '')):>6}"]
    print(" | ".join(cells), flush=True)
    for r in record["results"]:
        if "note" in r or "reason" in r:
            print(f"    {r['impl']}: {r.get('note') or r.get('reason')}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--policy", default="fft", choices=["fft", "im2col", "naive", "auto", "all"],
                        help="fftconv policy to time; 'all' runs each")
    parser.add_argument("--passes", default="fwd,step", help="fwd, step or fwd,step (default)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per contestant (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls, the first (checked) one included")
    parser.add_argument("--slow-call-seconds", type=float, default=1.0,
                        help="a first call slower than this: no more warm-up, --slow-repeats repeats")
    parser.add_argument("--slow-repeats", type=int, default=3)
    parser.add_argument("--cap-seconds", type=float, default=30.0,
                        help="a first call slower than this: timed over one repeat (said in the output)")
    parser.add_argument("--naive-cap-seconds", type=float, default=1.0,
                        help="skip naive where its predicted time per call exceeds this")
    parser.add_argument("--match", help="rows whose label matches this regex (searched), e.g. '^2D.*k=7$'")
    parser.add_argument("--quick", action="store_true", help="the C++ bench's --quick headline sizes")
    parser.add_argument("--seed", type=int, default=20140001)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", metavar="PATH", help="write the results here (rewritten after every row)")
    parser.add_argument("--note", help="free text stored in the JSON's environment (e.g. 'machine shared')")
    parser.add_argument("--overhead", action="store_true",
                        help="measure the operator's per-call overhead over a direct C++ call instead")
    parser.add_argument("--keep-spectra", action="store_true", help="--overhead: keep_spectra=True on both sides")
    parser.add_argument("--overhead-samples", type=int, default=5)
    parser.add_argument("--overhead-block-seconds", type=float, default=0.1,
                        help="--overhead: a sample's block of calls lasts about this long")
    parser.add_argument("--overhead-max-calls", type=int, default=1000)
    parser.add_argument("--list", action="store_true", help="print the selected rows and exit")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torch_bench.py: --device cuda, but torch sees no GPU")
        if not fftconv.has_cuda:
            sys.exit("torch_bench.py: this fftconv build has no CUDA kernels")
        # FMA math only, as the C++ bench runs cuDNN; cuDNN picks its fastest algorithm per shape (cudnnFind).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    if args.overhead and device.type != "cpu":
        sys.exit("torch_bench.py: --overhead measures the host operator (direct_forward is host only)")
    if args.threads:
        torch.set_num_threads(args.threads)
    policies = list(POLICY_IMPL) if args.policy == "all" else [args.policy]
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    if not passes or any(p not in ("fwd", "step") for p in passes):
        parser.error("--passes takes fwd, step or fwd,step")
    pattern = re.compile(args.match) if args.match else None
    layers = [l for l in headline_layers(args.quick) if not pattern or pattern.search(l.label)]
    if not layers:
        sys.exit(f"torch_bench.py: no headline layer matches {args.match!r}")
    if args.list:
        for l in layers:
            print(l.label)
        return

    clock = Clock(device)
    started = time.perf_counter()
    doc = {
        "schema": "fftconv-bench/1", "tool": "bench/torch_bench.py",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv), "quick": args.quick,
        "mode": "gpu" if device.type == "cuda" else "host", "environment": environment(device),
        "baseline": "torch",
        "settings": {"clock": "cuda events" if device.type == "cuda" else "time.perf_counter",
                     "warmup": args.warmup, "repeats": args.repeats, "slow_call_seconds": args.slow_call_seconds,
                     "slow_reps": args.slow_repeats, "cap_seconds": args.cap_seconds,
                     "naive_cap_seconds": args.naive_cap_seconds, "seed": args.seed, "precision": "fp32",
                     "tf32": "off" if device.type == "cuda" else "n/a", "interleaved": True},
        "policies": [POLICY_IMPL[p] for p in policies], "case_filters": {"only": ["headline"], "match": args.match},
        "summary": {}, "cases": [],
    }
    if args.note:
        doc["environment"]["user_note"] = args.note
    needs_naive = "naive" in policies
    naive_rate = calibrate_naive(device, clock) if needs_naive else float("inf")
    if needs_naive:
        doc["naive_calibration_gmacs"] = naive_rate / 1e9

    def finish(complete):
        doc["summary"].update(elapsed_s=time.perf_counter() - started, load_average=load_average(),
                              complete=complete)
        write_json(args.json, doc)

    where = f"{doc['environment']['gpu']} (CUDA events)" if device.type == "cuda" else \
        f"CPU {doc['environment']['cpu']}, {doc['environment']['threads']} threads (wall time)"
    print(f"torch {torch.__version__}, fftconv {fftconv.__version__}: {where}; load average "
          f"{doc['environment']['load_average_at_start']}", flush=True)

    if args.overhead:
        doc["overhead"] = []
        doc["settings"].update(overhead_samples=args.overhead_samples, keep_spectra=args.keep_spectra,
                               overhead_block_seconds=args.overhead_block_seconds)
        print(f"operator overhead, keep_spectra={args.keep_spectra}: per-call us, median of "
              f"{args.overhead_samples} interleaved samples per side")
        print(f"{'layer':<28} | {'policy':<6} | {'calls':>5} | {'op us':>10} | {'direct us':>10} | "
              f"{'diff us':>9} | {'diff %':>7} | {'op after switch us':>18} | {'direct after switch us':>22}")
        for layer in layers:
            for policy in policies:
                o = measure_overhead(layer, policy, args, naive_rate)
                doc["overhead"].append(o)
                if o["status"] != "ok":
                    print(f"{layer.label:<28} | {policy:<6} | {o['reason']}", flush=True)
                    continue
                print(f"{layer.label:<28} | {policy:<6} | {o['calls_per_sample']:>5} | {o['op_us']:>10.1f} | "
                      f"{o['direct_us']:>10.1f} | {o['overhead_us']:>9.1f} | {o['overhead_percent']:>6.2f}% | "
                      f"{o['op_after_switch_us']:>18.1f} | {o['direct_after_switch_us']:>22.1f}", flush=True)
                write_json(args.json, doc)
        finish(True)
        return

    header = [f"{'layer':<28}", "pass", f"{'torch min / med ms':>19}"]
    for p in policies:
        header += [f"{POLICY_IMPL[p] + ' min / med ms':>19}", f"{'/torch':>6}", f"{'check':>6}"]
    print(" | ".join(header), flush=True)
    failures = errors = 0
    for pass_name in passes:
        for index, layer in enumerate(layers):
            record = run_row(layer, pass_name == "step", policies, args, device, clock, naive_rate,
                             args.seed + index)
            doc["cases"].append(record)
            failures += sum(r.get("check") == "fail" for r in record["results"])
            errors += sum(r.get("status") == "error" for r in record["results"])
            doc["summary"].update(case_passes=len(doc["cases"]), check_failures=failures, errors=errors)
            print_row(record, policies)
            finish(False)
    finish(True)
    if args.json:
        print(f"wrote {args.json}")
    sys.exit(1 if failures or errors else 0)


if __name__ == "__main__":
    main()
