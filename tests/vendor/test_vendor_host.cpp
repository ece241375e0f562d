// fftconv::vendor on the host (oneDNN), beyond the shared property suite (vendor.host) and the 16-bit suite
// (precision16.vendor.host): layers shaped so that oneDNN picks its blocked layouts (the reorders inside the call),
// channels-last views with alpha and beta, bad input refused before oneDNN is called, oneDNN's own errors as
// library_error, the workspace limit and workspace_bytes, saved states (its own and automatic's), primitives
// cached per shape, and layers on several threads at once.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/dnnl/dnnl_debug.h>

#include "../precision16/precision16_checks.hpp"
#include "../support/expect_error.hpp"

namespace {

using fftconv::host;
using fftconv::keep;
using fftconv::pass;
using testing_support::check_throws_naming;
using testing_support::extents;
using testing_support::geometry_of;
using testing_support::make_layer;
using testing_support::random_values;
using testing_support::relative_l2;
using testing_support::sentinel;
using testing_support::state_buffer;
using testing_support::test_buffer;
using testing_support::tolerance;

template <int N>
using vendor_layer = fftconv::conv<N, float, fftconv::vendor>;

// Layers as networks have them, large enough for oneDNN to choose blocked layouts and JIT kernels (the random
// layers of the property suite are mostly too small for that).
inline reference::layer conv3x3_layer() {  // 3x3, 32 -> 32 channels at 16x16, batch 2
  return make_layer(2, 2, {.in_channels = 32, .out_channels = 32, .input = {16, 16}, .kernel = {3, 3},
                           .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
}
inline reference::layer depthwise_layer() {  // 3x3, 16 groups of one channel, 12x12
  return make_layer(2, 2, {.in_channels = 16, .out_channels = 16, .groups = 16, .input = {12, 12}, .kernel = {3, 3},
                           .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
}
inline reference::layer strided_asymmetric_layer() {  // 3x3 stride 2, padding 0 before and 1 after, 8 -> 16
  reference::layer L = make_layer(2, 3, {.in_channels = 8, .out_channels = 16, .input = {15, 15}, .kernel = {3, 3},
                                         .padding = {0, 0}, .stride = {2, 2}, .dilation = {1, 1}});
  L.padding_high = {1, 1};
  return L;
}
inline reference::layer dilated_3d_layer() {  // 3x3x3 dilation 2, 4 -> 8, 9^3
  return make_layer(3, 1, {.in_channels = 4, .out_channels = 8, .input = {9, 9, 9}, .kernel = {3, 3, 3},
                           .padding = {2, 2, 2}, .stride = {1, 1, 1}, .dilation = {2, 2, 2}});
}
inline reference::layer strided_dilated_1d_layer() {  // k 7 stride 3 dilation 2, 16 -> 24, 100 long
  return make_layer(1, 2, {.in_channels = 16, .out_channels = 24, .input = {100}, .kernel = {7}, .padding = {3},
                           .stride = {3}, .dilation = {2}});
}
inline reference::layer pointwise_layer() {  // 1x1, 64 -> 32 at 10x10, batch 3
  return make_layer(2, 3, {.in_channels = 64, .out_channels = 32, .input = {10, 10}, .kernel = {1, 1},
                           .stride = {1, 1}, .dilation = {1, 1}});
}

template <int N>
fftconv::detail::problem<N> problem_of(const reference::layer& L) {
  std::array<std::int64_t, N> spatial{};
  for (int d = 0; d < N; ++d) spatial[d] = L.input[d];
  return fftconv::detail::make_problem<N>(geometry_of<N>(L), L.batch, spatial);
}

// What oneDNN runs for each pass of p (its implementation and layouts); empty where it has not been prepared.
template <int N>
std::string implementations(const vendor_layer<N>& layer, const fftconv::detail::problem<N>& p) {
  std::string text;
  for (pass which : {pass::forward, pass::backward_data, pass::backward_filter})
    text += std::string(fftconv::to_string(which)) + ": " + layer.implementation().implementation(p, which) + "; ";
  return text;
}

// Every element still the sentinel the buffer started with.
inline bool untouched(const std::vector<double>& values) {
  for (double v : values)
    if (v != sentinel) return false;
  return true;
}

// A 2D vendor layer and its tensors for the refusal and limit tests: 3x3, 32 -> 32, batch 2 at 16x16.
struct fixture {
  static constexpr std::size_t R = 4;
  reference::layer L = conv3x3_layer();
  std::array<std::int64_t, R> xe = extents<2>(L.batch, L.in_channels, L.input);
  std::array<std::int64_t, R> ye = extents<2>(L.batch, L.out_channels, L.output());
  std::array<std::int64_t, R> we = extents<2>(L.out_channels, L.in_channels, L.kernel);
  std::vector<double> x_values = random_values(L.x_size(), 1), w_values = random_values(L.w_size(), 2),
                      bias_values = random_values(L.out_channels, 3), dy_values = random_values(L.y_size(), 4);
  test_buffer<float, host> x{host{}, x_values}, w{host{}, w_values}, bias{host{}, bias_values}, dy{host{}, dy_values};
  test_buffer<float, host> y{host{}, L.y_size()}, dx{host{}, L.x_size()}, dw{host{}, L.w_size()},
      db{host{}, L.out_channels};
  vendor_layer<2> layer{geometry_of<2>(L)};

  fftconv::tensor_ref<const float, R> xv() { return {x.data(), xe}; }
  fftconv::tensor_ref<const float, R> wv() { return {w.data(), we}; }
  fftconv::tensor_ref<const float, R> dyv() { return {dy.data(), ye}; }
  fftconv::tensor_ref<float, R> yv() { return {y.data(), ye}; }
  fftconv::tensor_ref<float, R> dxv() { return {dx.data(), xe}; }
  fftconv::tensor_ref<float, R> dwv() { return {dw.data(), we}; }
  fftconv::gradients<float, R> all_gradients() { return {dxv(), dwv(), db.data()}; }

  bool outputs_untouched() const { return untouched(y.read()) && untouched(dx.read()) && untouched(dw.read()) && untouched(db.read()); }
  // Nothing was handed to oneDNN: no primitive made for the layer's shape, no workspace taken.
  bool vendor_not_called() const {
    const auto p = problem_of<2>(L);
    for (pass which : {pass::forward, pass::backward_data, pass::backward_filter})
      if (!layer.implementation().implementation(p, which).empty()) return false;
    return layer.workspace_bytes() == 0;
  }
  void check_results() {
    CHECK(relative_l2(y.read(), reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<float>::forward);
    CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<float>::data);
    CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<float>::filter);
    CHECK(relative_l2(db.read(), reference::backward_bias(L, dy_values)) <= tolerance<float>::filter);
  }
};

}  // namespace

// ---- results against the float64 reference ---------------------------------------------------------------------

TEST_CASE("vendor host: layers shaped for oneDNN's own layouts match the float64 reference in every pass") {
  // Each pass alone, without bias and dbias, forward with a saved state then the combined backward, and the
  // combined backward without a state (precision16::check_layer, here in float).
  const host exec;
  {
    const reference::layer L = conv3x3_layer();
    precision16::check_layer<2, float, float, fftconv::vendor>(L, 1, exec, true, true);
    // oneDNN ran every pass of this layer (a primitive per pass, with the layouts it chose).
    vendor_layer<2> layer(geometry_of<2>(L));
    precision16::layer_inputs<2, float, float, host> in(exec, L, 1);
    precision16::layer_outputs<2, float, float, host> out(in);
    layer.forward(exec, in.xv(), in.wv(), in.bias_buffer.data(), out.yv());
    layer.backward(exec, in.xv(), in.wv(), in.dyv(), {}, out.all_gradients());
    const auto p = problem_of<2>(L);
    MESSAGE("oneDNN ", fftconv::detail::onednn_version_string(), " on ", testing_support::describe(L), ": ",
            implementations(layer, p));
    for (pass which : {pass::forward, pass::backward_data, pass::backward_filter})
      CHECK_FALSE(layer.implementation().implementation(p, which).empty());
  }
  precision16::check_layer<2, float, float, fftconv::vendor>(depthwise_layer(), 2, exec, true, true);
  precision16::check_layer<2, float, float, fftconv::vendor>(strided_asymmetric_layer(), 3, exec, true, true);
  precision16::check_layer<2, float, float, fftconv::vendor>(pointwise_layer(), 4, exec, true, true);
  precision16::check_layer<3, float, float, fftconv::vendor>(dilated_3d_layer(), 5, exec, true, true);
  precision16::check_layer<1, float, float, fftconv::vendor>(strided_dilated_1d_layer(), 6, exec, true, true);
}

TEST_CASE("vendor host: channels-last views, alpha and beta, in every pass and rank") {
  // Strided tensors are gathered into row-major copies for oneDNN, scaled results blended after it: the holes
  // between the elements are never written.
  const host exec;
  for (std::uint64_t seed : {2, 7, 11}) {
    precision16::check_strided_scaled<1, float, float, fftconv::vendor>(testing_support::random_layer(1, seed), seed, exec);
    precision16::check_strided_scaled<2, float, float, fftconv::vendor>(testing_support::random_layer(2, seed), seed, exec);
    precision16::check_strided_scaled<3, float, float, fftconv::vendor>(testing_support::random_layer(3, seed), seed, exec);
  }
  precision16::check_strided_scaled<2, float, float, fftconv::vendor>(conv3x3_layer(), 12, exec);
  precision16::check_strided_scaled<2, float, float, fftconv::vendor>(depthwise_layer(), 13, exec);
}

TEST_CASE("vendor host: bf16 and fp16 layers shaped for oneDNN, with 16-bit and float weights") {
  // Through fp32 copies, rounded once on store (the random layers are precision16.vendor.host's).
  const host exec;
  const reference::layer L = conv3x3_layer();
  precision16::check_layer<2, fftconv::bf16, fftconv::bf16, fftconv::vendor>(L, 21, exec, true, true);
  precision16::check_layer<2, fftconv::bf16, float, fftconv::vendor>(L, 22, exec, false, true);
  precision16::check_layer<2, fftconv::fp16, fftconv::fp16, fftconv::vendor>(L, 23, exec, false, true);
  precision16::check_layer<2, fftconv::fp16, float, fftconv::vendor>(L, 24, exec, true, false);
  precision16::check_strided_scaled<3, fftconv::bf16, float, fftconv::vendor>(dilated_3d_layer(), 25, exec);
}

// ---- refusals before the library is called -----------------------------------------------------------------------

TEST_CASE("vendor host: bad input is refused before oneDNN is called, and nothing is written") {
  fixture f;
  const host h;
  using view4 = fftconv::tensor_ref<float, 4>;
  using const_view4 = fftconv::tensor_ref<const float, 4>;
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), view4(f.y.data(), {2, 32, 16, 15})); },
      {"forward", "y has extents [2, 32, 16, 15]", "[2, 32, 16, 16]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.forward(h, const_view4(f.x.data(), {2, 31, 16, 16}), f.wv(), nullptr, f.yv()); },
      {"forward", "x has 31 channels"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.forward(h, const_view4(f.y.data(), f.xe), f.wv(), nullptr, f.yv()); }, {"y overlaps x"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, f.dyv(), const_view4(f.w.data(), {32, 32, 3, 2}), f.dxv()); },
      {"backward_data", "w has extents [32, 32, 3, 2]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, const_view4(f.dx.data(), f.ye), f.wv(), f.dxv()); }, {"dx overlaps dy"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_filter(h, f.xv(), f.dyv(), f.dwv(), f.dw.data() + 1); }, {"dw overlaps dbias"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward(h, f.xv(), f.wv(), f.dyv(), {}, {view4(f.dx.data(), {2, 32, 16, 17}), f.dwv(), nullptr}); },
      {"backward", "dx has extents [2, 32, 16, 17]"});

