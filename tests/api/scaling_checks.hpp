#pragma once
// Output scaling: out = alpha * result + beta * out (forward: y = alpha * conv + bias + beta * y, the bias
// unscaled). beta = 1 accumulates; beta = 0 never reads out (NaN there is ignored). Also with the work split in
// chunks (the FFT policy's rows under a workspace limit, im2col's batch under one).

#include <cstdint>
#include <string>
#include <vector>

#include "reuse_checks.hpp"

namespace api_checks {

enum class scaled_call { forward, backward_data, backward_filter, backward };

inline std::string name_of(scaled_call c) {
  switch (c) {
    case scaled_call::forward: return "forward";
    case scaled_call::backward_data: return "backward_data";
    case scaled_call::backward_filter: return "backward_filter (dw, db)";
    case scaled_call::backward: return "backward with saved state (dx, dw, db)";
  }
  return "?";
}

// How the layer splits its work.
enum class chunking { none, smallest };

// Splits the layer's work in as many chunks as its policy allows; returns how many (1 when it does not chunk).
template <int N, class T, class P, class Exec>
std::int64_t force_chunks(fftconv::conv<N, T, P>& layer, const reference::layer& L) {
  if constexpr (std::is_same_v<P, fftconv::fft>) {
    return force_smallest_chunks<N, T, Exec>(layer, L);
  } else if constexpr (std::is_same_v<P, fftconv::im2col>) {
    layer.set_workspace_limit(1);  // one image per chunk
    std::array<std::int64_t, N> spatial{};
    for (int i = 0; i < N; ++i) spatial[i] = L.input[i];
    const auto p = fftconv::detail::make_problem<N>(layer.geometry(), L.batch, spatial);
    const std::int64_t c = layer.implementation().layout(p, fftconv::pass::forward).chunks;
    CHECK(layer.implementation().layout(p, fftconv::pass::backward_data).chunks == c);
    CHECK(layer.implementation().layout(p, fftconv::pass::backward_filter).chunks == c);
    return c;
  } else {
    return 1;
  }
}

// One scaled output of a call: its buffer, the pass's result on the current contents, and what is added
// unscaled (forward's bias).
template <class T, class Exec>
struct scaled_output {
  std::string name;
  buffer<T, Exec>* out;
  std::vector<double> result;
  std::vector<double> unscaled;
  double tolerance;
};

template <int N, class T, class Exec>
std::vector<scaled_output<T, Exec>> outputs_of(scaled_call c, step_data<N, T, Exec>& d) {
  const reference::layer& L = d.L;
  std::vector<scaled_output<T, Exec>> outputs;
  const auto zeros = [](std::int64_t n) { return std::vector<double>(static_cast<std::size_t>(n), 0.0); };
  if (c == scaled_call::forward) {
    const auto conv = reference::forward(L, d.x_values, d.w_values, nullptr);
    const auto with_bias = reference::forward(L, d.x_values, d.w_values, &d.bias_values);
    outputs.push_back({"y", &d.y, conv, blend(1, with_bias, -1, conv), tolerance<T>::forward});
  }
  if (c == scaled_call::backward_data || c == scaled_call::backward)
    outputs.push_back(
        {"dx", &d.dx, reference::backward_data(L, d.dy_values, d.w_values), zeros(L.x_size()), tolerance<T>::data});
  if (c == scaled_call::backward_filter || c == scaled_call::backward) {
    outputs.push_back(
        {"dw", &d.dw, reference::backward_filter(L, d.x_values, d.dy_values), zeros(L.w_size()), tolerance<T>::filter});
    outputs.push_back(
        {"db", &d.db, reference::backward_bias(L, d.dy_values), zeros(L.out_channels), tolerance<T>::filter});
  }
  return outputs;
}

template <int N, class T, class Exec, class Layer>
void run_scaled(Layer& layer, step_data<N, T, Exec>& d, scaled_call c, fftconv::scaling<fftconv::scalar_of<T>> s) {
  const Exec exec = d.exec;
  switch (c) {
    case scaled_call::forward: layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), {}, s); break;
    case scaled_call::backward_data: layer.backward_data(exec, d.dyv(), d.wv(), d.dxv(), s); break;
    case scaled_call::backward_filter: layer.backward_filter(exec, d.xv(), d.dyv(), d.dwv(), d.db.data(), s); break;
    case scaled_call::backward: {
      // forward (plain, into a scratch y) writes the state; backward scales the gradients.
      auto saved = saved_for(exec, layer, x_extents<N>(d.L));
      buffer<T, Exec> y(exec, d.L.y_size());
      layer.forward(exec, d.xv(), d.wv(), d.bias.data(), fftconv::tensor_ref<T, N + 2>(y.data(), y_extents<N>(d.L)),
                    saved.all());
      layer.backward(exec, d.xv(), d.wv(), d.dyv(), saved.all(), d.all_gradients(), s);
      break;
    }
  }
}

