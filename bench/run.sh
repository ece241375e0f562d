#!/usr/bin/env bash
# One command: configure and build fftconv_bench with the project's CMake in a fresh build dir, run it, plot.
#
#   bench/run.sh [--quick] [--host] [--out DIR] [--build-dir DIR] [--keep-build] [-- ARGS for fftconv_bench]
#
# GPU mode when a GPU is visible (nvidia-smi), else host mode (CPU timings, said so in the JSON and plots).
# Results: GPU runs go to bench/results/ (<gpu>_<date>.json/.csv/*.png, meant to be committed); host runs to
# build-bench-results/ (ignored by git). Environment: CUDA_ARCH (default 90), CMAKE_GENERATOR, PYTHON.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
host=0
out=""
build="$root/build-bench-run"
keep_build=0
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --host) host=1 ;;
    --out) out="$2"; shift ;;
    --build-dir) build="$2"; shift ;;
    --keep-build) keep_build=1 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ $host -eq 0 ]] && ! nvidia-smi -L >/dev/null 2>&1; then
  echo "run.sh: no GPU visible (nvidia-smi); running the host mode: CPU timings, not GPU results"
  host=1
fi

configure=(-DCMAKE_BUILD_TYPE=Release -DFFTCONV_BUILD_TESTS=OFF -DFFTCONV_BUILD_EXAMPLES=OFF
           -DFFTCONV_BUILD_BENCH=ON -DFFTCONV_INSTALL=OFF)
if [[ $host -eq 1 ]]; then
  configure+=(-DFFTCONV_ENABLE_CUDA=OFF)  # the host mode builds with the C++ compiler alone
  out="${out:-$root/build-bench-results}"
else
  configure+=(-DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}")
  out="${out:-$root/bench/results}"
fi
if [[ -z "${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null 2>&1; then
  configure+=(-G Ninja)
fi

if [[ $keep_build -eq 0 ]]; then rm -rf "$build"; fi
cmake -S "$root" -B "$build" "${configure[@]}"
cmake --build "$build" --target fftconv_bench

args=(--out "$out")
[[ $quick -eq 1 ]] && args+=(--quick)
[[ $host -eq 1 ]] && args+=(--host)
status=0
export NVIDIA_TF32_OVERRIDE="${NVIDIA_TF32_OVERRIDE:-0}"  # fp32 means fp32, in cuDNN and cuBLAS alike
"$build/bench/fftconv_bench" "${args[@]}" "${extra[@]}" || status=$?
if [[ $status -ge 2 ]]; then exit "$status"; fi  # nothing written

python=""
for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
  if [[ -n "$candidate" ]] && "$candidate" -c "import matplotlib" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [[ -n "$python" ]]; then
  "$python" "$root/bench/plot.py" --latest "$out"
else
  echo "run.sh: no python3 with matplotlib (Debian: python3-matplotlib): JSON and CSV written, no plots" >&2
fi
if [[ $status -ne 0 ]]; then
  echo "run.sh: the bench reported check failures or errors (exit $status): see the JSON" >&2
fi
exit "$status"
