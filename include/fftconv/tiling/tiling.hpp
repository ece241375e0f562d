#pragma once
// Tiling geometry of the FFT policy: overlap-save tiles over the output, polyphase stride, and the transform
// frame, chosen per problem by a cost model under the workspace limit.
//
// Per spatial dim (m outputs, stride s, dilated kernel span = d(k-1)+1, low padding p):
//   Polyphase stride. x and the dilated kernel split into s phases (space-to-depth): phase r of x is
//   x_r[a] = x[a*s + r - p], phase r of the kernel w_r[t] = w_dilated[r + s*t] with K' = ceil(span/s) taps,
//   and y[q] = sum_r sum_t x_r[q + t] w_r[t]: a stride-1 correlation at the output's resolution whose input
//   channels are (channel, phase) pairs. Phases multiply across dims (P = s_0 * ... * s_{N-1}).
//   Overlap-save tiles. The output is cut into tiles of T outputs; tile tau reads the phase-domain window
//   [tau*T, tau*T + W), W = T + K' - 1, transformed at a frame L >= W. The circular correlation of a window
//   with the K'-tap kernel then never wraps onto outputs [0, T), the adjoint (backward_data) never wraps onto
//   [0, W), and the filter correlation never wraps onto taps [0, K'). Tiles are extra GEMM rows
//   (rows = batch x tiles); Ŵ is transformed once at L, independent of the image size.
// One tile covering the output (T = m) is the whole-frame algorithm.
//
// Dilation is handled by the zero-inserted kernel inside the frame (span d(k-1)+1), not by phases: splitting
// the output into d residues gives d windows of T/d + k - 1 positions, the same d*(T/d + k - 1) = T + span - 1
// transform volume and the same products, so only Ŵ would shrink, by d.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "../error.hpp"
#include "../geometry.hpp"
#include "../tuning.hpp"
#include "transform_size.hpp"

namespace fftconv::detail {

// How the spectral products run.
//   gemm         per frequency and group, one complex matrix product over channels (a strided-batched GEMM
//                over frequency-major spectra, with transposes around the FFTs)
//   elementwise  the same products over the FFTs' natural layout, no transposes (detail/kernels/products.hpp):
//                on the GPU a functor per (map, frequency), the right kernel when a group has few channels
//                (depthwise: one); on the host a cache-blocked kernel vectorised along frequencies, the right
//                kernel at every shape
enum class spectral_products { automatic, gemm, elementwise };

// On the GPU, elementwise products are chosen when (input channels per group x phases) x (output channels per
// group) is at most this (tuning.hpp): below it a batched GEMM's launch and packing outweigh its arithmetic.
inline constexpr std::int64_t elementwise_products_limit = device_tuning.elementwise_products_limit;

template <int N>
struct tiling {
  std::int64_t phase_count[N];  // s: phases per dim (the stride)
  std::int64_t phase_taps[N];   // K' = ceil(span / s)
  std::int64_t tile[N];         // T: outputs per tile
  std::int64_t tiles[N];        // ceil(m / T)
  std::int64_t window[N];       // W = T + K' - 1: phase-domain input positions one tile reads
  std::int64_t frame[N];        // L >= W, 7-smooth
  std::int64_t phases;          // product of phase_count
  std::int64_t tile_count;      // product of tiles
  spectral_products products;   // gemm or elementwise (never automatic here)

