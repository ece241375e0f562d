// NaN and Inf in 16-bit layers, and fp16's overflow. A 16-bit layer runs the float implementation of its
// policy on its inputs widened to float, so a NaN or an Inf in x, w or dy reaches exactly the outputs it reaches
// in the float layer of the same policy (the FFT policy spreads one across its tile, the direct policies only
// along the windows that read it): the NaN and Inf masks of both runs must match. A finite result past fp16's
// largest value (65504) is stored as Inf, in y whatever the weights' type, and bf16 holds it finitely.
#include "precision16_checks.hpp"

#include <initializer_list>
#include <limits>

namespace {

using namespace precision16;

// One call of every pass on given (already rounded) inputs, outputs read back as float64.
struct pass_results {
  std::vector<double> y, dx, dw, db;
};

template <int N, class T, class W, class P>
pass_results run_passes(const reference::layer& L, const std::vector<double>& x, const std::vector<double>& w,
                        const std::vector<double>& bias, const std::vector<double>& dy, std::string* choice = nullptr) {
  constexpr std::size_t R = N + 2;
  const fftconv::host exec;
  const auto xe = extents<N>(L.batch, L.in_channels, L.input);
  const auto ye = extents<N>(L.batch, L.out_channels, L.output());
  const auto we = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
  test_buffer<T, fftconv::host> xb(exec, x), dyb(exec, dy), y(exec, L.y_size()), dx(exec, L.x_size());
  test_buffer<W, fftconv::host> wb(exec, w), biasb(exec, bias), dw(exec, L.w_size()), db(exec, L.out_channels);
  auto layer = make_layer<N, T, P, W>(L);
  layer.forward(exec, fftconv::tensor_ref<const T, R>(xb.data(), xe), fftconv::tensor_ref<const W, R>(wb.data(), we),
                biasb.data(), fftconv::tensor_ref<T, R>(y.data(), ye));
  if constexpr (requires { layer.choice(); })
    if (choice && layer.choice().policy) *choice = fftconv::to_string(*layer.choice().policy);
  layer.backward_data(exec, fftconv::tensor_ref<const T, R>(dyb.data(), ye),
                      fftconv::tensor_ref<const W, R>(wb.data(), we), fftconv::tensor_ref<T, R>(dx.data(), xe));
  layer.backward_filter(exec, fftconv::tensor_ref<const T, R>(xb.data(), xe),
                        fftconv::tensor_ref<const T, R>(dyb.data(), ye), fftconv::tensor_ref<W, R>(dw.data(), we),
                        db.data());
  return {y.read(), dx.read(), dw.read(), db.read()};
}

enum class value_class { finite, nan, plus_inf, minus_inf };

value_class class_of(double v) {
  if (std::isnan(v)) return value_class::nan;
  if (std::isinf(v)) return v > 0 ? value_class::plus_inf : value_class::minus_inf;
  return value_class::finite;
}

// The 16-bit run's NaN / +Inf / -Inf / finite mask equals the float run's; returns how many elements the
// float run has that are not finite.
std::size_t check_same_mask(const std::vector<double>& float_run, const std::vector<double>& run16,
                            const std::string& what) {
  REQUIRE(float_run.size() == run16.size());
  std::size_t differ = 0, first = 0, nonfinite = 0;
  for (std::size_t i = 0; i < float_run.size(); ++i) {
    if (class_of(float_run[i]) != value_class::finite) ++nonfinite;
    if (class_of(float_run[i]) != class_of(run16[i]) && differ++ == 0) first = i;
  }
  std::ostringstream message;
  if (differ != 0)
    message << what << ": " << differ << " of " << float_run.size() << " elements differ in kind from the float "
            << "layer's; the first, [" << first << "], is " << run16[first] << " where float has " << float_run[first];
  CHECK_MESSAGE(differ == 0, message.str());
  return nonfinite;
}

// `special` (NaN or Inf) put into x, then into w, then into dy, of one layer: every output's mask as float's.
template <int N, class T, class W, class P>
std::size_t check_special_like_float(const reference::layer& L, std::uint64_t seed, double special) {
  INFO(policy_name<P>(), ' ', type_name<T>(), " with ", type_name<W>(), " weights, ", special, ", seed ", seed, ": ",
       describe(L));
  const auto x = rounded<T>(random_values(L.x_size(), seed * 4 + 1));
  const auto w = rounded<W>(random_values(L.w_size(), seed * 4 + 2));
  const auto bias = rounded<W>(random_values(L.out_channels, seed * 4 + 3));
  const auto dy = rounded<T>(random_values(L.y_size(), seed * 4 + 4));
  std::mt19937_64 rng(seed);
  auto somewhere = [&](std::size_t size) { return std::uniform_int_distribution<std::size_t>(0, size - 1)(rng); };
  std::size_t nonfinite = 0;
  auto compare = [&](const std::string& where, const auto& xs, const auto& ws, const auto& dys) {
    INFO(special, " in ", where);
    std::string float_choice, choice16;
    const pass_results a = run_passes<N, float, float, P>(L, xs, ws, bias, dys, &float_choice);
    const pass_results b = run_passes<N, T, W, P>(L, xs, ws, bias, dys, &choice16);
    if (float_choice != choice16) {  // automatic: masks are comparable only between runs of one algorithm
      MESSAGE("automatic chose ", float_choice, " for float and ", choice16, " for 16-bit; masks not compared");
      return;
    }
    nonfinite += check_same_mask(a.y, b.y, "y");
    nonfinite += check_same_mask(a.dx, b.dx, "dx");
    nonfinite += check_same_mask(a.dw, b.dw, "dw");
    nonfinite += check_same_mask(a.db, b.db, "dbias");
  };
  auto with = [&](std::vector<double> v) {
    v[somewhere(v.size())] = special;
    return v;
  };
  compare("x", with(x), w, dy);
  compare("w", x, with(w), dy);
  compare("dy", x, w, with(dy));
  return nonfinite;
}

// A layer every x element reaches some output of (stride 1, padding 1), then random layers.
template <int N, class T, class W, class P>
void check_nonfinite(double special) {
  std::size_t nonfinite = 0;
  nonfinite += check_special_like_float<N, T, W, P>(
      testing_support::make_layer(N, 2, {.in_channels = 4, .out_channels = 3, .groups = 1, .input = {9, 7, 5},
                                         .kernel = {3, 3, 3}, .padding = {1, 1, 1}, .stride = {1, 1, 1},
                                         .dilation = {1, 1, 1}}),
      100 + N, special);
  for (std::uint64_t seed = 1; seed <= 4; ++seed)
    nonfinite += check_special_like_float<N, T, W, P>(random_layer(N, seed), seed, special);
  CHECK_MESSAGE(nonfinite > 0, "no output of the float layer was NaN or Inf: nothing was compared");
}

template <class P>
void check_nonfinite_all(std::initializer_list<double> specials) {
  SUBCASE("bf16") {
    for (double special : specials) {
      check_nonfinite<1, fftconv::bf16, fftconv::bf16, P>(special);
      check_nonfinite<2, fftconv::bf16, fftconv::bf16, P>(special);
      check_nonfinite<3, fftconv::bf16, fftconv::bf16, P>(special);
    }
  }
  SUBCASE("fp16") {
    for (double special : specials) {
      check_nonfinite<1, fftconv::fp16, fftconv::fp16, P>(special);
      check_nonfinite<2, fftconv::fp16, fftconv::fp16, P>(special);
      check_nonfinite<3, fftconv::fp16, fftconv::fp16, P>(special);
    }
  }
  SUBCASE("bf16 and fp16, float weights") {
    for (double special : specials) {
      check_nonfinite<2, fftconv::bf16, float, P>(special);
      check_nonfinite<2, fftconv::fp16, float, P>(special);
    }
  }
}

// ---- fp16 overflow -------------------------------------------------------------------------------------------

// Each element of a 16-bit result whose float64 value is clearly past T's largest finite value (beyond the
// rounding threshold, 65520 for fp16, by more than the float computation's error) is Inf of its sign; each clearly
// below is finite and rounded as usual (check_result over those). Returns how many are Inf.
template <class U>
std::size_t check_overflow(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance,
                           const std::string& what) {
  INFO(what);
  constexpr double largest = 65504, threshold = 65520, margin = 1e-3;
  std::vector<double> finite_actual, finite_expected;
  std::size_t infinite = 0, wrong = 0, first = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = std::abs(expected[i]);
    if (e > threshold * (1 + margin)) {
      if (actual[i] == std::copysign(std::numeric_limits<double>::infinity(), expected[i]))
        ++infinite;
      else if (wrong++ == 0)
        first = i;
    } else if (e < largest * (1 - margin)) {
      finite_actual.push_back(actual[i]);
      finite_expected.push_back(expected[i]);
    }
  }
  std::ostringstream message;
  if (wrong != 0)
    message << wrong << " elements past " << threshold << " are not Inf; the first, [" << first << "], is "
            << actual[first] << " for " << expected[first];
  CHECK_MESSAGE(wrong == 0, message.str());
  CHECK_MESSAGE(!finite_expected.empty(), "no element stays finite: the layer does not show where overflow starts");
  check_result<U>(finite_actual, finite_expected, tolerance, what + " (the finite elements)");
  return infinite;
}