  // Saved states: misaligned, of a size no keep gives, null.
  const std::size_t header = f.layer.saved_bytes(f.xe, keep::spectra);
  CHECK(header == fftconv::detail::saved_header_bytes);
  CHECK(f.layer.saved_bytes(f.xe, keep::none) == header);
  state_buffer<host> saved(h, header + 128);
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), saved.all().subspan(8, header)); },
      {"forward", "saved must be aligned to 64 bytes"});
  const std::string wrong_size = "saved has " + std::to_string(header + 64) + " bytes";
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), saved.all().first(header + 64)); },
      {"forward", wrong_size.c_str(), "saved_bytes(x, keep::none)"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward(h, f.xv(), f.wv(), f.dyv(), saved.all().subspan(8, header), f.all_gradients()); },
      {"backward", "saved must be aligned to 64 bytes"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward(h, f.xv(), f.wv(), f.dyv(), fftconv::const_saved_state(static_cast<const std::byte*>(nullptr), header), f.all_gradients()); },
      {"backward", "null data pointer"});
  // A zeroed state (no header) and one of another layer's shape are refused too.
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward(h, f.xv(), f.wv(), f.dyv(), saved.all().first(header), f.all_gradients()); },
      {"backward", "does not belong to this layer", "no fftconv saved state"});
  CHECK(f.outputs_untouched());
  CHECK(f.vendor_not_called());
}

