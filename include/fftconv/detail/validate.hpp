#pragma once
// Argument checks for the three passes, run before anything is written. Each failure names the argument,
// its extents and what the geometry expects.

#include <array>
#include <cstdint>

#include "../error.hpp"
#include "../geometry.hpp"
#include "../view.hpp"

namespace fftconv::detail {

template <class View>
std::int64_t check_view(const View& v, const char* pass, const char* name) {
  const auto extents = extents_of(v);
  for (std::size_t r = 0; r < extents.size(); ++r)
    if (extents[r] < 1)
      fail(pass, ": ", name, " has extents ", format_extents(extents), "; every extent must be >= 1");
  const std::int64_t count = checked_product(extents, name);
  if (v.data_handle() == nullptr) fail(pass, ": ", name, " is null (extents ", format_extents(extents), ")");
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

template <class A, class B>
void check_no_overlap(const char* pass, const char* output_name, const A* output, std::int64_t output_count,
                      const char* input_name, const B* input, std::int64_t input_count) {
  if (overlaps(output, output_count, input, input_count))
    fail(pass, ": ", output_name, " overlaps ", input_name, "; outputs must not alias inputs");
}

template <int N, class T>
void check_forward(const geometry<N>& g, const view<const T, N + 2>& x, const view<const T, N + 2>& w,
                   const T* bias, const view<T, N + 2>& y) {
  constexpr const char* pass = "forward";
  const std::int64_t x_count = check_view(x, pass, "x");
  const std::int64_t w_count = check_view(w, pass, "w");
  const std::int64_t y_count = check_view(y, pass, "y");
  check_extents(pass, "w", extents_of(w), expected_weight_extents(g), "the geometry expects");
  const auto output = checked_output_extents(g, extents_of(x), pass, "x");
  check_extents(pass, "y", extents_of(y), output, "the output of x is");
  check_no_overlap(pass, "y", y.data_handle(), y_count, "x", x.data_handle(), x_count);
  check_no_overlap(pass, "y", y.data_handle(), y_count, "w", w.data_handle(), w_count);
  check_no_overlap(pass, "y", y.data_handle(), y_count, "bias", bias, g.out_channels);
}

template <int N, class T>
void check_backward_data(const geometry<N>& g, const view<const T, N + 2>& dy, const view<const T, N + 2>& w,
                         const view<T, N + 2>& dx) {
  constexpr const char* pass = "backward_data";
  const std::int64_t dy_count = check_view(dy, pass, "dy");
  const std::int64_t w_count = check_view(w, pass, "w");
  const std::int64_t dx_count = check_view(dx, pass, "dx");
  check_extents(pass, "w", extents_of(w), expected_weight_extents(g), "the geometry expects");
  const auto output = checked_output_extents(g, extents_of(dx), pass, "dx");
  check_extents(pass, "dy", extents_of(dy), output, "the output of dx is");
  check_no_overlap(pass, "dx", dx.data_handle(), dx_count, "dy", dy.data_handle(), dy_count);
  check_no_overlap(pass, "dx", dx.data_handle(), dx_count, "w", w.data_handle(), w_count);
}

template <int N, class T>
void check_backward_filter(const geometry<N>& g, const view<const T, N + 2>& x, const view<const T, N + 2>& dy,
                           const view<T, N + 2>& dw, const T* dbias) {
  constexpr const char* pass = "backward_filter";
  const std::int64_t x_count = check_view(x, pass, "x");
  const std::int64_t dy_count = check_view(dy, pass, "dy");
  const std::int64_t dw_count = check_view(dw, pass, "dw");
  check_extents(pass, "dw", extents_of(dw), expected_weight_extents(g), "the geometry expects");
  const auto output = checked_output_extents(g, extents_of(x), pass, "x");
  check_extents(pass, "dy", extents_of(dy), output, "the output of x is");
  check_no_overlap(pass, "dw", dw.data_handle(), dw_count, "x", x.data_handle(), x_count);
  check_no_overlap(pass, "dw", dw.data_handle(), dw_count, "dy", dy.data_handle(), dy_count);
  check_no_overlap(pass, "dw", dw.data_handle(), dw_count, "dbias", dbias, g.out_channels);
  check_no_overlap(pass, "dbias", dbias, g.out_channels, "x", x.data_handle(), x_count);
  check_no_overlap(pass, "dbias", dbias, g.out_channels, "dy", dy.data_handle(), dy_count);
}

}  // namespace fftconv::detail
