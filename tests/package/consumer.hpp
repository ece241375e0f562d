#pragma once
// What the consumers check, written as an outside user would write it. One 2D layer (padding, stride 2,
// dilation 2, groups 2):
//   check<Policy>  one forward, NCHW, against a direct sum written here;
//   check_automatic the same through fftconv::automatic, and whether the vendor's library was among its
//                  candidates exactly where the build turned it on (FFTCONV_HAS_ONEDNN on the host);
//   train<Policy>  a few SGD steps fitting a fixed target: forward with a saved state, then one backward for dx,
//                  dw and dbias, activations NCHW or channels-last (NHWC memory seen as N, C, H, W through
//                  layout_stride), every byte fftconv allocates going through the consumer's own resource.
// Memory (host_memory here, device_memory in consumer_cuda.cu), made from the executor, puts the consumer's host
// vectors where the executor works: at(v) is the pointer it uses for v, put(v) copies v there and get(v) copies
// it back (on the host: v itself, and nothing to copy).
#include <fftconv/fftconv.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

namespace consumer {

using extents4 = std::array<std::int64_t, 4>;

inline constexpr std::int64_t batch = 2, in_channels = 4, out_channels = 6, groups = 2, height = 11, width = 9;
inline const fftconv::geometry<2> layer_geometry{.in_channels = in_channels, .out_channels = out_channels,
                                                 .kernel = {3, 2}, .padding = {2, 1}, .stride = {2, 2},
                                                 .dilation = {2, 2}, .groups = groups};
inline constexpr extents4 x_extents{batch, in_channels, height, width};
inline constexpr extents4 w_extents{out_channels, in_channels / groups, 3, 2};  // weights stay row-major (OIHW)

inline std::size_t count(const extents4& e) { return std::size_t(e[0] * e[1] * e[2] * e[3]); }

inline std::vector<float> values(std::size_t count, unsigned seed) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = std::sin(0.37f * float(i) + float(seed)) * 0.9f;
  return v;
}

// ---- Activations: NCHW or NHWC (channels-last) memory, always viewed as [N, C, H, W] --------------------------

inline extents4 activation_strides(const extents4& e, bool channels_last) {
  if (channels_last) return {e[2] * e[3] * e[1], 1, e[3] * e[1], e[1]};
  return {e[1] * e[2] * e[3], e[2] * e[3], e[3], 1};
}

template <class T>
using activation = cuda::std::mdspan<T, cuda::std::dextents<std::int64_t, 4>, cuda::std::layout_stride>;

template <class T>
activation<T> activation_view(T* data, const extents4& e, bool channels_last) {
  const extents4 s = activation_strides(e, channels_last);
  const cuda::std::dextents<std::int64_t, 4> logical(e[0], e[1], e[2], e[3]);
  const cuda::std::array<std::int64_t, 4> strides{s[0], s[1], s[2], s[3]};
  return {data, cuda::std::layout_stride::mapping<cuda::std::dextents<std::int64_t, 4>>(logical, strides)};
}

// Where activation element (n, c, h, w) lives.
inline std::size_t offset(const extents4& e, bool channels_last, std::int64_t n, std::int64_t c, std::int64_t h,
                          std::int64_t w) {
  const extents4 s = activation_strides(e, channels_last);
  return std::size_t(n * s[0] + c * s[1] + h * s[2] + w * s[3]);
}

// values(count, seed) in logical (NCHW) order, stored in the given layout: both layouts hold the same tensor.
inline std::vector<float> activation_values(const extents4& e, bool channels_last, unsigned seed) {
  const std::vector<float> logical = values(count(e), seed);
  std::vector<float> v(logical.size());
  std::size_t i = 0;
  for (std::int64_t n = 0; n < e[0]; ++n)
    for (std::int64_t c = 0; c < e[1]; ++c)
      for (std::int64_t h = 0; h < e[2]; ++h)
        for (std::int64_t w = 0; w < e[3]; ++w) v[offset(e, channels_last, n, c, h, w)] = logical[i++];
  return v;
}

// ---- The reference: every product of the layer, summed directly in double ------------------------------------

struct direct_sums {
  std::vector<double> y, dx, dw, dbias;
};