TEST_CASE("vendor host: a saved state of another policy or shape is refused, naming both sides") {
  fixture f;
  const host h;
  const std::size_t header = f.layer.saved_bytes(f.xe);
  // im2col writes a header-only state for the same layer: vendor's backward refuses it, and the other way round.
  state_buffer<host> by_im2col(h, header);
  fftconv::conv<2, float, fftconv::im2col> other(geometry_of<2>(f.L));
  test_buffer<float, host> other_y(h, f.L.y_size());
  other.forward(h, f.xv(), f.wv(), f.bias.data(), fftconv::tensor_ref<float, 4>(other_y.data(), f.ye), by_im2col.all());
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward(h, f.xv(), f.wv(), f.dyv(), by_im2col.all(), f.all_gradients()); },
      {"backward", "it holds im2col 2D float", "this call expects vendor 2D float"});
  CHECK(f.outputs_untouched());
  CHECK(f.vendor_not_called());

  state_buffer<host> by_vendor(h, header);
  f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), by_vendor.all());
  test_buffer<float, host> other_dx(h, f.L.x_size());
  check_throws_naming<fftconv::invalid_argument>(
      [&] {
        other.backward(h, f.xv(), f.wv(), f.dyv(), by_vendor.all(),
                       {fftconv::tensor_ref<float, 4>(other_dx.data(), f.xe), {}, nullptr});
      },
      {"backward", "it holds vendor 2D float", "this call expects im2col 2D float"});
  CHECK(untouched(other_dx.read()));
  // The same layer with another batch: the state is of another x.
  vendor_layer<2> same(geometry_of<2>(f.L));
  test_buffer<float, host> dx1(h, f.L.x_size() / 2);
  const std::array<std::int64_t, 4> x1{1, 32, 16, 16}, y1{1, 32, 16, 16};
  check_throws_naming<fftconv::invalid_argument>(
      [&] {
        same.backward(h, fftconv::tensor_ref<const float, 4>(f.x.data(), x1), f.wv(),
                      fftconv::tensor_ref<const float, 4>(f.dy.data(), y1), by_vendor.all().first(header),
                      {fftconv::tensor_ref<float, 4>(dx1.data(), x1), {}, nullptr});
      },
      {"backward", "does not belong to this layer", "x [2, 32, 16, 16]", "x [1, 32, 16, 16]"});
  CHECK(untouched(dx1.read()));
}