// A layer whose outputs straddle fp16's range: |x|, |dy| up to 512 and |w| up to 64 (all exact in fp16) make
// y and dx of a few times 10^4 (some past 65520, some not) and dw of about 10^6.
template <int N, class T, class W, class P>
void check_overflow_layer() {
  const reference::layer L = testing_support::make_layer(
      N, 2, {.in_channels = 4, .out_channels = 3, .groups = 1, .input = {16, 6, 4}, .kernel = {3, 3, 3},
             .padding = {1, 1, 1}, .stride = {1, 1, 1}, .dilation = {1, 1, 1}});
  INFO(policy_name<P>(), ' ', type_name<T>(), " with ", type_name<W>(), " weights: ", describe(L));
  auto scaled = [](std::vector<double> v, double by) {
    for (double& e : v) e *= by;
    return v;
  };
  const auto x = rounded<T>(scaled(random_values(L.x_size(), 11), 512));
  const auto w = rounded<W>(scaled(random_values(L.w_size(), 12), 64));
  const auto bias = rounded<W>(random_values(L.out_channels, 13));
  const auto dy = rounded<T>(scaled(random_values(L.y_size(), 14), 512));
  const pass_results r = run_passes<N, T, W, P>(L, x, w, bias, dy);
  const auto y_expected = reference::forward(L, x, w, &bias);
  const auto dx_expected = reference::backward_data(L, dy, w);
  const auto dw_expected = reference::backward_filter(L, x, dy);
  const auto db_expected = reference::backward_bias(L, dy);
  if constexpr (std::is_same_v<T, fftconv::fp16>) {
    CHECK(check_overflow<T>(r.y, y_expected, tolerance<T>::forward, "y") > 0);
    CHECK(check_overflow<T>(r.dx, dx_expected, tolerance<T>::data, "dx") > 0);
  } else {  // bf16 has float's range
    check_result<T>(r.y, y_expected, tolerance<T>::forward, "y");
    check_result<T>(r.dx, dx_expected, tolerance<T>::data, "dx");
  }
  if constexpr (std::is_same_v<W, fftconv::fp16>) {
    // dw's every element is far past fp16's range.
    std::size_t infinite = 0;
    for (double v : r.dw) infinite += std::isinf(v) ? 1 : 0;
    CHECK(infinite > r.dw.size() / 2);
    for (std::size_t i = 0; i < r.dw.size(); ++i)
      if (std::abs(dw_expected[i]) > 65520 * (1 + 1e-3)) {
        CAPTURE(i);
        CHECK(r.dw[i] == std::copysign(std::numeric_limits<double>::infinity(), dw_expected[i]));
      }
  } else {  // float weights, or bf16: finite
    check_result<W>(r.dw, dw_expected, tolerance<W>::filter, "dw");
  }
  check_result<W>(r.db, db_expected, tolerance<W>::filter, "dbias");
}

