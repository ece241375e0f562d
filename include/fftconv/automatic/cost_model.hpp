#pragma once
// fftconv::automatic's heuristic: predicted seconds per policy and pass, from flop and byte counts over
// per-backend rates. Pure arithmetic over the problem (no timing, no state), so the same shape always gets the
// same answer: reproducible runs, and a ranking that tells measure mode which candidates are worth timing.
//
//   naive   direct loops: every (output, tap) pair is a multiply-add, at a scalar rate.
//   im2col  the gathered columns (C·K × S per image) are written and read once per pass; the GEMM flops run at
//           a rate that falls off with the smallest GEMM dimension d (rate · d/(d + half)).
//   fft     per map, a real transform of the frame (2.5 V log2 V flops) plus staging and cropping bytes; the
//           per-frequency complex products (8 flops per MAC) at the GEMM rate for their (small) dimensions,
//           plus one read and one write of the spectra involved.
//   vendor  the library's convolution as one implicit GEMM per group (M = O/g, N = B·S, K = C/g·K) at its own
//           rate, plus reading and writing every tensor twice (the reorders into and out of its layouts).
// Every pass also pays a fixed overhead per library call or kernel launch.
//
// A step is a forward and one combined backward (conv::backward), whose figure is the sum of its data and
// filter parts. fft's X̂ and Ŵ reach backward through the saved state and dŶ is transformed once for dx and dw,
// so each transform is charged once, to the first declared pass that needs it.
//
// The rates (tuning.hpp) only need to rank policies, not predict times exactly (README: "Picking a policy"
// gives the accuracy).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../geometry.hpp"
#include "../policy.hpp"
#include "../tuning.hpp"  // backend_rates

namespace fftconv::detail {

// Seconds per declared pass for each candidate; a pass that is not declared costs 0.
struct modelled_costs {
  std::array<std::array<double, pass_count>, algorithm_count> seconds{};  // [algorithm][pass]

