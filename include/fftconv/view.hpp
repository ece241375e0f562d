#pragma once
// Views of the caller's memory: cuda::std::mdspan (libcu++, in the CUDA Toolkit's include/cccl), row-major,
// int64 extents. A view<T, R> converts to view<const T, R>.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cuda/std/array>   // cuda::std::array, which mdspan takes as extents
#include <cuda/std/mdspan>  // cuda::std::mdspan, cuda::std::dextents

namespace fftconv {

template <class T, std::size_t R>
using view = cuda::std::mdspan<T, cuda::std::dextents<std::int64_t, R>>;

// A view over `data` with the given extents (e.g. those returned by conv::output_extents), since
// cuda::std::mdspan takes cuda::std::array, not std::array.
template <class T, std::size_t R>
view<T, R> make_view(T* data, const std::array<std::int64_t, R>& extents) {
  cuda::std::array<std::int64_t, R> converted{};
  for (std::size_t r = 0; r < R; ++r) converted[r] = extents[r];
  return view<T, R>(data, converted);
}

namespace detail {

// Any mdspan's extents as int64 (R cannot be deduced through the view alias, so the whole type is).
template <class T, class Extents, class Layout, class Accessor>
std::array<std::int64_t, Extents::rank()> extents_of(const cuda::std::mdspan<T, Extents, Layout, Accessor>& v) {
  std::array<std::int64_t, Extents::rank()> extents{};
  for (std::size_t r = 0; r < Extents::rank(); ++r) extents[r] = static_cast<std::int64_t>(v.extent(r));
  return extents;
}

// Do [a, a + a_count) and [b, b + b_count) (element counts of their own types) share a byte?
template <class A, class B>
bool overlaps(const A* a, std::int64_t a_count, const B* b, std::int64_t b_count) {
  if (a == nullptr || b == nullptr) return false;
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a);
  const auto b_begin = reinterpret_cast<std::uintptr_t>(b);
  const auto a_end = a_begin + static_cast<std::uintptr_t>(a_count) * sizeof(A);
  const auto b_end = b_begin + static_cast<std::uintptr_t>(b_count) * sizeof(B);
  return a_begin < b_end && b_begin < a_end;
}

}  // namespace detail
}  // namespace fftconv