// y[b,o,i,j] = bias[o] + sum x[b,c,r,s] * w[o,c',ki,kj] (c = the first channel of o's group + c',
// r = i * stride - padding + ki * dilation, likewise s), and the gradients of sum(y * dy): dx, dw, dbias.
inline direct_sums direct(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
                          const std::vector<float>& dy, const extents4& ye, bool channels_last) {
  const auto& g = layer_geometry;
  const std::int64_t cin_g = in_channels / groups, cout_g = out_channels / groups;
  direct_sums d{std::vector<double>(count(ye)), std::vector<double>(x.size()), std::vector<double>(w.size()),
                std::vector<double>(out_channels)};
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t o = 0; o < out_channels; ++o)
      for (std::int64_t i = 0; i < ye[2]; ++i)
        for (std::int64_t j = 0; j < ye[3]; ++j) {
          const std::size_t yo = offset(ye, channels_last, b, o, i, j);
          d.y[yo] = bias[o];
          d.dbias[o] += dy[yo];
          for (std::int64_t c = 0; c < cin_g; ++c)
            for (std::int64_t ki = 0; ki < g.kernel[0]; ++ki)
              for (std::int64_t kj = 0; kj < g.kernel[1]; ++kj) {
                const std::int64_t r = i * g.stride[0] - g.padding[0] + ki * g.dilation[0];
                const std::int64_t s = j * g.stride[1] - g.padding[1] + kj * g.dilation[1];
                if (r < 0 || r >= height || s < 0 || s >= width) continue;
                const std::size_t xo = offset(x_extents, channels_last, b, (o / cout_g) * cin_g + c, r, s);
                const std::size_t wo = std::size_t(((o * cin_g + c) * g.kernel[0] + ki) * g.kernel[1] + kj);
                d.y[yo] += double(x[xo]) * w[wo];
                d.dx[xo] += double(dy[yo]) * w[wo];
                d.dw[wo] += double(dy[yo]) * x[xo];
              }
        }
  return d;
}

inline double relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
    norm += expected[i] * expected[i];
  }
  return std::sqrt(diff / norm);
}

// ---- The consumer's own memory resource ----------------------------------------------------------------------

// Keeps the books on every allocation fftconv (and this consumer) makes from it; obtain / release provide the
// memory (aligned new on the host, cudaMallocAsync / cudaFreeAsync on the GPU).
class counting_resource : public fftconv::memory_resource {
 public:
  void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st* stream) final {
    void* pointer = obtain(bytes, alignment, stream);  // throws std::bad_alloc when it cannot
    const std::lock_guard<std::mutex> lock(mutex_);
    live_[pointer] = {bytes, alignment, stream};
    live_bytes_ += bytes;
    ++allocations_;
    return pointer;
  }

  void deallocate(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st* stream) noexcept final {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto found = live_.find(pointer);
    if (found == live_.end()) {
      ++mismatches_;  // not ours, or twice: leave it alone
      return;
    }
    const allocation made = found->second;
    if (made.bytes != bytes || made.alignment != alignment || made.stream != stream) ++mismatches_;
    release(pointer, made.bytes, made.alignment, made.stream);
    live_bytes_ -= made.bytes;
    live_.erase(found);
  }

  std::size_t allocations() const { return locked(allocations_); }
  std::size_t live_bytes() const { return locked(live_bytes_); }
  std::size_t mismatches() const { return locked(mismatches_); }  // deallocations unlike their allocation

 protected:
  virtual void* obtain(std::size_t bytes, std::size_t alignment, CUstream_st* stream) = 0;
  virtual void release(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st* stream) noexcept = 0;

 private:
  struct allocation {
    std::size_t bytes, alignment;
    CUstream_st* stream;
  };
  std::size_t locked(const std::size_t& value) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return value;
  }
  mutable std::mutex mutex_;
  std::map<void*, allocation> live_;
  std::size_t live_bytes_ = 0, allocations_ = 0, mismatches_ = 0;
};

// Bytes from a resource for as long as this object lives (here: the state forward saves for backward).
class resource_bytes {
 public:
  resource_bytes(fftconv::memory_resource& resource, std::size_t bytes, std::size_t alignment, CUstream_st* stream)
      : resource_(resource), bytes_(bytes), alignment_(alignment), stream_(stream),
        data_(static_cast<std::byte*>(resource.allocate(bytes, alignment, stream))) {}
  resource_bytes(const resource_bytes&) = delete;
  resource_bytes& operator=(const resource_bytes&) = delete;
  ~resource_bytes() { resource_.deallocate(data_, bytes_, alignment_, stream_); }
  fftconv::saved_state span() const { return {data_, bytes_}; }

 private:
  fftconv::memory_resource& resource_;
  std::size_t bytes_, alignment_;
  CUstream_st* stream_;
  std::byte* data_;
};

// ---- One forward --------------------------------------------------------------------------------------------

