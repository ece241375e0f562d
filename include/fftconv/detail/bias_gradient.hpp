#pragma once
// The bias gradient db[o] = sum over b, q of dy[b, o, q], the same in every policy (and in conv, when a policy
// leaves it): a segmented sum over dy in a fixed order, the same bits on every run. Any executor sums it term by
// term through its backend's segmented_sum; the host sums dense planes of dy as contiguous runs (below).

#include <algorithm>
#include <cstdint>

#include "../backend/backend.hpp"
#include "../executor.hpp"
#include "../geometry.hpp"     // problem<N>
#include "kernels/direct.hpp"  // bias_gradient_term

namespace fftconv::detail {

// dy may be narrower than T (16-bit storage): its terms are loaded as T.
template <class Exec, int N, class S, class T>
void bias_gradient(const Exec& exec, const problem<N>& p, strided<const S, N> dy, T* dbias) {
  backend<Exec>::segmented_sum(exec, p.out_channels, p.batch * p.output_spatial(), bias_gradient_term<N, T, S>(p, dy),
                               dbias);
}

// On the host each segment is `batch` contiguous runs of output_spatial terms, summed here without the term
// functor's index division per element and in eight interleaved partial sums (independent adds the compiler
// vectorises, not one chain of dependent ones), combined in a fixed order: the same bits on every run.
template <int N, class S, class T>
void bias_gradient(const host& exec, const problem<N>& p, strided<const S, N> dy, T* dbias) {
  const std::int64_t segments = p.out_channels, length = p.batch * p.output_spatial();
  const bias_gradient_term<N, T, S> term(p, dy);
  T* const out = dbias;
  if (!term.dy.layout.dense_planes(term.output)) {  // channels-last or another strided dy: term by term
    backend<host>::segmented_sum(exec, segments, length, term, out);
    return;
  }
  using accumulator = host_accumulator_t<T>;
  constexpr std::int64_t lanes = 8;
  const std::int64_t run = term.output_spatial;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (segments > 1 && worth_parallel(double(segments) * double(length)))
#endif
  for (std::int64_t o = 0; o < segments; ++o) {
    accumulator partial[lanes] = {};
    for (std::int64_t first = 0, b = 0; first < length; first += run, ++b) {
      const S* values = term.dy.data + term.dy.layout.plane(b, o);
      const std::int64_t count = std::min(run, length - first);
      std::int64_t q = 0;
      for (; q + lanes <= count; q += lanes)
        for (std::int64_t l = 0; l < lanes; ++l) partial[l] += load_as<accumulator>(values[q + l]);
      for (; q < count; ++q) partial[q % lanes] += load_as<accumulator>(values[q]);
    }
    accumulator sum{};
    for (std::int64_t l = 0; l < lanes; ++l) sum += partial[l];
    out[o] = static_cast<T>(sum);
  }
}

}  // namespace fftconv::detail