  friend bool operator==(const tiling&, const tiling&) = default;
};

// The per-dim quantities that do not depend on the tile choice.
template <int N>
struct tiling_basis {
  std::int64_t phase_count[N];
  std::int64_t phase_taps[N];
};

template <int N>
tiling_basis<N> make_tiling_basis(const problem<N>& p) {
  tiling_basis<N> b{};
  for (int d = 0; d < N; ++d) {
    const std::int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1;
    b.phase_count[d] = p.stride[d];
    b.phase_taps[d] = (span + p.stride[d] - 1) / p.stride[d];
  }
  return b;
}

// A tiling from per-dim frames (the tile is the largest the frame holds, at most the output).
template <int N>
tiling<N> make_tiling(const problem<N>& p, const std::array<std::int64_t, N>& frames, spectral_products products) {
  const tiling_basis<N> b = make_tiling_basis<N>(p);
  tiling<N> t{};
  t.phases = 1;
  t.tile_count = 1;
  for (int d = 0; d < N; ++d) {
    t.phase_count[d] = b.phase_count[d];
    t.phase_taps[d] = b.phase_taps[d];
    t.frame[d] = frames[d];
    t.tile[d] = std::min(frames[d] - b.phase_taps[d] + 1, p.output[d]);
    t.tiles[d] = (p.output[d] + t.tile[d] - 1) / t.tile[d];
    t.window[d] = t.tile[d] + b.phase_taps[d] - 1;
    t.phases = checked_multiply(t.phases, t.phase_count[d], "fft phases");
    t.tile_count = checked_multiply(t.tile_count, t.tiles[d], "fft tiles");
  }
  t.products = products;
  return t;
}

// Counts and sizes of one tiling: maps per transform set, frequencies, and the bytes of the spectra kept across
// a step (X̂, Ŵ, dŶ) and of the scratch one chunk of `chunk_rows` rows needs.
template <int N>
struct tiling_sizes {
  std::int64_t rows;           // batch x tiles: the GEMM rows
  std::int64_t row_inputs;     // input maps per row: C * P
  std::int64_t row_outputs;    // output maps per row: O
  std::int64_t kernel_maps;    // O * C/g * P
  std::int64_t real_volume;    // L_0 ... L_{N-1}
  std::int64_t real_distance;  // between staged maps: real_volume rounded up to 64 bytes
  std::int64_t frequencies;    // L_0 ... (L_{N-1}/2 + 1)
  std::int64_t spectrum_distance;  // between maps in natural layout: frequencies rounded up to 64 bytes
};

template <int N>
tiling_sizes<N> sizes_of(const problem<N>& p, const tiling<N>& t, std::size_t real_bytes) {
  tiling_sizes<N> s{};
  s.rows = checked_multiply(p.batch, t.tile_count, "fft tile rows");
  s.row_inputs = checked_multiply(p.in_channels, t.phases, "fft maps");
  s.row_outputs = p.out_channels;
  s.kernel_maps = checked_multiply(p.out_channels, checked_multiply(p.in_channels_per_group(), t.phases, "fft maps"),
                                   "fft maps");
  s.real_volume = 1;
  s.frequencies = 1;
  for (int d = 0; d < N; ++d) {
    s.real_volume = checked_multiply(s.real_volume, t.frame[d], "fft transform frame");
    s.frequencies = checked_multiply(s.frequencies, d == N - 1 ? t.frame[d] / 2 + 1 : t.frame[d], "fft transform frame");
  }
  const auto round_up = [](std::int64_t count, std::int64_t multiple) { return (count + multiple - 1) / multiple * multiple; };
  s.real_distance = round_up(s.real_volume, std::max<std::int64_t>(1, 64 / static_cast<std::int64_t>(real_bytes)));
  s.spectrum_distance = round_up(s.frequencies, std::max<std::int64_t>(1, 64 / (2 * static_cast<std::int64_t>(real_bytes))));
  return s;
}

// Bytes, as doubles (a candidate's sizes may exceed size_t before it is rejected). The scratch buffers serve
// the kernel's maps (one execution per step) and one chunk's rows in turn, so each is sized for the larger.
struct tiling_bytes {
  double spectra = 0;          // X̂ + Ŵ + dŶ, kept across the passes of a step
  double kernel_staging = 0;   // the kernel maps' staging (+ natural) buffers
  double row_staging = 0;      // one row's staging (+ natural) buffers
  double kernel_products = 0;  // products of the kernel pass (dŴ)
  double row_products = 0;     // one row's products
  double scratch(std::int64_t chunk_rows) const {
    const double rows = double(chunk_rows);
    return std::max(kernel_staging, row_staging * rows) + std::max(kernel_products, row_products * rows);
  }
  // The most rows a chunk may hold under `budget` bytes of scratch (at least 1), at most `rows`.
  std::int64_t rows_within(double budget, std::int64_t rows) const {
    std::int64_t low = 1, high = rows;
    while (low < high) {
      const std::int64_t middle = low + (high - low + 1) / 2;
      if (scratch(middle) <= budget) low = middle; else high = middle - 1;
    }
    return low;
  }
};

template <int N>
tiling_bytes bytes_of(const problem<N>& p, const tiling<N>& t, std::size_t real_bytes) {
  const tiling_sizes<N> s = sizes_of<N>(p, t, real_bytes);
  const double real = double(real_bytes), complex = 2.0 * double(real_bytes);
  const double row_maps = double(std::max(s.row_inputs, s.row_outputs));
  const double kernel_maps = double(s.kernel_maps);
  const double g = double(p.groups), og = double(p.out_channels_per_group());
  const double kg = double(s.row_inputs) / g;  // C/g * P
  const double distance = double(s.spectrum_distance), f = double(s.frequencies);
  tiling_bytes b{};
  if (t.products == spectral_products::elementwise) {
    // spectra in natural layout; the products land in natural layout too and feed the inverse directly
    b.spectra = complex * distance * (double(s.rows) * double(s.row_inputs + s.row_outputs) + kernel_maps);
    b.kernel_staging = kernel_maps * real * double(s.real_distance);
    b.row_staging = row_maps * real * double(s.real_distance);
    b.kernel_products = kernel_maps * complex * distance;
    b.row_products = row_maps * complex * distance;
  } else {
    // spectra frequency-major; staging, the FFT's natural output, and the frequency-major products
    b.spectra = complex * f * (double(s.rows) * double(s.row_inputs + s.row_outputs) + kernel_maps);
    b.kernel_staging = kernel_maps * (real * double(s.real_distance) + complex * distance);
    b.row_staging = row_maps * (real * double(s.real_distance) + complex * distance);
    b.kernel_products = complex * f * g * og * kg;
    b.row_products = complex * f * g * std::max(og, kg);
  }
  return b;
}

// Modelled cost of a training step (3 forward + 3 inverse transform sets and 3 product passes), in units of
// real flops: transforms at 2.5 flops per element and radix-2 stage plus staging/crop passes (an odd last
// extent loses the real-FFT halving: x1.25), GEMM products at 8 flops per complex MAC weighted 1/4 (they run
// far above the memory-bound rate of everything else) plus two transposes per spectrum pass; elementwise
// products on the GPU at a memory-bound weight, and on the host (its blocked kernel) at the GEMM's weight plus
// one pass over the spectra for its packing.
template <int N>
double modelled_step_cost(const problem<N>& p, const tiling<N>& t, bool on_device = false) {
  const tiling_sizes<N> s = sizes_of<N>(p, t, 4);
  double radix = 0;
  for (int d = 0; d < N; ++d) radix += radix_cost(t.frame[d]);
  const double parity = t.frame[N - 1] % 2 == 0 ? 1.0 : 1.25;
  const double maps = double(s.rows) * double(s.row_inputs + s.row_outputs) + double(s.kernel_maps);
  const double transforms = 2.0 * parity * maps * double(s.real_volume) * (2.5 * radix + 4.0);
  const double macs = double(s.frequencies) * double(s.rows) * double(s.row_inputs) *
                      double(p.out_channels_per_group());
  const double spectrum_elements = double(s.frequencies) * maps;
  double products = 0;
  if (t.products == spectral_products::gemm)
    products = 3.0 * 8.0 * 0.25 * macs + 3.0 * 2.0 * 2.0 * spectrum_elements;
  else if (on_device)
    products = 3.0 * 8.0 * 0.5 * macs;
  else
    products = 3.0 * 8.0 * 0.25 * macs + 3.0 * 2.0 * spectrum_elements;
  return transforms + products;
}

// What the chooser may use.
template <int N>
struct tiling_request {
  std::array<std::int64_t, N> forced_tile{};  // 0: chosen by the model; else outputs per tile in that dim
  spectral_products products = spectral_products::automatic;
  std::size_t workspace_limit = std::numeric_limits<std::size_t>::max();  // spectra + scratch
  std::size_t default_scratch = std::size_t{256} << 20;  // the chunk budget when no limit is set
  bool on_device = false;  // where the products run: it decides what automatic products are and cost
};

template <int N>
tiling_request<N> on_executor(tiling_request<N> request, bool on_device) {
  request.on_device = on_device;
  return request;
}

// The chosen tiling and how its rows are chunked.
template <int N>
struct tiling_choice {
  tiling<N> layout;
  std::int64_t chunk_rows = 1;  // rows per chunk (the last chunk may be smaller)
  std::int64_t chunks = 1;
  double predicted_bytes = 0;   // spectra + scratch of a full step
  double modelled_cost = 0;
};

template <int N>
spectral_products products_for(const problem<N>& p, std::int64_t phases, spectral_products requested, bool on_device) {
  if (requested != spectral_products::automatic) return requested;
  if (!on_device) return spectral_products::elementwise;
  return p.in_channels_per_group() * phases * p.out_channels_per_group() <= elementwise_products_limit
             ? spectral_products::elementwise
             : spectral_products::gemm;
}

// Per-dim frame candidates: every 7-smooth L from the smallest that holds one output (K') up to the smallest
// that holds the whole output in one tile; or, with a forced tile, the smallest frame that holds it.
inline std::vector<std::int64_t> frame_candidates(std::int64_t outputs, std::int64_t phase_taps, std::int64_t forced) {
  if (forced > 0) return {next_7_smooth(std::min(forced, outputs) + phase_taps - 1)};
  const std::int64_t whole = next_7_smooth(outputs + phase_taps - 1);
  std::vector<std::int64_t> frames;
  for (std::int64_t L : seven_smooth_between(std::max<std::int64_t>(phase_taps, 2), whole)) frames.push_back(L);
  if (frames.empty() || frames.back() != whole) frames.push_back(whole);
  return frames;
}

// The cheapest tiling under the model whose step fits the limit, with its chunking; throws
// workspace_limit_exceeded when nothing fits.
template <int N>
tiling_choice<N> choose_tiling(const problem<N>& p, const tiling_request<N>& request, std::size_t real_bytes) {
  const tiling_basis<N> basis = make_tiling_basis<N>(p);
  std::int64_t phases = 1;
  for (int d = 0; d < N; ++d) phases *= basis.phase_count[d];
  const spectral_products products = products_for<N>(p, phases, request.products, request.on_device);
  std::array<std::vector<std::int64_t>, N> candidates;
  for (int d = 0; d < N; ++d) {
    if (request.forced_tile[d] < 0) fail("fft: forced tile extent ", request.forced_tile[d], " in dim ", d, " must be >= 0");
    candidates[d] = frame_candidates(p.output[d], basis.phase_taps[d], request.forced_tile[d]);
  }
  const bool limited = request.workspace_limit != std::numeric_limits<std::size_t>::max();
  const double limit = double(request.workspace_limit);
  tiling_choice<N> best{};
  double best_cost = std::numeric_limits<double>::infinity();
  double smallest_need = std::numeric_limits<double>::infinity();
  std::array<std::size_t, N> index{};
  std::array<std::int64_t, N> frames{};
  for (;;) {
    for (int d = 0; d < N; ++d) frames[d] = candidates[d][index[d]];
    const tiling<N> t = make_tiling<N>(p, frames, products);
    const tiling_bytes bytes = bytes_of<N>(p, t, real_bytes);
    const std::int64_t rows = p.batch * t.tile_count;
    // Without a limit, chunks get the default budget or the kernel pass's own scratch, whichever is larger.
    const double budget = limited ? limit - bytes.spectra
                                  : std::max(double(request.default_scratch), bytes.scratch(1));
    smallest_need = std::min(smallest_need, bytes.spectra + bytes.scratch(1));
    const bool fits = !limited || bytes.spectra + bytes.scratch(1) <= limit;
    if (fits) {
      const double cost = modelled_step_cost<N>(p, t, request.on_device);
      if (cost < best_cost) {
        best_cost = cost;
        best.layout = t;
        std::int64_t most = bytes.rows_within(budget, rows);
        // Whole images per chunk where they fit: dx of an image then comes from one chunk (no accumulation).
        if (most >= t.tile_count && most < rows) most -= most % t.tile_count;
        best.chunks = (rows + most - 1) / most;
        best.chunk_rows = most >= rows ? rows : most;
        if (best.chunks > 1 && most % t.tile_count == 0)  // balanced, still whole images
          best.chunk_rows = ((p.batch + best.chunks - 1) / best.chunks) * t.tile_count;
        else if (best.chunks > 1)
          best.chunk_rows = (rows + best.chunks - 1) / best.chunks;
        best.chunks = (rows + best.chunk_rows - 1) / best.chunk_rows;
        best.predicted_bytes = bytes.spectra + bytes.scratch(best.chunk_rows);
        best.modelled_cost = cost;
      }
    }
    int d = N - 1;
    while (d >= 0 && ++index[d] == candidates[d].size()) index[d--] = 0;
    if (d < 0) break;
  }
  if (!std::isfinite(best_cost))
    throw workspace_limit_exceeded(static_cast<std::size_t>(std::min(smallest_need, 1.8e19)), request.workspace_limit,
                                   "fft: no tiling of this problem fits the workspace limit");
  return best;
}

}  // namespace fftconv::detail
