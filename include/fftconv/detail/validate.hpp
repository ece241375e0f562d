#pragma once
// Argument checks for the passes, run before anything is written. Each failure names the argument, its
// extents (and strides where they are at fault) and what the geometry expects.

#include <array>
#include <cstdint>
#include <initializer_list>

#include "../error.hpp"
#include "../geometry.hpp"
#include "../view.hpp"

namespace fftconv::detail {

// Extents >= 1, an element count and a reach that fit int64, non-null data, strides >= 0; an output also needs
// distinct elements (no stride 0 over an extent > 1, a unique mapping).
template <class T, std::size_t R>
std::int64_t check_tensor(const tensor_ref<T, R>& v, const char* pass, const char* name, bool output) {
  const auto& extents = v.extents();
  for (std::size_t r = 0; r < R; ++r)
    if (extents[r] < 1)
      fail(pass, ": ", name, " has extents ", format_extents(extents), "; every extent must be >= 1");
  const std::int64_t count = checked_product(extents, name);
  if (v.data() == nullptr) fail(pass, ": ", name, " is null (extents ", format_extents(extents), ")");
  std::int64_t reach = 0;
  for (std::size_t r = 0; r < R; ++r) {
    if (v.stride(r) < 0)
      fail(pass, ": ", name, " has strides ", format_extents(v.strides()), "; strides must be >= 0");
    if (output && extents[r] > 1 && v.stride(r) == 0)
      fail(pass, ": output ", name, " has stride 0 in dim ", r, " (strides ", format_extents(v.strides()),
           ", extents ", format_extents(extents), "); every output element needs its own memory");
    reach = checked_add(reach, checked_multiply(extents[r] - 1, v.stride(r), name), name);
  }
  if (output && !v.unique())
    fail(pass, ": output ", name, " has a mapping that is not unique (extents ", format_extents(extents),
         "); every output element needs its own memory");
  return count;
}

template <int N>
std::array<std::int64_t, N + 2> expected_weight_extents(const geometry<N>& g) {
  std::array<std::int64_t, N + 2> extents{g.out_channels, g.in_channels / g.groups};
  for (int d = 0; d < N; ++d) extents[d + 2] = g.kernel[d];
  return extents;
}

template <int N>
std::array<std::int64_t, N + 2> checked_output_extents(const geometry<N>& g, const std::array<std::int64_t, N + 2>& input,
                                                       const char* pass, const char* name) {
  if (input[1] != g.in_channels)
    fail(pass, ": ", name, " has ", input[1], " channels (extents ", format_extents(input),
         ") but geometry.in_channels = ", g.in_channels);
  std::array<std::int64_t, N + 2> output{input[0], g.out_channels};
  const auto high = g.padding.high();
  for (int d = 0; d < N; ++d) {
    output[d + 2] = output_extent(input[d + 2], g.kernel[d], g.padding[d], high[d], g.stride[d], g.dilation[d]);
    if (output[d + 2] < 1)
      fail(pass, ": output extent of spatial dim ", d, " is ", output[d + 2], " < 1 (", name, " extent ", input[d + 2],
           ", kernel ", g.kernel[d], ", padding ", g.padding[d], " low ", high[d], " high, stride ", g.stride[d],
           ", dilation ", g.dilation[d], ")");
  }
  return output;
}

template <class A, std::size_t R>
void check_extents(const char* pass, const char* name, const std::array<A, R>& actual,
                   const std::array<std::int64_t, R>& expected, const char* why) {
  for (std::size_t r = 0; r < R; ++r)
    if (actual[r] != expected[r])
      fail(pass, ": ", name, " has extents ", format_extents(actual), " but ", why, " ", format_extents(expected));
}

// A tensor of any rank and type, by name, for the overlap checks.
struct named_region {
  const char* name;
  const void* data;
  std::int64_t rank;
  std::int64_t element_bytes;
  std::array<std::int64_t, 5> extents;
  std::array<std::int64_t, 5> strides;

  template <class T, std::size_t R>
  static named_region of(const char* name, const tensor_ref<T, R>& v) {
    named_region region{name, v.data(), static_cast<std::int64_t>(R), static_cast<std::int64_t>(sizeof(T)), {}, {}};
    for (std::size_t r = 0; r < R; ++r) region.extents[r] = v.extent(r), region.strides[r] = v.stride(r);
    return region;
  }

};

// May a and b share a byte? Exact for tensors of one rank, element size and strides; otherwise by address range.
inline bool regions_may_overlap(const named_region& a, const named_region& b) {
  if (a.data == nullptr || b.data == nullptr) return false;
  const auto range = [](const named_region& r) {
    std::int64_t last = 0;
    for (std::int64_t d = 0; d < r.rank; ++d) last += (r.extents[d] - 1) * r.strides[d];
    return (last + 1) * r.element_bytes;
  };
  if (!overlaps(static_cast<const unsigned char*>(a.data), range(a), static_cast<const unsigned char*>(b.data),
                range(b)))
    return false;
  if (a.rank != b.rank || a.element_bytes != b.element_bytes || a.strides != b.strides) return true;
  // Equal strides and element sizes: element i of a and element j of b start at the same byte exactly when
  // their offsets (in elements) differ by b's start minus a's.
  const auto same_rank = [&]<std::size_t R>() {
    const auto delta = reinterpret_cast<std::intptr_t>(b.data) - reinterpret_cast<std::intptr_t>(a.data);
    if (delta % a.element_bytes != 0) return true;
    std::array<std::int64_t, R> strides{}, a_extents{}, b_extents{};
    for (std::size_t r = 0; r < R; ++r) strides[r] = a.strides[r], a_extents[r] = a.extents[r], b_extents[r] = b.extents[r];
    return strided_offsets_meet<R>(static_cast<std::int64_t>(delta / a.element_bytes), strides, a_extents, b_extents);
  };
  switch (a.rank) {
    case 1: return same_rank.template operator()<1>();
    case 3: return same_rank.template operator()<3>();
    case 4: return same_rank.template operator()<4>();
    case 5: return same_rank.template operator()<5>();
    default: return true;
  }
}

// Every output against every input and every other output.
inline void check_no_overlap(const char* pass, std::initializer_list<named_region> outputs,
                             std::initializer_list<named_region> inputs) {
  for (auto o = outputs.begin(); o != outputs.end(); ++o) {
    for (const named_region& i : inputs)
      if (regions_may_overlap(*o, i)) fail(pass, ": ", o->name, " overlaps ", i.name, "; outputs must not alias inputs");
    for (auto other = o + 1; other != outputs.end(); ++other)
      if (regions_may_overlap(*o, *other)) fail(pass, ": ", o->name, " overlaps ", other->name, "; outputs must not alias each other");
  }
}

}  // namespace fftconv::detail
