#pragma once
// What the layers around a convolution (activations, pooling, fully connected layers, losses, optimisers) need
// from an executor, written once for fftconv::host and fftconv::device:
//
//   ops::buffer<Exec, T>                        move-only memory in the executor's space
//   ops::allocate<T>(exec, count)               from exec.resource when set (stream-ordered on the GPU)
//   ops::for_each_index(exec, n, f)             f(i) for every 0 <= i < n: OpenMP loop / grid-stride kernel
//   ops::segmented_sum(exec, s, len, term, out) out[j] = sum over i < len of term(j, i), in a fixed order
//   ops::fill(exec, data, count, value), ops::copy(exec, destination, source, count)
//   ops::gemm(exec, gemm_desc, alpha, A, B, beta, C)   row-major (strided-batched) GEMM: CBLAS / cuBLAS
//   ops::synchronize(exec), ops::on_device<Exec>
//
// This namespace is stable across releases; fftconv::detail, which it forwards to, may change freely.
// Every call checks its arguments (always on) and throws fftconv::invalid_argument naming the one at fault.
// Device calls enqueue on exec.stream and return, like the convolution's; the device versions need the
// translation unit compiled by nvcc, and on the device `f` and `term` are FFTCONV_HD functors (a struct whose
// operator() is FFTCONV_HD, capturing by value): a host lambda cannot run in a kernel.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>  // std::less, a total order over unrelated pointers
#include <type_traits>
#include <utility>

#include "backend/backend.hpp"
#include "error.hpp"
#include "executor.hpp"
#include "geometry.hpp"  // checked_multiply, checked_add

namespace fftconv::ops {

// Whether Exec's memory and work are on the GPU (sizes a saved state, picks host or device staging).
template <executor Exec>
inline constexpr bool on_device = std::same_as<Exec, device>;

enum class gemm_op { none, transpose, conjugate_transpose };

// One GEMM, or a batch of them, as a value. Row-major throughout: for each b < batch,
//   C_b[m x n] = alpha * op(A_b)[m x k] * op(B_b)[k x n] + beta * C_b
// with A_b = A + b * stride_a (likewise B, C); leading dimensions and strides count elements.
struct gemm_desc {
  gemm_op op_a = gemm_op::none;
  gemm_op op_b = gemm_op::none;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  std::int64_t batch = 1;

  friend bool operator==(const gemm_desc&, const gemm_desc&) = default;
};

}  // namespace fftconv::ops

namespace fftconv::detail::ops_support {

// ops' argument checks, named for the public call that failed.
using public_gemm_op = ::fftconv::ops::gemm_op;
using public_gemm_desc = ::fftconv::ops::gemm_desc;

inline void check_count(const char* call, const char* name, std::int64_t count) {
  if (count < 0) fail(call, ": ", name, " = ", count, " is negative");
}

// An operand the call reads or writes: non-null, and in memory Exec can use (checked by the backend).
template <class Exec>
void check_operand(const Exec& exec, const char* call, const char* name, const void* pointer) {
  if (pointer == nullptr) fail(call, ": ", name, " is null");
  backend<Exec>::check_pointer(exec, pointer, name);
}

// `count` elements at `pointer` (`count_name` says which argument counts them): null is fine for none.
template <class Exec>
void check_range(const Exec& exec, const char* call, const char* name, const void* pointer, const char* count_name,
                 std::int64_t count) {
  check_count(call, count_name, count);
  if (count == 0) return;
  if (pointer == nullptr) fail(call, ": ", name, " is null, but ", count_name, " = ", count);
  check_operand(exec, call, name, pointer);
}

// Row-major storage: a row of stored A is k long for op_a == none, m long otherwise (likewise B); rows must not
// overlap, so each leading dimension is at least its row (and at least 1, as BLAS asks).
inline void check_gemm(const public_gemm_desc& d) {
  for (const auto& [value, name] : {std::pair{d.m, "m"}, std::pair{d.n, "n"}, std::pair{d.k, "k"},
                                    std::pair{d.stride_a, "stride_a"}, std::pair{d.stride_b, "stride_b"},
                                    std::pair{d.stride_c, "stride_c"}, std::pair{d.batch, "batch"}})
    check_count("ops::gemm", name, value);
  const auto check_leading = [](const char* name, std::int64_t ld, std::int64_t row, const char* stored) {
    const std::int64_t least = row > 1 ? row : 1;
    if (ld < least) fail("ops::gemm: ", name, " = ", ld, ", but ", stored, " needs ", name, " >= ", least);
  };
  const bool a_plain = d.op_a == public_gemm_op::none, b_plain = d.op_b == public_gemm_op::none;
  check_leading("lda", d.lda, a_plain ? d.k : d.m, a_plain ? "A stored m x k (op_a none)" : "A stored k x m (op_a)");
  check_leading("ldb", d.ldb, b_plain ? d.n : d.k, b_plain ? "B stored k x n (op_b none)" : "B stored n x k (op_b)");
  check_leading("ldc", d.ldc, d.n, "C stored m x n");
  // The entries of a batch may run concurrently: their outputs must not overlap (inputs may be shared).
  if (d.batch <= 1 || d.m == 0 || d.n == 0) return;
  const std::int64_t output_span = checked_add(checked_multiply(d.m - 1, d.ldc, "ops::gemm: (m - 1) * ldc"), d.n,
                                               "ops::gemm: (m - 1) * ldc + n");
  if (d.stride_c < output_span)
    fail("ops::gemm: stride_c = ", d.stride_c, " overlaps the ", d.batch, " outputs of ", d.m, " x ", d.n,
         " (ldc = ", d.ldc, "); it needs stride_c >= ", output_span);
}

inline gemm_op to_backend(public_gemm_op op) {
  switch (op) {
    case public_gemm_op::none: return gemm_op::none;
    case public_gemm_op::transpose: return gemm_op::transpose;
    case public_gemm_op::conjugate_transpose: return gemm_op::conjugate_transpose;
  }
  fail("ops::gemm: op = ", static_cast<int>(op), " is not a gemm_op");
}

inline gemm_desc to_backend(const public_gemm_desc& d) {
  return {.op_a = to_backend(d.op_a), .op_b = to_backend(d.op_b), .m = d.m, .n = d.n, .k = d.k, .lda = d.lda,
          .ldb = d.ldb, .ldc = d.ldc, .stride_a = d.stride_a, .stride_b = d.stride_b, .stride_c = d.stride_c,
          .batch = d.batch};
}

}  // namespace fftconv::detail::ops_support

