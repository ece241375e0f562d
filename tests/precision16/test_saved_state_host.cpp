// The saved state names both element types (x's and w's) since bf16 and fp16 have the same size: backward refuses
// a state that a layer of another activation or weight type wrote, naming both (found and expected), and leaves its
// outputs untouched; a state of its own types it reads.
#include "precision16_checks.hpp"

#include <string>

namespace {

using namespace precision16;
using fftconv::bf16;
using fftconv::fp16;

// "2D bf16 on", "2D bf16 with float weights on": how the refusal describes a layer's types.
template <int N, class T, class W>
std::string types_of() {
  std::string s = std::to_string(N) + "D " + type_name<T>();
  if constexpr (!std::is_same_v<T, W>) s += " with " + type_name<W>() + " weights";
  return s + " on";
}

// Writer <TA, WA> runs forward with a saved state; reader <TB, WB> runs backward on it and must refuse it,
// naming the writer's types before "this call expects" and its own after.
template <int N, class TA, class WA, class TB, class WB, class P>
void check_refused(const reference::layer& L, fftconv::keep kept) {
  INFO(policy_name<P>(), ": ", types_of<N, TA, WA>(), " writes, ", types_of<N, TB, WB>(), " reads, keep ",
       std::string(kept == fftconv::keep::spectra ? "spectra" : "none"));
  const fftconv::host exec;
  layer_inputs<N, TA, WA, fftconv::host> a(exec, L, 1);
  layer_inputs<N, TB, WB, fftconv::host> b(exec, L, 2);
  auto writer = make_layer<N, TA, P, WA>(L);
  auto reader = make_layer<N, TB, P, WB>(L);
  testing_support::state_buffer<fftconv::host> saved(exec, writer.saved_bytes(a.xe, kept));
  layer_outputs<N, TA, WA, fftconv::host> written(a);
  writer.forward(exec, a.xv(), a.wv(), a.bias_buffer.data(), written.yv(), saved.all());

  const bool same_size = reader.saved_bytes(b.xe, fftconv::keep::spectra) == saved.all().size() ||
                         reader.saved_bytes(b.xe, fftconv::keep::none) == saved.all().size();
  REQUIRE_MESSAGE(same_size, "the states differ in size: the header's types would not be what refuses them");
  layer_outputs<N, TB, WB, fftconv::host> out(b);
  const auto dx_before = out.dx.read(), dw_before = out.dw.read(), db_before = out.db.read();
  std::string message;
  try {
    reader.backward(exec, b.xv(), b.wv(), b.dyv(), saved.all(), out.all_gradients());
  } catch (const fftconv::invalid_argument& error) {
    message = error.what();
  }
  INFO("message: ", message);
  REQUIRE_MESSAGE(!message.empty(), "backward accepted the state");
  const std::size_t holds = message.find("it holds"), expects = message.find("this call expects");
  REQUIRE(holds < expects);
  REQUIRE(expects != std::string::npos);
  CHECK(message.find(types_of<N, TA, WA>(), holds) < expects);
  CHECK(message.find(types_of<N, TB, WB>(), expects) != std::string::npos);
  CHECK(out.dx.read() == dx_before);
  CHECK(out.dw.read() == dw_before);
  CHECK(out.db.read() == db_before);
}

// The same types on both sides: the state is read, and the gradients are right.
template <int N, class T, class W, class P>
void check_accepted(const reference::layer& L, fftconv::keep kept) {
  INFO(policy_name<P>(), ": ", types_of<N, T, W>(), " writes and reads, keep ",
       std::string(kept == fftconv::keep::spectra ? "spectra" : "none"));
  const fftconv::host exec;
  layer_inputs<N, T, W, fftconv::host> in(exec, L, 3);
  const expected_results expected(in);
  auto layer = make_layer<N, T, P, W>(L);
  testing_support::state_buffer<fftconv::host> saved(exec, layer.saved_bytes(in.xe, kept));
  layer_outputs<N, T, W, fftconv::host> out(in);
  layer.forward(exec, in.xv(), in.wv(), in.bias_buffer.data(), out.yv(), saved.all());
  layer.backward(exec, in.xv(), in.wv(), in.dyv(), saved.all(), out.all_gradients());
  check_gradients(out, expected);
}

template <class P>
void check_element_types_in_state() {
  const reference::layer L = testing_support::make_layer(
      2, 2, {.in_channels = 4, .out_channels = 6, .groups = 2, .input = {9, 7}, .kernel = {3, 2}, .padding = {1, 0},
             .stride = {1, 1}, .dilation = {1, 1}});
  for (const fftconv::keep kept : {fftconv::keep::spectra, fftconv::keep::none}) {
    check_refused<2, bf16, bf16, fp16, fp16, P>(L, kept);
    check_refused<2, fp16, fp16, bf16, bf16, P>(L, kept);
    check_refused<2, float, float, bf16, bf16, P>(L, kept);
    check_refused<2, fp16, fp16, float, float, P>(L, kept);
    check_refused<2, bf16, float, bf16, bf16, P>(L, kept);  // the weights' type alone differs
    check_refused<2, fp16, fp16, fp16, float, P>(L, kept);
    check_refused<2, bf16, float, fp16, float, P>(L, kept);
    check_accepted<2, bf16, float, P>(L, kept);
    check_accepted<2, fp16, fp16, P>(L, kept);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("backward refuses a saved state of other element types, naming both", P, fftconv::naive,
                   fftconv::im2col, fftconv::fft, fftconv::automatic) {
  check_element_types_in_state<P>();
}