template <int N, class T, class P, class Exec>
void check_scaling(const reference::layer& L, std::uint64_t seed, Exec exec, chunking split) {
  using S = fftconv::scalar_of<T>;
  auto layer = make_layer<N, T, P>(L);
  const std::int64_t chunks = split == chunking::smallest ? force_chunks<N, T, P, Exec>(layer, L) : 1;
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L), "; ", chunks, " chunks");
  INFO(choice_of(layer));
  if (split == chunking::smallest && (std::is_same_v<P, fftconv::fft> || std::is_same_v<P, fftconv::im2col>))
    REQUIRE(chunks > 1);
  step_data<N, T, Exec> d(exec, L, seed);
  for (const scaled_call c :
       {scaled_call::forward, scaled_call::backward_data, scaled_call::backward_filter, scaled_call::backward}) {
    INFO(name_of(c));
    {
      INFO("beta = 1 accumulates: the sum of two calls");
      auto first = outputs_of(c, d);
      for (auto& o : first) o.out->write(nan_values(o.out->size()));
      run_scaled(layer, d, c, {});
      d.rewrite_x();
      d.rewrite_w();
      d.rewrite_dy();
      auto second = outputs_of(c, d);
      run_scaled(layer, d, c, {S(1), S(1)});
      for (std::size_t i = 0; i < second.size(); ++i) {
        INFO(second[i].name);
        const auto expected = blend(1, blend(1, first[i].result, 1, first[i].unscaled), 1,
                                    blend(1, second[i].result, 1, second[i].unscaled));
        CHECK(relative_l2(second[i].out->read(), expected) <= second[i].tolerance);
      }
    }
    {
      INFO("alpha = 2, beta = 0.5");
      auto outputs = outputs_of(c, d);
      std::vector<std::vector<double>> previous;
      for (auto& o : outputs) {
        previous.push_back(random_values(o.out->size(), seed + previous.size() + 17));
        o.out->write(previous.back());
      }
      run_scaled(layer, d, c, {S(2), S(0.5)});
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        INFO(outputs[i].name);
        const auto expected = blend(1, blend(2, outputs[i].result, 1, outputs[i].unscaled), 0.5, previous[i]);
        CHECK(relative_l2(outputs[i].out->read(), expected) <= outputs[i].tolerance);
      }
    }
    for (const double alpha : {1.0, -1.5}) {
      INFO("beta = 0 over NaN, alpha = ", alpha);
      d.rewrite_x();
      d.rewrite_dy();
      auto outputs = outputs_of(c, d);
      for (auto& o : outputs) o.out->write(nan_values(o.out->size()));
      run_scaled(layer, d, c, {S(alpha), S(0)});
      for (auto& o : outputs) {
        INFO(o.name);
        const auto actual = o.out->read();
        CHECK(all_finite(actual));
        CHECK(relative_l2(actual, blend(alpha, o.result, 1, o.unscaled)) <= o.tolerance);
      }
    }
  }
}

}  // namespace api_checks
