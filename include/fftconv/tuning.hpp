#pragma once
// The constants that steer the policies' layouts and fftconv::automatic's timing and cost model, one set per
// executor. Their fingerprint is part of every automatic choice's key: a choice saved under other constants is
// not reused.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "executor.hpp"

namespace fftconv::detail {

// Rates of one backend, in operations (or bytes) per second, for automatic's cost model.
struct backend_rates {
  double direct_flops;      // naive's scalar multiply-adds (all cores)
  double gemm_flops;        // a large GEMM
  double gemm_half_extent;  // a GEMM whose smallest dimension is this runs at half the large-GEMM rate
  double fft_flops;         // a large real FFT, at 2.5 V log2 V flops
  double memory_bytes;      // streaming gathers, staging, crops, transposes
  double call_seconds;      // fixed cost of one library call or kernel launch
  double vendor_flops;      // the vendor library's convolution as an implicit GEMM (oneDNN's JIT, cuDNN)
};

// A field marked "host" or "device" is read by that executor only; the other's copy is the same value, unread.
struct tuning {
  // im2col
  std::size_t im2col_workspace_limit;  // column buffer cap without set_workspace_limit: chunks the batch past it
                                       // (one value: a layer's limit holds on either executor)
  std::size_t im2col_block_bytes;      // host: a forward block's columns stay in cache from gather to GEMM
  std::int64_t im2col_blocked_forward_product;  // host: one image's O/g x S x C/g*K past this runs in row blocks

  // fft
  std::int64_t elementwise_products_limit;  // device: (C/g x phases) x O/g at most this runs elementwise, not GEMM
  std::int64_t streaming_product_bytes;     // host: products this large store past the cache (non-temporal)

  // automatic, measure mode
  int min_repeats;                  // timed steps per candidate before the time budget may stop it
  int max_repeats;                  // at most this many: the minimum settles well before
  double slow_factor;               // a step this much slower than the best so far: one figure is enough
  double hopeless_factor;           // modelled this much slower than the best: not timed (the model is within ~3x)
  double warm_up_cut_factor;        // a warm-up this much slower than the best stands as the figure
  double time_budget_seconds;       // per candidate, after min_repeats
  double naive_reach_factor;        // naive is timed only within this factor of the best other candidate's model
  double naive_always_seconds;      // ... or when modelled under this: cheap to try
  backend_rates rates;              // the cost model (automatic/cost_model.hpp)
};

inline constexpr tuning host_tuning{
    .im2col_workspace_limit = std::size_t{256} << 20,
    .im2col_block_bytes = std::size_t{1} << 20,
    .im2col_blocked_forward_product = std::int64_t{1} << 18,
    .elementwise_products_limit = 8,
    .streaming_product_bytes = std::int64_t{8} << 20,
    .min_repeats = 3,
    .max_repeats = 10,
    .slow_factor = 4.0,
    .hopeless_factor = 20.0,
    .warm_up_cut_factor = 10.0,
    .time_budget_seconds = 0.2,
    .naive_reach_factor = 4.0,
    .naive_always_seconds = 2e-3,
    .rates = {1.8e8, 8.0e9, 4.0, 1.0e10, 6.0e9, 2.0e-6, 5.0e10},  // OpenMP loops, OpenBLAS, FFTW3, oneDNN
};

inline constexpr tuning device_tuning = [] {
  tuning t = host_tuning;
  t.rates = {4.0e11, 2.5e13, 32.0, 2.0e12, 2.0e12, 6.0e-6, 3.0e13};  // CUDA kernels, cuBLAS, cuFFT, cuDNN (H100-class)
  return t;
}();

template <class Exec>
inline constexpr const tuning& tuning_of = std::is_same_v<Exec, device> ? device_tuning : host_tuning;

// FNV-1a over every field: a saved choice carries the fingerprint of the constants it was made under.
constexpr std::uint64_t fingerprint(const tuning& t) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  const auto mix = [&](std::uint64_t value) {
    for (int byte = 0; byte < 8; ++byte) hash = (hash ^ ((value >> (8 * byte)) & 0xff)) * 0x100000001b3ull;
  };
  const auto mix_real = [&](double value) { mix(std::bit_cast<std::uint64_t>(value)); };
  mix(t.im2col_workspace_limit), mix(t.im2col_block_bytes), mix(static_cast<std::uint64_t>(t.im2col_blocked_forward_product));
  mix(static_cast<std::uint64_t>(t.elementwise_products_limit)), mix(static_cast<std::uint64_t>(t.streaming_product_bytes));
  mix(static_cast<std::uint64_t>(t.min_repeats)), mix(static_cast<std::uint64_t>(t.max_repeats));
  mix_real(t.slow_factor), mix_real(t.hopeless_factor), mix_real(t.warm_up_cut_factor);
  mix_real(t.time_budget_seconds), mix_real(t.naive_reach_factor), mix_real(t.naive_always_seconds);
  mix_real(t.rates.direct_flops), mix_real(t.rates.gemm_flops), mix_real(t.rates.gemm_half_extent);
  mix_real(t.rates.fft_flops), mix_real(t.rates.memory_bytes), mix_real(t.rates.call_seconds);
  mix_real(t.rates.vendor_flops);
  return hash;
}

}  // namespace fftconv::detail