template <class Policy, class Memory, class Exec>
bool check(const char* name, Exec exec) {
  Memory memory(exec);
  fftconv::conv<2, float, Policy> layer(layer_geometry);
  const extents4 ye = layer.output_extents(x_extents);
  const auto x = values(count(x_extents), 1), w = values(count(w_extents), 2), bias = values(out_channels, 3);
  std::vector<float> y(count(ye));
  memory.put(x), memory.put(w), memory.put(bias);
  layer.forward(exec, fftconv::make_view(memory.at(x), x_extents), fftconv::make_view(memory.at(w), w_extents),
                memory.at(bias), fftconv::make_view(memory.at(y), ye));
  memory.get(y);
  const double error = relative_error(y, direct(x, w, bias, std::vector<float>(y.size()), ye, false).y);
  std::printf("%s forward: relative L2 error %.3g\n", name, error);
  return error <= 1e-5;
}

// fftconv::automatic: one forward as check does, then its choice: the vendor candidate (oneDNN on the host, cuDNN
// on the device) is timed where the build has the library and skipped, with the reason, where it has not.
template <class Memory, class Exec>
bool check_automatic(const char* name, Exec exec, bool vendor_built) {
  Memory memory(exec);
  fftconv::conv<2, float, fftconv::automatic> layer(layer_geometry);
  const extents4 ye = layer.output_extents(x_extents);
  const auto x = values(count(x_extents), 1), w = values(count(w_extents), 2), bias = values(out_channels, 3);
  std::vector<float> y(count(ye));
  memory.put(x), memory.put(w), memory.put(bias);
  layer.forward(exec, fftconv::make_view(memory.at(x), x_extents), fftconv::make_view(memory.at(w), w_extents),
                memory.at(bias), fftconv::make_view(memory.at(y), ye));
  memory.get(y);
  const double error = relative_error(y, direct(x, w, bias, std::vector<float>(y.size()), ye, false).y);
  const fftconv::automatic_choice& choice = layer.choice();
  const auto vendor = std::size_t(fftconv::algorithm::vendor);
  const bool listed = choice.policy.has_value() && choice.candidates.size() > vendor;
  const bool considered = listed && choice.candidates[vendor].considered;
  const bool vendor_ok = listed && considered == vendor_built && (considered || !choice.candidates[vendor].skipped.empty());
  std::printf("%s forward: relative L2 error %.3g, ran %s; vendor candidate %s%s%s\n", name, error,
              listed ? fftconv::to_string(*choice.policy) : "?", considered ? "timed" : "left out: ",
              listed && !considered ? choice.candidates[vendor].skipped.c_str() : "",
              vendor_ok ? "" : (vendor_built ? "  <- FAILED: the build has it" : "  <- FAILED: the build has it not"));
  return error <= 1e-5 && vendor_ok;
}

// ---- 16-bit activations with fp32 weights (the host: __nv_bfloat16 from the toolkit's headers) ---------------

