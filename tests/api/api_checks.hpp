#pragma once
// Support for the public-API specification tests (tests/api/): buffers at fixed addresses whose contents are
// rewritten in place, tensors placed in any strided layout inside a larger buffer, and the policies under test.
// Every result is compared against the float64 reference (tests/support/reference.hpp), which shares no code
// with the library.
//
// The checks are templates over the executor; this header defines the host's memory, api_device.cuh the
// device's, so the same specification runs on both.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <cuda/std/mdspan>

#include "api_policies.hpp"  // FFTCONV_API_POLICIES, the library headers

#include "../support/layer_views.hpp"  // geometry_of, extents
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/tolerance.hpp"

namespace api_checks {

using testing_support::describe;
using testing_support::extents;
using testing_support::geometry_of;
using testing_support::random_layer;
using testing_support::random_values;
using testing_support::relative_l2;
using testing_support::tolerance;

// ---- layers -------------------------------------------------------------------------------------------------

template <int N>
std::array<std::int64_t, N + 2> x_extents(const reference::layer& L) {
  return extents<N>(L.batch, L.in_channels, L.input);
}
template <int N>
std::array<std::int64_t, N + 2> y_extents(const reference::layer& L) {
  return extents<N>(L.batch, L.out_channels, L.output());
}
template <int N>
std::array<std::int64_t, N + 2> w_extents(const reference::layer& L) {
  return extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
}

// A layer of fixed shape: stride 1 and 'same' padding (output extents = input extents), so x, y, dx and dy
// can be channel slices of one buffer with equal strides.
inline reference::layer same_layer(int rank, std::int64_t batch, std::int64_t in_channels, std::int64_t out_channels,
                                   std::int64_t groups, std::int64_t extent, std::int64_t kernel) {
  reference::layer L;
  L.rank = rank;
  L.batch = batch;
  L.in_channels = in_channels;
  L.out_channels = out_channels;
  L.groups = groups;
  for (int d = 0; d < rank; ++d) {
    L.input.push_back(extent + d);
    L.kernel.push_back(kernel);
    L.padding.push_back((kernel - 1) / 2);
    L.padding_high.push_back(kernel - 1 - (kernel - 1) / 2);
    L.stride.push_back(1);
    L.dilation.push_back(1);
  }
  return L;
}

// How the tests' automatic layers choose: by the cost model (deterministic, no timing) unless a test case
// asks for measurement with automatic_mode_scope.
inline fftconv::automatic_mode& automatic_mode_for_tests() {
  thread_local fftconv::automatic_mode mode = fftconv::automatic_mode::heuristic;
  return mode;
}

struct automatic_mode_scope {
  fftconv::automatic_mode previous;
  explicit automatic_mode_scope(fftconv::automatic_mode mode) : previous(automatic_mode_for_tests()) {
    automatic_mode_for_tests() = mode;
  }
  ~automatic_mode_scope() { automatic_mode_for_tests() = previous; }
  automatic_mode_scope(const automatic_mode_scope&) = delete;
  automatic_mode_scope& operator=(const automatic_mode_scope&) = delete;
};

// Each policy as the tests configure it (automatic: automatic_mode_for_tests()).
template <class Layer>
void configure(Layer& layer) {
  if constexpr (requires { layer.set_mode(fftconv::automatic_mode::heuristic); })
    layer.set_mode(automatic_mode_for_tests());
}

// For a failure's message: what an automatic layer chose last, and why ("" for the other policies).
template <class Layer>
std::string choice_of(const Layer& layer) {
  if constexpr (requires { layer.choice(); })
    return std::string("automatic chose ") + (layer.choice().policy ? fftconv::to_string(*layer.choice().policy) : "nothing") +
           ": " + layer.choice().reason;
  else
    return "";
}

template <int N, class T, class P>
fftconv::conv<N, T, P> make_layer(const reference::layer& L) {
  fftconv::conv<N, T, P> layer(geometry_of<N>(L));
  configure(layer);
  return layer;
}

template <class P>
std::string policy_name() {
  if constexpr (std::is_same_v<P, fftconv::automatic>)
    return "automatic";
  else
    return fftconv::to_string(fftconv::algorithm_of<P>);
}

// ---- memory -------------------------------------------------------------------------------------------------

// T elements at an address that never changes; write() replaces the contents in place (as an optimizer step
// does to weights, or a data loader to its input buffer).
template <class T, class Exec>
class buffer;

// Bytes for a saved state, aligned to 256 so that any offset can be asked for.
template <class Exec>
class byte_buffer;

inline constexpr std::size_t storage_alignment = 256;

struct aligned_free {
  void operator()(void* p) const noexcept { std::free(p); }
};

inline void* aligned_host_allocation(std::size_t bytes) {
  const std::size_t rounded =
      (std::max<std::size_t>(bytes, 1) + storage_alignment - 1) / storage_alignment * storage_alignment;
  void* p = std::aligned_alloc(storage_alignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

template <class T>
class buffer<T, fftconv::host> {
 public:
  buffer(fftconv::host, std::int64_t count)
      : count_(count), data_(static_cast<T*>(aligned_host_allocation(sizeof(T) * std::size_t(count)))) {}
  buffer(fftconv::host exec, const std::vector<double>& values) : buffer(exec, std::int64_t(values.size())) {
    write(values);
  }
  T* data() const { return data_.get(); }
  std::int64_t size() const { return count_; }
  void write(const std::vector<double>& values) {
    REQUIRE(std::int64_t(values.size()) == count_);
    for (std::int64_t i = 0; i < count_; ++i) data_.get()[i] = static_cast<T>(values[i]);
  }
  std::vector<double> read() const { return {data_.get(), data_.get() + count_}; }

 private:
  std::int64_t count_;
  std::unique_ptr<T, aligned_free> data_;
};

template <>
class byte_buffer<fftconv::host> {
 public:
  byte_buffer(fftconv::host, std::size_t bytes)
      : bytes_(bytes), data_(static_cast<std::byte*>(aligned_host_allocation(bytes))) {
    std::memset(data_.get(), 0, bytes_);
  }
  std::byte* data() const { return data_.get(); }
  std::size_t size() const { return bytes_; }
  // The first `count` bytes from `offset` (offset + count <= size()).
  fftconv::saved_state part(std::size_t offset, std::size_t count) const {
    REQUIRE(offset + count <= bytes_);
    return {data_.get() + offset, count};
  }
  fftconv::saved_state all() const { return {data_.get(), bytes_}; }

 private:
  std::size_t bytes_;
  std::unique_ptr<std::byte, aligned_free> data_;
};

// A saved state sized for x's extents on this layer (keep::spectra by default).
template <class Layer, class Exec>
byte_buffer<Exec> saved_for(Exec exec, const Layer& layer, const std::array<std::int64_t, Layer::rank + 2>& x,
                            fftconv::keep kept = fftconv::keep::spectra) {
  return byte_buffer<Exec>(exec, layer.saved_bytes(x, kept, fftconv::detail::backend<Exec>::on_device));
}

// ---- tensors in any strided layout ----------------------------------------------------------------------------

// Where a tensor of logical extents E lies in its buffer: its dims nest in `order` (outermost first), every
// dim steps over `step` elements (2: every other element), and the channel dim (1) is a slice
// [before, before + E[1]) of E[1] + before + after channels. Element (i) of the tensor is at
// offset + sum i_r * strides[r].
template <std::size_t R>
struct placement {
  std::array<int, R> order{};
  std::int64_t step = 1;
  std::int64_t channels_before = 0, channels_after = 0;

  static placement row_major() {
    placement p;
    std::iota(p.order.begin(), p.order.end(), 0);
    return p;
  }
  static placement column_major() {
    placement p;
    for (std::size_t r = 0; r < R; ++r) p.order[r] = int(R - 1 - r);
    return p;
  }
  // [N, spatial..., C]: channels last (NHWC for N = 2).
  static placement channels_last() {
    placement p;
    p.order[0] = 0;
    for (std::size_t r = 1; r + 1 < R; ++r) p.order[r] = int(r + 1);
    p.order[R - 1] = 1;
    return p;
  }
  static placement random_order(std::mt19937_64& rng) {
    placement p = row_major();
    std::shuffle(p.order.begin(), p.order.end(), rng);
    return p;
  }
  std::string describe() const {
    std::string s = "order";
    for (int o : order) s += ' ' + std::to_string(o);
    s += " step " + std::to_string(step) + " channels +" + std::to_string(channels_before) + "/+" +
         std::to_string(channels_after);
    return s;
  }
};

template <std::size_t R>
struct layout_of {
  std::array<std::int64_t, R> strides{};
  std::int64_t offset = 0;
  std::int64_t elements = 0;  // of the whole buffer
};

template <std::size_t R>
layout_of<R> lay_out(const std::array<std::int64_t, R>& extents, const placement<R>& place) {
  std::array<std::int64_t, R> allocated = extents;
  allocated[1] += place.channels_before + place.channels_after;
  layout_of<R> l;
  std::int64_t step = 1;
  for (std::size_t k = R; k-- > 0;) {
    const int r = place.order[k];
    l.strides[r] = step * place.step;
    step *= allocated[r] * place.step;
  }
  l.elements = step;
  l.offset = place.channels_before * l.strides[1];
  return l;
}

// Calls f(logical row-major index, element offset) for each element of a tensor.
template <std::size_t R, class F>
void for_each_element(const std::array<std::int64_t, R>& extents, const std::array<std::int64_t, R>& strides,
                      std::int64_t offset, F f) {
  std::int64_t count = 1;
  for (auto e : extents) count *= e;
  std::array<std::int64_t, R> index{};
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t rest = i, at = offset;
    for (std::size_t r = R; r-- > 0;) {
      index[r] = rest % extents[r];
      rest /= extents[r];
      at += index[r] * strides[r];
    }
    f(i, at);
  }
}

// Background of a buffer outside the tensor: a value no result has, so a stray write shows.
inline constexpr double background = 4.0e5;

// A tensor inside a buffer: element (i) of the logical extents is at offset + sum i_r * strides[r].
template <std::size_t R>
struct region {
  std::array<std::int64_t, R> extents{};
  std::array<std::int64_t, R> strides{};
  std::int64_t offset = 0;

  std::int64_t count() const {
    std::int64_t n = 1;
    for (auto e : extents) n *= e;
    return n;
  }
};

// The region of a tensor of `extents` placed by `place` (see placement).
template <std::size_t R>
region<R> region_of(const std::array<std::int64_t, R>& extents, const placement<R>& place) {
  const layout_of<R> l = lay_out(extents, place);
  return {extents, l.strides, l.offset};
}

// Channels [first, first + count) of a tensor region (a slice of its channel dim, same strides).
template <std::size_t R>
region<R> channel_slice(const region<R>& whole, std::int64_t first, std::int64_t count) {
  region<R> r = whole;
  r.extents[1] = count;
  r.offset += first * whole.strides[1];
  return r;
}

template <class T, class Exec, std::size_t R>
void store(buffer<T, Exec>& b, const region<R>& r, const std::vector<double>& values) {
  std::vector<double> all = b.read();
  for_each_element<R>(r.extents, r.strides, r.offset, [&](std::int64_t i, std::int64_t at) { all[at] = values[i]; });
  b.write(all);
}

template <class T, class Exec, std::size_t R>
std::vector<double> load(const buffer<T, Exec>& b, const region<R>& r) {
  const std::vector<double> all = b.read();
  std::vector<double> values(static_cast<std::size_t>(r.count()));
  for_each_element<R>(r.extents, r.strides, r.offset, [&](std::int64_t i, std::int64_t at) { values[i] = all[at]; });
  return values;
}

// Every element of b outside the regions still holds `background`.
template <class T, class Exec, std::size_t R>
bool background_outside(const buffer<T, Exec>& b, std::initializer_list<region<R>> regions) {
  std::vector<double> all = b.read();
  for (const region<R>& r : regions)
    for_each_element<R>(r.extents, r.strides, r.offset, [&](std::int64_t, std::int64_t at) { all[at] = background; });
  return std::all_of(all.begin(), all.end(), [](double v) { return v == background; });
}

// The region as a tensor_ref, built directly (strides may be 0, unique as declared).
template <class T, class Exec, std::size_t R>
fftconv::tensor_ref<T, R> ref_of(const buffer<std::remove_const_t<T>, Exec>& b, const region<R>& r,
                                 bool unique = true) {
  return fftconv::tensor_ref<T, R>(b.data() + r.offset, r.extents, r.strides, unique);
}

// How a test hands a tensor to the library: which mdspan it builds (each converts to tensor_ref implicitly).
enum class view_kind {
  right,        // mdspan<T, dextents<int64_t, R>> (layout_right): the region must be row-major
  left,         // layout_left: the region must be column-major
  strided,      // layout_stride, int64 indices
  int_right,    // mdspan<T, dextents<int, R>> (layout_right)
  int_strided,  // layout_stride, int indices
};

inline std::string name_of(view_kind k) {
  switch (k) {
    case view_kind::right: return "layout_right";
    case view_kind::left: return "layout_left";
    case view_kind::strided: return "layout_stride";
    case view_kind::int_right: return "layout_right<int>";
    case view_kind::int_strided: return "layout_stride<int>";
  }
  return "?";
}

// The region as the mdspan of `kind`, converted to tensor_ref as a call does. Checks that the conversion kept
// the region's strides (a layout_right / left view of a region that is not row- / column-major is a test bug).
template <class T, class Exec, std::size_t R>
fftconv::tensor_ref<T, R> view_of(const buffer<std::remove_const_t<T>, Exec>& b, const region<R>& r, view_kind kind) {
  T* origin = b.data() + r.offset;
  const auto strided = [&]<class Index>() -> fftconv::tensor_ref<T, R> {
    using extents_type = cuda::std::dextents<Index, R>;
    cuda::std::array<Index, R> e{}, s{};
    for (std::size_t i = 0; i < R; ++i)
      e[i] = static_cast<Index>(r.extents[i]), s[i] = static_cast<Index>(r.strides[i]);
    return cuda::std::mdspan<T, extents_type, cuda::std::layout_stride>(
        origin, cuda::std::layout_stride::mapping<extents_type>(extents_type(e), s));
  };
  const auto dense = [&]<class Index, class Layout>() -> fftconv::tensor_ref<T, R> {
    using extents_type = cuda::std::dextents<Index, R>;
    cuda::std::array<Index, R> e{};
    for (std::size_t i = 0; i < R; ++i) e[i] = static_cast<Index>(r.extents[i]);
    return cuda::std::mdspan<T, extents_type, Layout>(origin, extents_type(e));
  };
  fftconv::tensor_ref<T, R> v;
  switch (kind) {
    case view_kind::right: v = dense.template operator()<std::int64_t, cuda::std::layout_right>(); break;
    case view_kind::left: v = dense.template operator()<std::int64_t, cuda::std::layout_left>(); break;
    case view_kind::strided: v = strided.template operator()<std::int64_t>(); break;
    case view_kind::int_right: v = dense.template operator()<int, cuda::std::layout_right>(); break;
    case view_kind::int_strided: v = strided.template operator()<int>(); break;
  }
  for (std::size_t i = 0; i < R; ++i)
    if (r.extents[i] > 1)
      REQUIRE_MESSAGE(v.stride(i) == r.strides[i], "the test's region does not fit ", name_of(kind));
  return v;
}

// A rank-1 view of `count` elements `stride` apart from b's start (bias, dbias), as a layout_stride mdspan.
template <class T, class Exec>
cuda::std::mdspan<T, cuda::std::dextents<std::int64_t, 1>, cuda::std::layout_stride> vector_view(
    const buffer<std::remove_const_t<T>, Exec>& b, std::int64_t count, std::int64_t stride) {
  using extents_type = cuda::std::dextents<std::int64_t, 1>;
  return {b.data(), cuda::std::layout_stride::mapping<extents_type>(extents_type(count),
                                                                    cuda::std::array<std::int64_t, 1>{stride})};
}

// ---- outputs that must not be read -------------------------------------------------------------------------

inline std::vector<double> nan_values(std::int64_t count) {
  return std::vector<double>(std::size_t(count), std::numeric_limits<double>::quiet_NaN());
}

inline bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e); });
}

// alpha * a + beta * b, elementwise.
inline std::vector<double> blend(double alpha, const std::vector<double>& a, double beta,
                                 const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = alpha * a[i] + beta * b[i];
  return out;
}

// The message of the fftconv::invalid_argument that `call` throws ("" when it throws none).
template <class F>
std::string refusal_of(F&& call) {
  try {
    call();
  } catch (const fftconv::invalid_argument& error) {
    return error.what();
  }
  return {};
}

}  // namespace api_checks
