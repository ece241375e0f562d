#pragma once
// Views of the caller's memory. `view<T, R>` is the row-major cuda::std::mdspan (libcu++, in the CUDA Toolkit's
// include/cccl) with int64 extents. Every call takes `tensor_ref<T, R>`, the one internal form a view is
// normalised to at the boundary: a pointer, int64 extents and int64 strides (in elements). Any mdspan with a
// strided mapping converts to it implicitly — layout_right, layout_left, layout_stride, any integral index
// type — so layouts and index types do not multiply instantiations, and nothing is copied to convert.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <cuda/std/array>   // cuda::std::array, which mdspan takes as extents
#include <cuda/std/mdspan>  // cuda::std::mdspan, cuda::std::dextents

#include "error.hpp"

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

// Row-major strides of `extents`.
template <std::size_t R>
std::array<std::int64_t, R> row_major_strides(const std::array<std::int64_t, R>& extents) {
  std::array<std::int64_t, R> strides{};
  std::int64_t step = 1;
  for (std::size_t r = R; r-- > 0;) {
    strides[r] = step;
    step *= extents[r];
  }
  return strides;
}

// A strided tensor of the caller's: element (i0, ..., iR-1) is data[sum i_r * stride_r].
template <class T, std::size_t R>
class tensor_ref {
 public:
  using element_type = T;
  static constexpr std::size_t rank() noexcept { return R; }

  tensor_ref() = default;
  tensor_ref(T* data, const std::array<std::int64_t, R>& extents, const std::array<std::int64_t, R>& strides,
             bool unique = true)
      : data_(data), extents_(extents), strides_(strides), unique_(unique) {}
  tensor_ref(T* data, const std::array<std::int64_t, R>& extents)  // row-major
      : data_(data), extents_(extents), strides_(row_major_strides(extents)) {}

  // Any mdspan of U (U* converting to T*: T may add const) whose mapping is strided. A mapping that is not
  // (a custom layout) is refused with a message.
  template <class U, class Extents, class Layout, class Accessor>
    requires(Extents::rank() == R && std::is_convertible_v<U (*)[], T (*)[]> &&
             std::is_convertible_v<typename Accessor::data_handle_type, T*>)
  tensor_ref(const cuda::std::mdspan<U, Extents, Layout, Accessor>& v)  // NOLINT: implicit by design
      : data_(v.data_handle()) {
    for (std::size_t r = 0; r < R; ++r) extents_[r] = static_cast<std::int64_t>(v.extent(r));
    if constexpr (R > 0) {
      if (!v.is_strided())
        detail::fail("a view with extents ", detail::format_extents(extents_),
                     " has a mapping that is not strided; pass layout_right, layout_left or layout_stride");
      for (std::size_t r = 0; r < R; ++r) strides_[r] = static_cast<std::int64_t>(v.stride(r));
    }
    unique_ = v.is_unique();
  }

  // tensor_ref<T, R> -> tensor_ref<const T, R>.
  template <class U>
    requires(!std::is_same_v<U, T> && std::is_convertible_v<U (*)[], T (*)[]>)
  tensor_ref(const tensor_ref<U, R>& other)  // NOLINT: implicit, as T* -> const T*
      : data_(other.data()), extents_(other.extents()), strides_(other.strides()), unique_(other.unique()) {}

  T* data() const noexcept { return data_; }
  T* data_handle() const noexcept { return data_; }
  std::int64_t extent(std::size_t r) const noexcept { return extents_[r]; }
  std::int64_t stride(std::size_t r) const noexcept { return strides_[r]; }
  const std::array<std::int64_t, R>& extents() const noexcept { return extents_; }
  const std::array<std::int64_t, R>& strides() const noexcept { return strides_; }
  bool unique() const noexcept { return unique_; }  // no two indices share an element

  std::int64_t size() const noexcept {
    std::int64_t n = 1;
    for (std::size_t r = 0; r < R; ++r) n *= extents_[r];
    return n;
  }

  // Laid out row-major without gaps: the policies' kernels read it as it is. Dims of extent 1 may have any stride.
  bool contiguous() const noexcept {
    std::int64_t step = 1;
    for (std::size_t r = R; r-- > 0;) {
      if (extents_[r] != 1 && strides_[r] != step) return false;
      step *= extents_[r];
    }
    return true;
  }

