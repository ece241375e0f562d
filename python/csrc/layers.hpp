#pragma once
// The library's layers behind the operators: one `fftconv::conv<N, T, P, W>` per declared layer, element
// types, policy and executor, cached process-wide so that plans and automatic's choice survive from call to
// call. Included by the per-rank translation units of each backend, never by torch's.

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "request.hpp"

// No vendor library in the extension (python/CMakeLists.txt): automatic has no vendor candidate here, and no
// translation unit may call oneDNN or cuDNN, whose system copies would meet torch's own in one process.
static_assert(!FFTCONV_HAS_ONEDNN && !FFTCONV_HAS_CUDNN,
              "fftconv's PyTorch extension is built with FFTCONV_HAS_ONEDNN=0 and FFTCONV_HAS_CUDNN=0");

namespace fftconv_torch::detail {

template <int N>
fftconv::geometry<N> geometry_of(const layer_desc& d) {
  fftconv::geometry<N> g;
  g.in_channels = d.in_channels;
  g.out_channels = d.out_channels;
  g.groups = d.groups;
  std::array<std::int64_t, N> low{}, high{};
  for (int i = 0; i < N; ++i) {
    g.kernel[i] = d.kernel[i];
    g.stride[i] = d.stride[i];
    g.dilation[i] = d.dilation[i];
    low[i] = d.padding_low[i];
    high[i] = d.padding_high[i];
  }
  g.padding = fftconv::padding_sides<N>(low, high);
  return g;
}

template <int R>
std::array<std::int64_t, R> extents_of(const std::int64_t* sizes) {
  std::array<std::int64_t, R> e{};
  std::copy(sizes, sizes + R, e.begin());
  return e;
}

template <class T, int R>
fftconv::tensor_ref<T, R> ref_of(const tensor_desc& t) {
  if (t.data == nullptr) return {};
  std::array<std::int64_t, R> sizes{}, strides{};
  std::copy(t.sizes.begin(), t.sizes.begin() + R, sizes.begin());
  std::copy(t.strides.begin(), t.strides.begin() + R, strides.begin());
  return fftconv::tensor_ref<T, R>(static_cast<T*>(t.data), sizes, strides);
}

template <class T>
fftconv::optional_vector<T> vector_of(const tensor_desc& t) {
  if (t.data == nullptr) return nullptr;
  return fftconv::tensor_ref<T, 1>(static_cast<T*>(t.data), {t.sizes[0]}, {t.strides[0]});
}

template <int N, class Exec>
class layer_base {
 public:
  virtual ~layer_base() = default;
  virtual std::size_t saved_bytes(const std::int64_t* x_sizes, bool keep_spectra, bool on_device) const = 0;
  virtual void forward(Exec exec, const forward_request& r) = 0;
  virtual void backward(Exec exec, const backward_request& r) = 0;
};

template <int N, class T, class W, class P, class Exec>
class layer final : public layer_base<N, Exec> {
  static constexpr int R = N + 2;

 public:
  explicit layer(const fftconv::geometry<N>& g) : conv_(g) {}

  std::size_t saved_bytes(const std::int64_t* x_sizes, bool keep_spectra, bool on_device) const override {
    return conv_.saved_bytes(extents_of<R>(x_sizes), keep_spectra ? fftconv::keep::spectra : fftconv::keep::none,
                             on_device);
  }

  void forward(Exec exec, const forward_request& r) override {
    conv_.forward(exec, ref_of<const T, R>(r.x), ref_of<const W, R>(r.w), vector_of<const W>(r.bias),
                  ref_of<T, R>(r.y), fftconv::saved_state(r.saved, r.saved_bytes));
  }

  void backward(Exec exec, const backward_request& r) override {
    conv_.backward(exec, ref_of<const T, R>(r.x), ref_of<const W, R>(r.w), ref_of<const T, R>(r.dy),
                   fftconv::const_saved_state(r.saved, r.saved_bytes),
                   {.dx = ref_of<T, R>(r.dx), .dw = ref_of<W, R>(r.dw), .dbias = vector_of<W>(r.dbias)});
  }