namespace fftconv::ops {

// `count` elements of T in Exec's memory, released when the buffer dies (on the GPU in exec.stream's order, to
// the resource it came from). Empty when default-constructed or of count 0. Contents start uninitialised.
template <executor Exec, class T>
class buffer {
 public:
  buffer() = default;
  buffer(const Exec& exec, std::int64_t count) : memory_(checked_allocation(exec, count)) {}

  T* data() const noexcept { return memory_.data(); }
  std::size_t size() const noexcept { return memory_.size(); }
  std::size_t bytes() const noexcept { return memory_.bytes(); }
  bool empty() const noexcept { return memory_.size() == 0; }

 private:
  using memory = typename detail::backend<Exec>::template buffer<T>;
  static memory checked_allocation(const Exec& exec, std::int64_t count) {
    if (count < 0) detail::fail("ops::allocate: count = ", count, " is negative");
    return detail::backend<Exec>::template allocate<T>(exec, static_cast<std::size_t>(count));
  }
  memory memory_;
};

template <class T, executor Exec>
buffer<Exec, T> allocate(const Exec& exec, std::int64_t count) {
  return buffer<Exec, T>(exec, count);
}

// f(i) for every 0 <= i < count, in no particular order (and in parallel): each i must write its own outputs.
// `work_per_index` says how much one i does (1: one element; a whole row: its length) so the host spreads
// the loop over threads only when that pays; the device ignores it.
template <executor Exec, class F>
void for_each_index(const Exec& exec, std::int64_t count, const F& f, std::int64_t work_per_index = 1) {
  detail::ops_support::check_count("ops::for_each_index", "count", count);
  if (work_per_index < 1) detail::fail("ops::for_each_index: work_per_index = ", work_per_index, " is not positive");
  detail::backend<Exec>::for_each_index(exec, count, f, work_per_index);
}

// out[j] = sum over i < length of term(j, i) for j < segments, accumulated in the order of i (float in
// double): the same bits on every run, unlike an atomic reduction.
template <executor Exec, class T, class F>
void segmented_sum(const Exec& exec, std::int64_t segments, std::int64_t length, const F& term, T* out) {
  detail::ops_support::check_count("ops::segmented_sum", "length", length);
  detail::ops_support::check_range(exec, "ops::segmented_sum", "out", out, "segments", segments);
  detail::backend<Exec>::segmented_sum(exec, segments, length, term, out);
}

template <executor Exec, class T>
void fill(const Exec& exec, T* data, std::int64_t count, std::type_identity_t<T> value) {
  detail::ops_support::check_range(exec, "ops::fill", "data", data, "count", count);
  detail::backend<Exec>::fill(exec, data, count, value);
}

// Both ranges in Exec's memory (host to host, device to device) and disjoint.
template <executor Exec, class T>
void copy(const Exec& exec, T* destination, const std::type_identity_t<T>* source, std::int64_t count) {
  detail::ops_support::check_range(exec, "ops::copy", "destination", destination, "count", count);
  detail::ops_support::check_range(exec, "ops::copy", "source", source, "count", count);
  const std::less<const T*> before;
  if (count > 0 && before(source, destination + count) && before(destination, source + count))
    detail::fail("ops::copy: destination ", static_cast<const void*>(destination), " and source ",
                 static_cast<const void*>(source), " overlap over count = ", count, " elements");
  detail::backend<Exec>::copy(exec, destination, source, count);
}

// Scalar: float, double, cuda::std::complex<float> or cuda::std::complex<double>. A, B, C in Exec's memory.
template <executor Exec, class Scalar>
void gemm(const Exec& exec, const gemm_desc& desc, std::type_identity_t<Scalar> alpha,
          const std::type_identity_t<Scalar>* a, const std::type_identity_t<Scalar>* b,
          std::type_identity_t<Scalar> beta, Scalar* c) {
  static_assert(detail::is_gemm_scalar_v<Scalar>,
                "fftconv: ops::gemm takes float, double, cuda::std::complex<float> or cuda::std::complex<double>");
  detail::ops_support::check_gemm(desc);
  if (desc.batch == 0 || desc.m == 0 || desc.n == 0) return;  // no C to write
  const detail::gemm_desc backend_desc = detail::ops_support::to_backend(desc);
  // Non-null even for k == 0 (C = beta * C): the backends offset A and B per batch entry.
  detail::ops_support::check_operand(exec, "ops::gemm", "a", a);
  detail::ops_support::check_operand(exec, "ops::gemm", "b", b);
  detail::ops_support::check_operand(exec, "ops::gemm", "c", c);
  detail::backend<Exec>::gemm(exec, backend_desc, alpha, a, b, beta, c);
}

// Blocks until the work queued on exec is done; a no-op on the host. Refused while exec's stream is being
// captured into a CUDA graph.
template <executor Exec>
void synchronize(const Exec& exec) {
  detail::backend<Exec>::synchronize(exec);
}

}  // namespace fftconv::ops