template <class Policy>
bool check_bf16(const char* name) {
  fftconv::conv<2, fftconv::bf16, Policy, float> layer(layer_geometry);
  const extents4 ye = layer.output_extents(x_extents);
  const auto wide_x = values(count(x_extents), 1), w = values(count(w_extents), 2), bias = values(out_channels, 3);
  std::vector<fftconv::bf16> x(wide_x.size()), y(count(ye));
  std::vector<float> rounded_x(x.size()), wide_y(y.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = __float2bfloat16_rn(wide_x[i]), rounded_x[i] = __bfloat162float(x[i]);
  layer.forward(fftconv::host{}, fftconv::make_view<const fftconv::bf16>(x.data(), x_extents),
                fftconv::make_view(w.data(), w_extents), bias.data(), fftconv::make_view(y.data(), ye));
  for (std::size_t i = 0; i < y.size(); ++i) wide_y[i] = __bfloat162float(y[i]);
  const double error = relative_error(wide_y, direct(rounded_x, w, bias, std::vector<float>(y.size()), ye, false).y);
  std::printf("%s bf16 forward (fp32 weights): relative L2 error %.3g\n", name, error);
  return error <= 1e-2;
}

// ---- A few training steps -----------------------------------------------------------------------------------

// exec carries `resource`. What is measured there, per step: the allocations made and the bytes live after it.
// The first (warm-up) step allocates the layer's workspace and plans (the saved state was allocated before it).
// Row-major (NCHW) steps after it allocate nothing. Channels-last steps gather x and dy into row-major copies
// and write y and dx through copies allocated and released within each call, so there only the live bytes are
// checked to come back to the warm-up level. Once the layer is destroyed and the saved state released, nothing
// is live and every deallocation matched its allocation's size, alignment and stream.
template <class Policy, class Memory, class Exec>
bool train(const char* name, bool channels_last, Exec exec, counting_resource& resource) {
  constexpr bool on_device = std::is_same_v<Exec, fftconv::device>;
  constexpr int steps = 5;
  constexpr float learning_rate = 0.5f;
  const char* layout = channels_last ? "NHWC" : "NCHW";
  bool ok = true;
  {
    Memory memory(exec);
    fftconv::conv<2, float, Policy> layer(layer_geometry);
    const extents4 ye = layer.output_extents(x_extents);
    const auto x = activation_values(x_extents, channels_last, 1), target = activation_values(ye, channels_last, 4);
    auto w = values(count(w_extents), 2), bias = values(out_channels, 3);
    std::vector<float> y(count(ye)), dy(y.size()), dx(x.size()), dw(w.size()), dbias(bias.size());
    auto act = [&](auto& v, const extents4& e) { return activation_view(memory.at(v), e, channels_last); };
    auto weights = [&](auto& v) { return fftconv::make_view(memory.at(v), w_extents); };

    CUstream_st* stream = nullptr;
    if constexpr (on_device) stream = exec.stream;
    const resource_bytes saved(resource, layer.saved_bytes(x_extents, fftconv::keep::spectra, on_device),
                               on_device ? 256 : 64, stream);
    memory.put(x);
    double previous_loss = INFINITY;
    std::size_t warm_live_bytes = 0;
    for (int step = 0; step < steps; ++step) {
      const std::size_t allocations_before = resource.allocations();
      memory.put(w), memory.put(bias);
      layer.forward(exec, act(x, x_extents), weights(w), memory.at(bias), act(y, ye), saved.span());
      memory.get(y);
      double loss = 0;  // 0.5 * mean((y - target)^2)
      for (std::size_t i = 0; i < y.size(); ++i) {
        loss += 0.5 * double(y[i] - target[i]) * (y[i] - target[i]) / double(y.size());
        dy[i] = (y[i] - target[i]) / float(y.size());
      }
      memory.put(dy);
      layer.backward(exec, act(x, x_extents), weights(w), act(dy, ye), saved.span(),
                     {.dx = act(dx, x_extents), .dw = weights(dw), .dbias = memory.at(dbias)});
      memory.get(dx), memory.get(dw), memory.get(dbias);

      const direct_sums expected = direct(x, w, bias, dy, ye, channels_last);
      const double ey = relative_error(y, expected.y), edx = relative_error(dx, expected.dx),
                   edw = relative_error(dw, expected.dw), edb = relative_error(dbias, expected.dbias);
      const std::size_t allocated = resource.allocations() - allocations_before, live = resource.live_bytes();
      if (step == 0) warm_live_bytes = live;
      const bool memory_ok = step == 0 ? allocated > 0 : live == warm_live_bytes && (channels_last || allocated == 0);
      const bool step_ok = ey <= 1e-5 && edx <= 1e-5 && edw <= 1e-4 && edb <= 1e-5 && loss < previous_loss && memory_ok;
      std::printf("%s %s step %d: loss %.6f  error y %.2g dx %.2g dw %.2g dbias %.2g  resource: %zu allocations, "
                  "%zu bytes live%s\n",
                  name, layout, step, loss, ey, edx, edw, edb, allocated, live, step_ok ? "" : "  <- FAILED");
      ok = ok && step_ok;
      previous_loss = loss;
      for (std::size_t i = 0; i < w.size(); ++i) w[i] -= learning_rate * dw[i];
      for (std::size_t i = 0; i < bias.size(); ++i) bias[i] -= learning_rate * dbias[i];
    }
  }  // the saved state and the layer go back to the resource here
  const bool books_ok = resource.live_bytes() == 0 && resource.mismatches() == 0;
  std::printf("%s %s: layer destroyed: %zu bytes live, %zu mismatched deallocations%s\n", name, layout,
              resource.live_bytes(), resource.mismatches(), books_ok ? "" : "  <- FAILED");
  return ok && books_ok;
}

// The host executor works on the host vectors themselves.
struct host_memory {
  explicit host_memory(fftconv::host) {}
  float* at(std::vector<float>& v) { return v.data(); }
  const float* at(const std::vector<float>& v) { return v.data(); }
  void put(const std::vector<float>&) {}
  void get(std::vector<float>&) {}
};

}  // namespace consumer
