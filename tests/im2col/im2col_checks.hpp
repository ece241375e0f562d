#pragma once
// Executor-generic checks of the im2col policy's chunking, run on the host and (with a GPU) on the device:
// a layer run under a workspace limit that forces several chunks must agree with the same layer run in one
// chunk and with the float64 reference, and must not hold more workspace than the limit.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"
#include "../support/tolerance.hpp"

namespace im2col_checks {

using testing_support::extents;
using testing_support::geometry_of;
using testing_support::relative_l2;
using testing_support::tolerance;

// A layer with every geometry feature at once: groups, padding, stride and dilation differing per dim, bias.
inline reference::layer strided_grouped_layer(int rank, std::int64_t batch) {
  return testing_support::make_layer(rank, batch,
                                     {.in_channels = 4, .out_channels = 6, .groups = 2,
                                      .input = {rank == 1 ? 37 : 13, 11, 6}, .kernel = {3, 2, 3},
                                      .padding = {1, 2, 0}, .stride = {2, 1, 1}, .dilation = {1, 2, 2}});
}

// The same layer padded differently per side (low 1, 2, 0; high 0, 3, 2): the high side changes only the
// output extents, so the gathers' edges and the chunk layout see other widths than the low side implies.
inline reference::layer asymmetric_strided_grouped_layer(int rank, std::int64_t batch) {
  reference::layer L = strided_grouped_layer(rank, batch);
  const std::int64_t high[3] = {0, 3, 2};
  L.padding_high.assign(high, high + rank);
  return L;
}

// 1x1 kernel, stride 1, no padding: the policy's no-gather path.
inline reference::layer pointwise_layer(int rank, std::int64_t batch) {
  return testing_support::make_layer(rank, batch,
                                     {.in_channels = 6, .out_channels = 9, .groups = 3,
                                      .input = {rank == 1 ? 29 : 5, 6, 7}, .kernel = {1, 1, 1},
                                      .padding = {0, 0, 0}, .stride = {1, 1, 1}, .dilation = {1, 1, 1}});
}

template <int N>
fftconv::detail::problem<N> problem_of(const reference::layer& L) {
  std::array<std::int64_t, N> spatial{};
  for (int d = 0; d < N; ++d) spatial[d] = L.input[d];
  return fftconv::detail::make_problem<N>(geometry_of<N>(L), L.batch, spatial);
}

// The three passes' outputs of one layer object.
struct outputs {
  std::vector<double> y, dx, dw, db;
};

template <int N, class T, class Exec>
outputs run_passes(fftconv::conv<N, T, fftconv::im2col>& layer, const reference::layer& L, Exec exec,
                   const std::vector<double>& x_values, const std::vector<double>& w_values,
                   const std::vector<double>& bias_values, const std::vector<double>& dy_values) {
  using testing_support::test_buffer;
  const auto x_extents = extents<N>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<N>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
  test_buffer<T, Exec> x(exec, x_values), w(exec, w_values), bias(exec, bias_values), dy(exec, dy_values);
  test_buffer<T, Exec> y(exec, L.y_size()), dx(exec, L.x_size()), dw(exec, L.w_size()), db(exec, L.out_channels);
  layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents),
                fftconv::make_view<const T, N + 2>(w.data(), w_extents), bias.data(),
                fftconv::make_view<T, N + 2>(y.data(), y_extents));
  layer.backward_data(exec, fftconv::make_view<const T, N + 2>(dy.data(), y_extents),
                      fftconv::make_view<const T, N + 2>(w.data(), w_extents),
                      fftconv::make_view<T, N + 2>(dx.data(), x_extents));
  layer.backward_filter(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents),
                        fftconv::make_view<const T, N + 2>(dy.data(), y_extents),
                        fftconv::make_view<T, N + 2>(dw.data(), w_extents), db.data());
  return {y.read(), dx.read(), dw.read(), db.read()};
}

// Bytes of one image's columns for L in type T (the forward pass's workspace per image).
template <class T>
std::size_t column_bytes_per_image(const reference::layer& L) {
  return static_cast<std::size_t>(L.in_channels * reference::layer::volume(L.kernel) *
                                  reference::layer::volume(L.output())) *
         sizeof(T);
}