// ---- the library's own errors ------------------------------------------------------------------------------------

TEST_CASE("vendor host: a oneDNN error surfaces as library_error naming oneDNN, the call and the status") {
  // A shape the policy never makes (validation refuses it first): an output extent that does not follow from
  // the input, kernel and padding. oneDNN's descriptor refuses it.
  fftconv::detail::vendor_shape shape;
  shape.dims = 2;
  shape.batch = 1, shape.in_channels = 4, shape.out_channels = 8;
  shape.input = {10, 10, 1}, shape.kernel = {3, 3, 1}, shape.output = {8, 13, 1};  // 13: should be 8
  fftconv::detail::onednn_convolution convolution(shape, fftconv::detail::onednn_types{});
  for (pass which : {pass::forward, pass::backward_data, pass::backward_filter}) {
    INFO(fftconv::to_string(which));
    try {
      (void)convolution.workspace_bytes(which);
      FAIL_CHECK("oneDNN accepted an inconsistent output extent");
    } catch (const fftconv::library_error& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(e.library() == "oneDNN");
      CHECK(e.status() == dnnl_invalid_arguments);
      CHECK(message.find("oneDNN") != std::string::npos);
      CHECK(message.find(dnnl_status2str(dnnl_invalid_arguments)) != std::string::npos);
      CHECK(message.find("invalid_arguments") != std::string::npos);
      CHECK(message.find("dnnl_dilated_convolution_forward_desc_init") != std::string::npos);  // made first
    }
  }
  // Element types oneDNN has no CPU convolution for are refused before any oneDNN call.
  check_throws_naming<fftconv::invalid_argument>(
      [&] { fftconv::detail::onednn_convolution c(shape, fftconv::detail::onednn_types::all(fftconv::detail::vendor_element::f64)); },
      {"oneDNN runs f32 or bf16"});
  // The consistent shape runs.
  shape.output = {8, 8, 1};
  fftconv::detail::onednn_convolution good(shape, fftconv::detail::onednn_types{});
  CHECK_NOTHROW((void)good.workspace_bytes(pass::backward_filter));
  CHECK_FALSE(good.implementation(pass::forward).empty());
}