  double total(algorithm a) const { return forward(a) + backward(a); }
  double forward(algorithm a) const { return seconds[static_cast<int>(a)][0]; }
  // The combined backward: its data and filter parts.
  double backward(algorithm a) const {
    const auto& s = seconds[static_cast<int>(a)];
    return s[1] + s[2];
  }
};

// The smallest 7-smooth integer >= minimum: the transform size the FFT policy's cost model starts from.
// Enumerated by exponents (a power of two lies below 2 * minimum), so a huge extent costs no scan.
inline std::int64_t smallest_7_smooth_at_least(std::int64_t minimum) {
  if (minimum <= 1) return 1;
  const std::int64_t limit = 2 * minimum;
  std::int64_t best = limit;
  for (std::int64_t p7 = 1; p7 <= limit; p7 *= 7)
    for (std::int64_t p5 = p7; p5 <= limit; p5 *= 5)
      for (std::int64_t p3 = p5; p3 <= limit; p3 *= 3) {
        std::int64_t size = p3;
        while (size < minimum) size *= 2;
        best = std::min(best, size);
      }
  return best;
}

// A GEMM's time: its flops at the large-GEMM rate, slowed by its smallest dimension (a GEMV-like shape is
// bound by reading its operands, which the per-dimension factor stands in for).
inline double gemm_seconds(const backend_rates& rates, double m, double n, double k, double batch) {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 0;
  const double smallest = std::min({m, n, k});
  const double flops = 2.0 * m * n * k * batch;
  return flops / (rates.gemm_flops * smallest / (smallest + rates.gemm_half_extent));
}

template <int N>
modelled_costs model_costs(const problem<N>& p, const passes& declared, std::size_t element_bytes,
                           const backend_rates& rates) {
  modelled_costs costs;
  const double B = static_cast<double>(p.batch);
  const double C = static_cast<double>(p.in_channels);
  const double O = static_cast<double>(p.out_channels);
  const double G = static_cast<double>(p.groups);
  const double Cg = C / G, Og = O / G;
  const double K = static_cast<double>(p.kernel_spatial());
  const double S_in = static_cast<double>(p.input_spatial());
  const double S_out = static_cast<double>(p.output_spatial());
  const double bytes = static_cast<double>(element_bytes);
  // Double precision halves every arithmetic rate.
  const double precision = element_bytes > 4 ? 2.0 : 1.0;

  auto& naive_s = costs.seconds[static_cast<int>(algorithm::naive)];
  auto& im2col_s = costs.seconds[static_cast<int>(algorithm::im2col)];
  auto& fft_s = costs.seconds[static_cast<int>(algorithm::fft)];
  auto& vendor_s = costs.seconds[static_cast<int>(algorithm::vendor)];

  // naive: forward and backward_filter visit every (output, tap) pair; backward_data every (input, tap) pair
  // of its gather (a stride skips most of them, but each is still tested).
  {
    const double pairs_forward = B * O * S_out * Cg * K;
    const double pairs_data = B * C * S_in * Og * K;
    const double rate = rates.direct_flops / precision;
    naive_s[0] = 2.0 * pairs_forward / rate + rates.call_seconds;
    naive_s[1] = 2.0 * pairs_data / rate + rates.call_seconds;
    naive_s[2] = 2.0 * pairs_forward / rate + (B * O * S_out) * bytes / rates.memory_bytes + 2 * rates.call_seconds;
  }

  // im2col: one GEMM per (image, group) of M = O/g, N = S, K = C/g·K; a 1x1 stride-1 unpadded layer skips
  // the gather.
  {
    bool direct = true;
    for (int d = 0; d < N; ++d)
      direct = direct && p.kernel[d] == 1 && p.stride[d] == 1 && p.padding[d] == 0 && p.padding_high[d] == 0;
    const double column_bytes = direct ? 0.0 : 2.0 * B * C * K * S_out * bytes;  // written, then read by the GEMM
    const double io_bytes = (B * C * S_in + B * O * S_out) * bytes;
    const double calls = B * G;
    const double gemm_fwd = gemm_seconds(rates, Og, S_out, Cg * K, B * G) * precision;
    im2col_s[0] = gemm_fwd + (column_bytes + io_bytes) / rates.memory_bytes + calls * rates.call_seconds;
    // backward_data: columns = Wᵀ dY, then col2im gathers K taps per input element.
    const double col2im_bytes = direct ? 0.0 : B * C * S_in * K * bytes;
    im2col_s[1] = gemm_fwd + (column_bytes + col2im_bytes + io_bytes) / rates.memory_bytes + calls * rates.call_seconds;
    // backward_filter: the gather again, per-image partial dW, their fixed-order sum, and db.
    const double partial_bytes = B * O * Cg * K * bytes;
    im2col_s[2] = gemm_fwd + (column_bytes + 2 * partial_bytes + io_bytes) / rates.memory_bytes +
                  (calls + 2) * rates.call_seconds;
  }

  // fft: whole-frame transforms at 7-smooth sizes covering the padded input and the dilated kernel.
  {
    double volume = 1, complex_volume = 1;
    for (int d = 0; d < N; ++d) {
      const std::int64_t frame = p.input[d] + p.padding[d] + p.padding_high[d];
      const std::int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1;
      const auto extent = static_cast<double>(smallest_7_smooth_at_least(std::max(frame, span)));
      volume *= extent;
      complex_volume *= (d == N - 1) ? std::floor(extent / 2) + 1 : extent;
    }
    const double transform_flops = 2.5 * volume * std::log2(std::max(volume, 2.0));
    // One map's transform: the FFT itself, staging (write the frame, read it) and the complex result.
    const double map_seconds = transform_flops * precision / rates.fft_flops +
                               (2.0 * volume * bytes + 2.0 * complex_volume * bytes) / rates.memory_bytes;
    const double maps_x = B * C, maps_w = O * Cg, maps_y = B * O;
    // Per-frequency products: complex GEMMs (8 real flops per MAC, i.e. 4x a real GEMM of the same shape)
    // plus the transposes of both operands and the result to frequency-major order and back.
    const auto products = [&](double m, double n, double k, double operand_maps) {
      return 4.0 * precision * gemm_seconds(rates, m, n, k, complex_volume * G) +
             2.0 * operand_maps * complex_volume * 2 * bytes / rates.memory_bytes + 6 * rates.call_seconds;
    };
    const bool fwd = declared.forward, data = declared.backward_data, filter = declared.backward_filter;
    // Who transforms what: X̂ by forward (else backward's filter part), Ŵ by forward (else backward's data
    // part), dŶ by backward's data part (else its filter part).
    const double x_maps_forward = fwd ? maps_x : 0, x_maps_filter = fwd ? 0 : maps_x;
    const double w_maps_forward = fwd ? maps_w : 0, w_maps_data = fwd ? 0 : maps_w;
    const double dy_maps_data = data ? maps_y : 0, dy_maps_filter = data ? 0 : maps_y;
    fft_s[0] = (x_maps_forward + w_maps_forward + maps_y) * map_seconds +
               products(B, Og, Cg, maps_x + maps_w + maps_y);
    fft_s[1] = (dy_maps_data + w_maps_data + maps_x) * map_seconds + products(B, Cg, Og, maps_y + maps_w + maps_x);
    fft_s[2] = (x_maps_filter + dy_maps_filter + maps_w) * map_seconds +
               products(Og, Cg, B, maps_y + maps_x + maps_w) + B * O * S_out * bytes / rates.memory_bytes;
  }

  {
    backend_rates at_vendor_rate = rates;
    at_vendor_rate.gemm_flops = rates.vendor_flops;
    const double io_bytes = 2.0 * (B * C * S_in + B * O * S_out + O * Cg * K) * bytes;
    const double gemm = gemm_seconds(at_vendor_rate, Og, B * S_out, Cg * K, G) * precision;
    for (auto& seconds : vendor_s) seconds = gemm + io_bytes / rates.memory_bytes + 4 * rates.call_seconds;
  }

  for (int which = 0; which < pass_count; ++which)
    if (!declared.has(static_cast<pass>(which)))
      for (auto& per_algorithm : costs.seconds) per_algorithm[which] = 0;
  return costs;
}

}  // namespace fftconv::detail