template <class P>
void check_overflow_all() {
  SUBCASE("fp16: y, dx and dw overflow to Inf") {
    check_overflow_layer<1, fftconv::fp16, fftconv::fp16, P>();
    check_overflow_layer<2, fftconv::fp16, fftconv::fp16, P>();
  }
  SUBCASE("fp16 with float weights: y and dx overflow, dw does not") {
    check_overflow_layer<1, fftconv::fp16, float, P>();
    check_overflow_layer<2, fftconv::fp16, float, P>();
  }
  SUBCASE("bf16: the same layer is finite") {
    check_overflow_layer<1, fftconv::bf16, fftconv::bf16, P>();
    check_overflow_layer<2, fftconv::bf16, float, P>();
  }
}

}  // namespace

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_value = std::numeric_limits<double>::infinity();

TEST_CASE_TEMPLATE("a NaN in a 16-bit layer's input reaches the outputs it reaches in float", P, fftconv::naive,
                   fftconv::im2col, fftconv::fft, fftconv::automatic) {
  check_nonfinite_all<P>({nan_value});
}

TEST_CASE_TEMPLATE("an Inf in a 16-bit layer's input gives the NaN and Inf the float layer gives", P, fftconv::naive,
                   fftconv::im2col, fftconv::fft, fftconv::automatic) {
  check_nonfinite_all<P>({inf_value, -inf_value});
}

TEST_CASE_TEMPLATE("fp16 results past 65504 are stored as Inf and bf16 holds them", P, fftconv::naive, fftconv::im2col,
                   fftconv::fft, fftconv::automatic) {
  check_overflow_all<P>();
}