// ---- workspace ----------------------------------------------------------------------------------------------------

TEST_CASE("vendor host: workspace_bytes(x, passes) is what a step holds, and a limit below it is refused") {
  const host h;
  fixture f;
  const std::size_t predicted = f.layer.workspace_bytes(f.xe);
  const std::size_t predicted_inference = f.layer.workspace_bytes(f.xe, fftconv::passes::inference());
  const std::size_t predicted_data = f.layer.workspace_bytes(f.xe, fftconv::passes::only(pass::backward_data));
  INFO("predicted ", predicted, " (inference ", predicted_inference, ", backward_data ", predicted_data, "); ",
       implementations(f.layer, problem_of<2>(f.L)));
  CHECK(f.layer.workspace_bytes() == 0);  // predicted without allocating
  REQUIRE(predicted > 0);                 // this layer runs in oneDNN's blocked layouts: reorders
  CHECK(predicted_inference <= predicted);
  CHECK(predicted_data <= predicted);
  state_buffer<host> saved(h, f.layer.saved_bytes(f.xe));
  f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), saved.all());
  CHECK(f.layer.workspace_bytes() == predicted_inference);
  f.layer.backward(h, f.xv(), f.wv(), f.dyv(), saved.all(), f.all_gradients());
  CHECK(f.layer.workspace_bytes() == predicted);
  CHECK(f.layer.workspace_bytes(f.xe) == predicted);
  f.check_results();

  // A limit of one byte: every pass refused with what it needs, nothing written.
  {
    fixture g;
    g.layer.set_workspace_limit(1);
    try {
      g.layer.forward(h, g.xv(), g.wv(), g.bias.data(), g.yv());
      FAIL_CHECK("forward ran over the workspace limit");
    } catch (const fftconv::workspace_limit_exceeded& e) {
      CHECK(e.needed_bytes() == predicted_inference);
      CHECK(e.limit_bytes() == 1);
      CHECK(std::string(e.what()).find("vendor (oneDNN forward") != std::string::npos);
    }
    CHECK_THROWS_AS(g.layer.backward_data(h, g.dyv(), g.wv(), g.dxv()), fftconv::workspace_limit_exceeded);
    CHECK_THROWS_AS(g.layer.backward_filter(h, g.xv(), g.dyv(), g.dwv(), g.db.data()), fftconv::workspace_limit_exceeded);
    CHECK_THROWS_AS(g.layer.backward(h, g.xv(), g.wv(), g.dyv(), {}, g.all_gradients()), fftconv::workspace_limit_exceeded);
    CHECK(g.outputs_untouched());
    CHECK(g.layer.workspace_bytes() == 0);
  }
  // Exactly the prediction: the whole step runs, holding no more.
  {
    fixture g;
    g.layer.set_workspace_limit(predicted);
    g.layer.forward(h, g.xv(), g.wv(), g.bias.data(), g.yv());
    g.layer.backward(h, g.xv(), g.wv(), g.dyv(), {}, g.all_gradients());
    CHECK(g.layer.workspace_bytes() == predicted);
    g.check_results();
    // A new limit releases the workspace; one byte under the largest pass refuses that pass only.
    g.layer.set_workspace_limit(predicted - 1);
    CHECK(g.layer.workspace_bytes() == 0);
    bool refused = false;
    for (pass which : {pass::forward, pass::backward_data, pass::backward_filter}) {
      const std::size_t needed = g.layer.workspace_bytes(g.xe, fftconv::passes::only(which));
      test_buffer<float, host> out(h, which == pass::backward_data ? g.L.x_size() : which == pass::forward ? g.L.y_size() : g.L.w_size());
      auto call = [&] {
        if (which == pass::forward)
          g.layer.forward(h, g.xv(), g.wv(), nullptr, fftconv::tensor_ref<float, 4>(out.data(), g.ye));
        else if (which == pass::backward_data)
          g.layer.backward_data(h, g.dyv(), g.wv(), fftconv::tensor_ref<float, 4>(out.data(), g.xe));
        else
          g.layer.backward_filter(h, g.xv(), g.dyv(), fftconv::tensor_ref<float, 4>(out.data(), g.we), nullptr);
      };
      INFO(fftconv::to_string(which), " needs ", needed);
      if (needed == predicted) {
        CHECK_THROWS_AS(call(), fftconv::workspace_limit_exceeded);
        CHECK(untouched(out.read()));
        refused = true;
      } else {
        CHECK_NOTHROW(call());
        CHECK_FALSE(untouched(out.read()));
      }
    }
    CHECK(refused);
  }
}