// Runs L under `limit` bytes of workspace and under the default limit; both must match the reference and
// each other, and the limited run must have split every pass into at least `min_chunks` chunks.
template <int N, class T, class Exec>
void check_chunked_layer(const reference::layer& L, std::size_t limit, std::int64_t min_chunks, Exec exec) {
  INFO(testing_support::describe(L), " workspace limit ", limit, " bytes");
  const auto x_values = testing_support::random_values(L.x_size(), 11);
  const auto w_values = testing_support::random_values(L.w_size(), 12);
  const auto bias_values = testing_support::random_values(L.out_channels, 13);
  const auto dy_values = testing_support::random_values(L.y_size(), 14);

  fftconv::conv<N, T, fftconv::im2col> chunked(geometry_of<N>(L));
  chunked.set_workspace_limit(limit);
  for (fftconv::pass which : {fftconv::pass::forward, fftconv::pass::backward_data, fftconv::pass::backward_filter}) {
    const auto layout = chunked.implementation().layout(problem_of<N>(L), which);
    CHECK(layout.chunks >= min_chunks);
    CHECK(layout.chunks * layout.images_per_chunk >= L.batch);
    CHECK((layout.chunks - 1) * layout.images_per_chunk < L.batch);  // no empty chunk
  }
  const outputs split = run_passes<N, T>(chunked, L, exec, x_values, w_values, bias_values, dy_values);
  // One image is always processed whole, so a limit below one image's columns holds exactly one image's.
  CHECK(chunked.workspace_bytes() > 0);
  CHECK(chunked.workspace_bytes() <= std::max(limit, column_bytes_per_image<T>(L)));

  fftconv::conv<N, T, fftconv::im2col> whole(geometry_of<N>(L));
  for (fftconv::pass which : {fftconv::pass::forward, fftconv::pass::backward_data, fftconv::pass::backward_filter})
    CHECK(whole.implementation().layout(problem_of<N>(L), which).chunks == 1);
  const outputs one = run_passes<N, T>(whole, L, exec, x_values, w_values, bias_values, dy_values);

  CHECK(relative_l2(split.y, reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  CHECK(relative_l2(split.dx, reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  CHECK(relative_l2(split.dw, reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
  CHECK(relative_l2(split.db, reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
  // Chunking changes only which images share a GEMM call: the per-image products are the same.
  CHECK(relative_l2(split.y, one.y) <= tolerance<T>::forward);
  CHECK(relative_l2(split.dx, one.dx) <= tolerance<T>::data);
  CHECK(relative_l2(split.dw, one.dw) <= tolerance<T>::filter);
}

template <int N, class T, class Exec>
void check_chunking(Exec exec) {
  const reference::layer L = strided_grouped_layer(N, 7);
  // Room for the columns (and dW partials) of two images: 7 images run as 4 chunks of 2 (the last one 1).
  const std::size_t two_images = 2 * (column_bytes_per_image<T>(L) + static_cast<std::size_t>(L.w_size()) * sizeof(T));
  check_chunked_layer<N, T>(L, two_images, 4, exec);
  // Less than one image: one image per chunk, 7 chunks; the single-image filter GEMM accumulates into dW.
  check_chunked_layer<N, T>(L, 16, 7, exec);
  const reference::layer A = asymmetric_strided_grouped_layer(N, 7);
  check_chunked_layer<N, T>(A, 16, 7, exec);
  check_chunked_layer<N, T>(A, 1 << 30, 1, exec);
}

// A 1x1 kernel at stride 1 with zeros after the input only: the output is longer than x, so the no-gather
// path must not be taken.
template <int N, class T, class Exec>
void check_pointwise_padded_after(Exec exec) {
  reference::layer L = pointwise_layer(N, 3);
  L.padding_high.assign(N, 0);
  L.padding_high[N - 1] = 2;
  INFO(testing_support::describe(L));
  const auto x_values = testing_support::random_values(L.x_size(), 25);
  const auto w_values = testing_support::random_values(L.w_size(), 26);
  const auto bias_values = testing_support::random_values(L.out_channels, 27);
  const auto dy_values = testing_support::random_values(L.y_size(), 28);
  fftconv::conv<N, T, fftconv::im2col> layer(geometry_of<N>(L));
  CHECK_FALSE(layer.implementation().layout(problem_of<N>(L), fftconv::pass::forward).direct);
  const outputs out = run_passes<N, T>(layer, L, exec, x_values, w_values, bias_values, dy_values);
  CHECK(relative_l2(out.y, reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  CHECK(relative_l2(out.dx, reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  CHECK(relative_l2(out.dw, reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
  CHECK(relative_l2(out.db, reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
}

template <int N, class T, class Exec>
void check_pointwise(Exec exec) {
  check_pointwise_padded_after<N, T>(exec);
  const reference::layer L = pointwise_layer(N, 4);
  INFO(testing_support::describe(L));
  const auto x_values = testing_support::random_values(L.x_size(), 21);
  const auto w_values = testing_support::random_values(L.w_size(), 22);
  const auto bias_values = testing_support::random_values(L.out_channels, 23);
  const auto dy_values = testing_support::random_values(L.y_size(), 24);
  fftconv::conv<N, T, fftconv::im2col> layer(geometry_of<N>(L));
  const auto forward_layout = layer.implementation().layout(problem_of<N>(L), fftconv::pass::forward);
  CHECK(forward_layout.direct);
  CHECK(forward_layout.workspace_elements(fftconv::pass::forward, L.batch) == 0);
  CHECK(forward_layout.workspace_elements(fftconv::pass::backward_data, L.batch) == 0);
  const outputs out = run_passes<N, T>(layer, L, exec, x_values, w_values, bias_values, dy_values);
  // Only dW's per-image partials remain (4 images x weights).
  CHECK(layer.workspace_bytes() == static_cast<std::size_t>(L.batch * L.w_size()) * sizeof(T));
  CHECK(relative_l2(out.y, reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  CHECK(relative_l2(out.dx, reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  CHECK(relative_l2(out.dw, reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
  CHECK(relative_l2(out.db, reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
}

// backward_filter twice on the same data gives the same bits (fixed-order sums, no atomics), and overwrites.
template <int N, class T, class Exec>
void check_repeatable(Exec exec) {
  const reference::layer L = strided_grouped_layer(N, 5);
  const auto x_values = testing_support::random_values(L.x_size(), 31);
  const auto w_values = testing_support::random_values(L.w_size(), 32);
  const auto bias_values = testing_support::random_values(L.out_channels, 33);
  const auto dy_values = testing_support::random_values(L.y_size(), 34);
  fftconv::conv<N, T, fftconv::im2col> layer(geometry_of<N>(L));
  layer.set_workspace_limit(3 * column_bytes_per_image<T>(L));
  const outputs first = run_passes<N, T>(layer, L, exec, x_values, w_values, bias_values, dy_values);
  const outputs second = run_passes<N, T>(layer, L, exec, x_values, w_values, bias_values, dy_values);
  CHECK(first.y == second.y);
  CHECK(first.dx == second.dx);
  CHECK(first.dw == second.dw);
  CHECK(first.db == second.db);
}

}  // namespace im2col_checks