 private:
  fftconv::conv<N, T, P, W> conv_;
};

template <int N, class Exec, class T, class W>
std::unique_ptr<layer_base<N, Exec>> make_layer(policy_kind policy, const fftconv::geometry<N>& g) {
  switch (policy) {
    case policy_kind::naive: return std::make_unique<layer<N, T, W, fftconv::naive, Exec>>(g);
    case policy_kind::im2col: return std::make_unique<layer<N, T, W, fftconv::im2col, Exec>>(g);
    case policy_kind::fft: return std::make_unique<layer<N, T, W, fftconv::fft, Exec>>(g);
    case policy_kind::automatic: return std::make_unique<layer<N, T, W, fftconv::automatic, Exec>>(g);
  }
  fftconv::detail::fail("fftconv: unknown policy");
}

// The layer d declares, of its element types and policy: the six pairs torch_ops.cpp's describe admits.
template <int N, class Exec>
std::unique_ptr<layer_base<N, Exec>> make_layer(const layer_desc& d, const fftconv::geometry<N>& g) {
  const bool fp32_weights = d.weight_type == element::f32;
  switch (d.type) {
    case element::f32: return make_layer<N, Exec, float, float>(d.policy, g);
    case element::f64: return make_layer<N, Exec, double, double>(d.policy, g);
    case element::bf16:
      return fp32_weights ? make_layer<N, Exec, fftconv::bf16, float>(d.policy, g)
                          : make_layer<N, Exec, fftconv::bf16, fftconv::bf16>(d.policy, g);
    case element::f16:
      return fp32_weights ? make_layer<N, Exec, fftconv::fp16, float>(d.policy, g)
                          : make_layer<N, Exec, fftconv::fp16, fftconv::fp16>(d.policy, g);
  }
  fftconv::detail::fail("fftconv: unknown element type");
}

// The process's layers, most recently used first. A training step calls forward and backward of each layer
// once, so a short list found by comparison serves, and the bound keeps a process that sees many shapes from
// holding every one's workspace. Process-wide rather than per thread: autograd runs a CUDA backward on its own
// device thread, which would otherwise hold a second copy of each layer's plans and workspace. A layer is not
// for concurrent use, so each entry is locked while a call runs on it; calls on distinct layers run in
// parallel. The cache is never destroyed: layers holding memory from torch's caching allocator must not be
// freed during static destruction, after that allocator may be gone.
template <int N, class Exec>
class layer_cache {
  struct entry {
    fftconv::geometry<N> geometry;
    element type, weight_type;
    policy_kind policy;
    int device_index;
    std::unique_ptr<layer_base<N, Exec>> layer;
    std::mutex in_use;
  };

 public:
  static constexpr std::size_t capacity = 64;

  static layer_cache& instance() {
    static layer_cache* cache = new layer_cache;
    return *cache;
  }

  // Runs f(layer) on the layer declared by d, made on first use, with the layer locked.
  template <class F>
  decltype(auto) with(const layer_desc& d, int device_index, F&& f) {
    std::shared_ptr<entry> e = find(d, device_index);
    std::lock_guard<std::mutex> lock(e->in_use);
    return f(*e->layer);
  }

  // Drops every layer no call is running on.
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(entries_, [](const std::shared_ptr<entry>& e) { return e.use_count() == 1; });
  }

 private:
  std::shared_ptr<entry> find(const layer_desc& d, int device_index) {
    const fftconv::geometry<N> g = geometry_of<N>(d);
    std::lock_guard<std::mutex> lock(mutex_);
    const auto same = [&](const std::shared_ptr<entry>& e) {
      return e->type == d.type && e->weight_type == d.weight_type && e->policy == d.policy &&
             e->device_index == device_index && e->geometry == g;
    };
    auto it = std::find_if(entries_.begin(), entries_.end(), same);
    if (it != entries_.end()) {
      std::rotate(entries_.begin(), it, it + 1);
      return entries_.front();
    }
    auto made = std::make_shared<entry>();
    made->geometry = g, made->type = d.type, made->weight_type = d.weight_type, made->policy = d.policy;
    made->device_index = device_index;
    made->layer = make_layer<N, Exec>(d, g);
    entries_.insert(entries_.begin(), made);
    if (entries_.size() > capacity) {  // the least recently used layer no call is running on
      for (auto last = entries_.end(); last != entries_.begin() + 1; --last)
        if ((last - 1)->use_count() == 1) {
          entries_.erase(last - 1);
          break;
        }
    }
    return made;
  }

  std::mutex mutex_;
  std::vector<std::shared_ptr<entry>> entries_;
};

inline fftconv::host host_of(const placement& where) { return fftconv::host{where.resource}; }

}  // namespace fftconv_torch::detail