TEST_CASE_TEMPLATE("vendor host: workspace_bytes(x, passes) of a 16-bit layer is what its step holds", W, fftconv::bf16, float) {
  // bf16 with bf16 weights runs oneDNN's bf16 primitives (their own reorders and scratchpad); bf16 with float
  // weights, fp32 ones on copies. The prediction must be of the primitives the calls run.
  const host h;
  using T = fftconv::bf16;
  const reference::layer L = conv3x3_layer();
  fftconv::conv<2, T, fftconv::vendor, W> layer(geometry_of<2>(L));
  precision16::layer_inputs<2, T, W, host> in(h, L, 70);
  const std::size_t predicted = layer.workspace_bytes(in.xe);
  precision16::layer_outputs<2, T, W, host> out(in);
  layer.forward(h, in.xv(), in.wv(), in.bias_buffer.data(), out.yv());
  layer.backward(h, in.xv(), in.wv(), in.dyv(), {}, out.all_gradients());
  CHECK(predicted > 0);
  CHECK(layer.workspace_bytes() == predicted);
  CHECK(layer.workspace_bytes(in.xe) == predicted);
}

// ---- saved states -----------------------------------------------------------------------------------------------

TEST_CASE("vendor host: forward's saved state is a header naming vendor, read back by backward") {
  const host h;
  for (keep kept : {keep::spectra, keep::none}) {
    fixture f;
    state_buffer<host> saved(h, f.layer.saved_bytes(f.xe, kept));
    f.layer.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), saved.all());
    fftconv::detail::saved_header header{};
    std::memcpy(&header, saved.all().data(), sizeof header);
    CHECK(header.algorithm == static_cast<std::uint32_t>(fftconv::algorithm::vendor));
    CHECK(header.kept == 0);  // keep::none: the vendor keeps nothing of the forward
    CHECK(header.payload_bytes == 0);
    f.layer.backward(h, f.xv(), f.wv(), f.dyv(), saved.all(), f.all_gradients());
    f.check_results();
  }
}

TEST_CASE("vendor host: automatic's state written by its vendor candidate is read by vendor, and vendor's by automatic") {
  const host h;
  fftconv::clear_automatic_choices();
  fixture f;
  // The cost model ranks oneDNN first on this 3x3 layer (no timing: the same on every machine).
  fftconv::conv<2, float, fftconv::automatic> automatic(geometry_of<2>(f.L));
  automatic.set_mode(fftconv::automatic_mode::heuristic);
  const std::size_t bytes = automatic.saved_bytes(f.xe);
  state_buffer<host> by_automatic(h, bytes);
  automatic.forward(h, f.xv(), f.wv(), f.bias.data(), f.yv(), by_automatic.all());
  INFO(automatic.choice().reason);
  REQUIRE(automatic.choice().policy == fftconv::algorithm::vendor);
  // automatic sizes its state for fft's spectra; the vendor layer takes the header alone.
  CHECK(bytes >= f.layer.saved_bytes(f.xe));
  f.layer.backward(h, f.xv(), f.wv(), f.dyv(), by_automatic.all().first(f.layer.saved_bytes(f.xe)), f.all_gradients());
  f.check_results();

  // vendor's state, handed to another automatic layer's backward, runs vendor there.
  fixture g;
  state_buffer<host> by_vendor(h, bytes);
  g.layer.forward(h, g.xv(), g.wv(), g.bias.data(), g.yv(), by_vendor.all().first(g.layer.saved_bytes(g.xe)));
  fftconv::conv<2, float, fftconv::automatic> reader(geometry_of<2>(g.L));
  reader.set_mode(fftconv::automatic_mode::heuristic);
  reader.backward(h, g.xv(), g.wv(), g.dyv(), by_vendor.all().first(g.layer.saved_bytes(g.xe)), g.all_gradients());
  CHECK(reader.implementation().candidate_state<fftconv::vendor>() != nullptr);
  CHECK(reader.implementation().candidate_state<fftconv::im2col>() == nullptr);
  g.check_results();
  fftconv::clear_automatic_choices();
}