  // Elements from data() to the last one reached, inclusive (strides are >= 0).
  std::int64_t span() const noexcept {
    std::int64_t last = 0;
    for (std::size_t r = 0; r < R; ++r) last += (extents_[r] - 1) * strides_[r];
    return last + 1;
  }

 private:
  T* data_ = nullptr;
  std::array<std::int64_t, R> extents_{};
  std::array<std::int64_t, R> strides_{};
  bool unique_ = true;
};

// An optional rank-1 tensor (bias, dbias): none, a rank-1 view (extent checked), or a bare pointer to
// out_channels elements (extent taken as the geometry's).
template <class T>
class optional_vector {
 public:
  optional_vector() = default;
  optional_vector(std::nullptr_t) {}  // NOLINT: `layer.forward(exec, x, w, nullptr, y)`
  optional_vector(T* data) : ref_(data, {-1}, {1}) {}  // NOLINT: a pointer to out_channels elements
  template <class V>
    requires std::is_constructible_v<tensor_ref<T, 1>, const V&>
  optional_vector(const V& v) : ref_(v) {}  // NOLINT: any rank-1 view

  bool has_value() const noexcept { return ref_.data() != nullptr; }
  explicit operator bool() const noexcept { return has_value(); }
  // The vector, its extent resolved: a bare pointer's is `expected`.
  tensor_ref<T, 1> resolved(std::int64_t expected) const {
    if (ref_.extent(0) >= 0) return ref_;
    return tensor_ref<T, 1>(ref_.data(), {expected}, {1});
  }
  std::int64_t declared_extent() const noexcept { return ref_.extent(0); }  // -1 for a bare pointer

 private:
  tensor_ref<T, 1> ref_{nullptr, {-1}, {1}};
};

namespace detail {

// Any mdspan's extents as int64 (R cannot be deduced through the view alias, so the whole type is).
template <class T, class Extents, class Layout, class Accessor>
std::array<std::int64_t, Extents::rank()> extents_of(const cuda::std::mdspan<T, Extents, Layout, Accessor>& v) {
  std::array<std::int64_t, Extents::rank()> extents{};
  for (std::size_t r = 0; r < Extents::rank(); ++r) extents[r] = static_cast<std::int64_t>(v.extent(r));
  return extents;
}
template <class T, std::size_t R>
const std::array<std::int64_t, R>& extents_of(const tensor_ref<T, R>& v) {
  return v.extents();
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

// Is `delta` = sum_r d_r * strides[r] for some d_r in [-(b_extents[r] - 1), a_extents[r] - 1]? Exact when the
// strides nest (each, in decreasing order, exceeds what all smaller ones can reach together): then only the two
// multiples nearest to the remainder can work at each level. Otherwise answers true (maybe shared).
template <std::size_t R>
bool strided_offsets_meet(std::int64_t delta, const std::array<std::int64_t, R>& strides,
                          const std::array<std::int64_t, R>& a_extents, const std::array<std::int64_t, R>& b_extents) {
  std::array<std::size_t, R> order{};
  for (std::size_t r = 0; r < R; ++r) order[r] = r;
  std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return strides[i] > strides[j]; });
  // reach[k]: the largest |sum| the dims from position k on can contribute.
  std::array<std::int64_t, R + 1> reach{};
  for (std::size_t k = R; k-- > 0;) {
    const std::size_t r = order[k];
    reach[k] = reach[k + 1] + (std::max(a_extents[r], b_extents[r]) - 1) * strides[r];
  }
  for (std::size_t k = 0; k + 1 < R; ++k)
    if (strides[order[k]] <= reach[k + 1]) return true;  // not nested: conservative
  auto search = [&](auto& self, std::size_t k, std::int64_t remainder) -> bool {
    if (k == R) return remainder == 0;
    const std::size_t r = order[k];
    const std::int64_t s = strides[r];
    if (s == 0) return self(self, k + 1, remainder);
    const std::int64_t low = -(b_extents[r] - 1), high = a_extents[r] - 1;
    std::int64_t q = remainder / s;
    if (remainder % s != 0 && remainder < 0) --q;  // floor
    for (std::int64_t d : {q, q + 1})
      if (d >= low && d <= high && self(self, k + 1, remainder - d * s)) return true;
    return false;
  };
  return search(search, 0, delta);
}

}  // namespace detail
}  // namespace fftconv