// ---- primitives per shape, copies, threads ------------------------------------------------------------------------

TEST_CASE("vendor host: primitives are kept per shape, the oldest released beyond shapes_kept") {
  const host h;
  const reference::layer base = conv3x3_layer();
  vendor_layer<2> layer(geometry_of<2>(base));
  constexpr std::size_t kept = fftconv::detail::conv_impl<fftconv::vendor, 2, float>::shapes_kept;
  std::vector<reference::layer> shapes;
  for (std::size_t i = 0; i <= kept; ++i) {
    reference::layer L = base;
    L.batch = 1 + static_cast<std::int64_t>(i);
    L.input = {8 + static_cast<std::int64_t>(i), 9};
    shapes.push_back(L);
    precision16::layer_inputs<2, float, float, host> in(h, L, 40 + i);
    precision16::layer_outputs<2, float, float, host> out(in);
    layer.forward(h, in.xv(), in.wv(), in.bias_buffer.data(), out.yv());
    precision16::check_result<float>(out.y.read(), precision16::expected_results(in).y, tolerance<float>::forward, "y");
  }
  CHECK(layer.implementation().implementation(problem_of<2>(shapes.front()), pass::forward).empty());  // released
  for (std::size_t i = 1; i < shapes.size(); ++i)
    CHECK_FALSE(layer.implementation().implementation(problem_of<2>(shapes[i]), pass::forward).empty());
  // The released shape runs again, right.
  precision16::check_layer<2, float, float, fftconv::vendor>(shapes.front(), 40, h, false, false);

  // A copy starts without primitives and computes the same.
  vendor_layer<2> copy = layer;
  CHECK(copy.implementation().implementation(problem_of<2>(shapes.back()), pass::forward).empty());
  CHECK(copy.workspace_bytes() == 0);
  precision16::layer_inputs<2, float, float, host> in(h, shapes.back(), 50);
  precision16::layer_outputs<2, float, float, host> a(in), b(in);
  layer.forward(h, in.xv(), in.wv(), in.bias_buffer.data(), a.yv());
  copy.forward(h, in.xv(), in.wv(), in.bias_buffer.data(), b.yv());
  CHECK(a.y.read() == b.y.read());
}

TEST_CASE("vendor host: layers on 4 threads at once, each its own, one a copy of another") {
  const reference::layer L = conv3x3_layer();
  const vendor_layer<2> original(geometry_of<2>(L));
  constexpr int threads = 4;
  std::vector<double> errors(threads * 3, 1.0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      const host h;
      vendor_layer<2> layer = t == 0 ? original : vendor_layer<2>(geometry_of<2>(L));
      precision16::layer_inputs<2, float, float, host> in(h, L, 60 + t);
      const precision16::expected_results expected(in);
      for (int step = 0; step < 3; ++step) {
        precision16::layer_outputs<2, float, float, host> out(in);
        layer.forward(h, in.xv(), in.wv(), in.bias_buffer.data(), out.yv());
        layer.backward(h, in.xv(), in.wv(), in.dyv(), {}, out.all_gradients());
        errors[t * 3 + 0] = relative_l2(out.y.read(), expected.y);
        errors[t * 3 + 1] = relative_l2(out.dx.read(), expected.dx);
        errors[t * 3 + 2] = relative_l2(out.dw.read(), expected.dw);
      }
    });
  for (auto& worker : workers) worker.join();
  for (int t = 0; t < threads; ++t) {
    INFO("thread ", t);
    CHECK(errors[t * 3 + 0] <= tolerance<float>::forward);
    CHECK(errors[t * 3 + 1] <= tolerance<float>::data);
    CHECK(errors[t * 3 + 2] <= tolerance<float>::filter);
  }
}
