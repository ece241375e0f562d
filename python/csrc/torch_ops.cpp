// The fftconv operators: schemas, CPU and CUDA kernels over torch tensors, and the helpers the Python side
// needs (the saved state's size for fake tensors, a direct call for measuring the operator's overhead).
// Library code is reached only through request.hpp, so this unit parses torch's headers and not fftconv's
// kernels, and the CUDA units never see torch.

#include <torch/extension.h>
#include <ATen/EmptyTensor.h>
#include <ATen/autocast_mode.h>
#include <c10/core/CPUAllocator.h>

#include <cstdint>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fftconv/config.hpp>
#include <fftconv/detail/saved_header.hpp>
#include <fftconv/error.hpp>
#if FFTCONV_HAS_CBLAS
#include FFTCONV_CBLAS_HEADER
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "request.hpp"

#if FFTCONV_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace fftconv_torch {
namespace {

// Host memory for the operators' outputs, saved states and the library's workspace: blocks from c10's CPU
// allocator, kept when released for the next request of the same size (a training step asks for the same
// sizes every step), up to FFTCONV_HOST_CACHE_BYTES (default 2 GiB) in all, least recently released freed
// first. A large block from malloc is a fresh mmap on every call, whose page faults cost milliseconds per call
// on the headline layers (a 32 MiB y: about 6 ms); a kept block is mapped already. fftconv.empty_cache()
// returns the kept blocks. Blocks under 1 MiB are left to malloc, which reuses them itself.
class host_block_cache {
 public:
  static host_block_cache& instance() {
    static host_block_cache* cache = new host_block_cache;  // never destroyed: tensors may outlive main
    return *cache;
  }

  void* take(std::size_t bytes) {
    if (bytes >= smallest_kept) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = kept_.begin(); it != kept_.end(); ++it)
        if (it->bytes == bytes) {
          void* p = it->pointer;
          kept_bytes_ -= bytes;
          kept_.erase(it);
          return p;
        }
    }
    return c10::GetCPUAllocator()->raw_allocate(bytes);
  }

  void give(void* p, std::size_t bytes) noexcept {
    if (p == nullptr) return;
    std::vector<void*> freed;
    if (bytes < smallest_kept || bytes > limit_) {
      freed.push_back(p);
    } else {
      std::lock_guard<std::mutex> lock(mutex_);
      kept_.push_front({p, bytes});
      kept_bytes_ += bytes;
      while (kept_bytes_ > limit_) {
        freed.push_back(kept_.back().pointer);
        kept_bytes_ -= kept_.back().bytes;
        kept_.pop_back();
      }
    }
    for (void* q : freed) c10::GetCPUAllocator()->raw_deallocate(q);
  }

  void clear() noexcept {
    std::list<block> kept;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      kept.swap(kept_);
      kept_bytes_ = 0;
    }
    for (const block& b : kept) c10::GetCPUAllocator()->raw_deallocate(b.pointer);
  }

  std::size_t kept_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return kept_bytes_;
  }

 private:
  static constexpr std::size_t smallest_kept = std::size_t(1) << 20;
  struct block {
    void* pointer;
    std::size_t bytes;
  };
  host_block_cache() {
    if (const char* limit = std::getenv("FFTCONV_HOST_CACHE_BYTES")) limit_ = std::strtoull(limit, nullptr, 10);
  }
  std::mutex mutex_;
  std::list<block> kept_;  // most recently released first
  std::size_t kept_bytes_ = 0;
  std::size_t limit_ = std::size_t(2) << 30;
};

// The library's host workspace, through the cache (64-byte aligned, as fftconv asks on the host; c10's
// allocator aligns so); a larger alignment, which fftconv does not ask for, from aligned operator new.
class cpu_resource final : public fftconv::memory_resource {
 public:
  // Null when the memory is not there, so that fftconv raises its out_of_memory (which automatic answers by
  // skipping the candidate); c10's allocator throws c10::Error instead.
  void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st*) override {
    if (alignment > c10::gAlignment) return ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
    try {
      return host_block_cache::instance().take(bytes);
    } catch (const c10::Error&) {
      return nullptr;
    }
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment, CUstream_st*) noexcept override {
    if (alignment > c10::gAlignment)
      ::operator delete(p, std::align_val_t(alignment));
    else
      host_block_cache::instance().give(p, bytes);
  }
};

// The operators' host tensors (y, saved, dx, dw), through the same cache.
class cpu_tensor_allocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t bytes) override {
    void* p = bytes == 0 ? nullptr : host_block_cache::instance().take(bytes);
    return {p, new block{p, bytes}, &release, c10::Device(c10::kCPU)};
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

 private:
  struct block {
    void* pointer;
    std::size_t bytes;
  };
  static void release(void* context) {
    const std::unique_ptr<block> b(static_cast<block*>(context));
    host_block_cache::instance().give(b->pointer, b->bytes);
  }
};

#if FFTCONV_TORCH_CUDA
// Device workspace from torch's caching allocator, ordered on the stream fftconv names (512-byte aligned).
class cuda_resource final : public fftconv::memory_resource {
 public:
  // Null when the caching allocator is out of memory (it throws c10::OutOfMemoryError), as for the host.
  void* allocate(std::size_t bytes, std::size_t, CUstream_st* stream) override {
    try {
      return c10::cuda::CUDACachingAllocator::raw_alloc_with_stream(bytes, stream);
    } catch (const c10::OutOfMemoryError&) {
      return nullptr;
    }
  }
  void deallocate(void* p, std::size_t, std::size_t, CUstream_st*) noexcept override {
    c10::cuda::CUDACachingAllocator::raw_delete(p);
  }
};
#endif

policy_kind parse_policy(const std::string& name) {
  if (name == "fft") return policy_kind::fft;
  if (name == "im2col") return policy_kind::im2col;
  if (name == "naive") return policy_kind::naive;
  if (name == "auto") return policy_kind::automatic;
  // The extension is built with FFTCONV_HAS_ONEDNN=0 and FFTCONV_HAS_CUDNN=0 (python/CMakeLists.txt says why).
  TORCH_CHECK_VALUE(name != "vendor",
                    "fftconv: policy \"vendor\" is not in the PyTorch package: the extension is built without oneDNN "
                    "and cuDNN because torch already carries its own oneDNN 3.x (inside libtorch_cpu.so) and cuDNN "
                    "(the nvidia-cudnn wheel), whose exported symbols share names with the system's oneDNN 2.x and "
                    "cuDNN; use torch.nn.Conv1d/2d/3d for the vendor's convolution, or policy \"auto\"");
  TORCH_CHECK_VALUE(false, "fftconv: policy must be \"fft\", \"im2col\", \"naive\" or \"auto\", got \"", name, "\"");
}

// The storage types the library takes, as torch names them; nullopt for any other.
std::optional<element> element_of(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return element::f32;
    case at::kDouble: return element::f64;
    case at::kBFloat16: return element::bf16;
    case at::kHalf: return element::f16;
    default: return std::nullopt;
  }
}

bool is_16bit(at::ScalarType type) { return type == at::kBFloat16 || type == at::kHalf; }

// The declared layer: the spatial rank from the settings, channels from x and weight, each setting checked.
struct declared {
  at::IntArrayRef stride, padding_low, padding_high, dilation;
  int64_t groups;
  std::string policy;
};

layer_desc describe(const char* op, const at::Tensor& x, const at::Tensor& weight, const declared& s) {
  const int64_t rank = static_cast<int64_t>(s.stride.size());
  TORCH_CHECK_VALUE(rank >= 1 && rank <= 3, op, ": stride must have 1, 2 or 3 entries (the spatial rank), got ",
                    rank);
  const std::pair<const char*, at::IntArrayRef> lists[] = {
      {"padding_low", s.padding_low}, {"padding_high", s.padding_high}, {"dilation", s.dilation}};
  for (const auto& [name, list] : lists)
    TORCH_CHECK_VALUE(static_cast<int64_t>(list.size()) == rank, op, ": ", name, " has ", list.size(),
                      " entries, stride has ", rank);
  TORCH_CHECK_VALUE(x.dim() == rank + 2, op, ": x must have ", rank + 2, " dims (batch, channels, ", rank,
                    " spatial) for a ", rank, "-d convolution, got shape ", x.sizes());
  TORCH_CHECK_VALUE(weight.dim() == rank + 2, op, ": weight must have ", rank + 2,
                    " dims (out_channels, in_channels / groups, kernel...), got shape ", weight.sizes());
  const std::optional<element> type = element_of(x.scalar_type());
  TORCH_CHECK_TYPE(type.has_value(), op, ": x must be float32, float64, bfloat16 or float16, got ", x.scalar_type());
  // fp32 master weights beside 16-bit activations (what autocast leaves a model's parameters as) are taken
  // as they are; any other mix would round one operand to the other's precision silently.
  const bool fp32_weights = is_16bit(x.scalar_type()) && weight.scalar_type() == at::kFloat;
  TORCH_CHECK_TYPE(weight.scalar_type() == x.scalar_type() || fp32_weights, op, ": weight is ", weight.scalar_type(),
                   ", x is ", x.scalar_type(), "; weight must be x's dtype, or float32 beside bfloat16 or float16 x");
  TORCH_CHECK(weight.device() == x.device(), op, ": weight is on ", weight.device(), ", x on ", x.device());
  TORCH_CHECK_VALUE(s.groups >= 1, op, ": groups must be >= 1, got ", s.groups);

  layer_desc d;
  d.rank = static_cast<int>(rank);
  d.type = *type;
  d.weight_type = *element_of(weight.scalar_type());
  d.policy = parse_policy(s.policy);
  d.in_channels = x.size(1);
  d.out_channels = weight.size(0);
  d.groups = s.groups;
  for (int64_t i = 0; i < rank; ++i) {
    d.kernel[i] = weight.size(i + 2);
    d.stride[i] = s.stride[i];
    d.padding_low[i] = s.padding_low[i];
    d.padding_high[i] = s.padding_high[i];
    d.dilation[i] = s.dilation[i];
  }
  return d;
}

// t (bias beside weight, grad_output beside x) must have `of`'s dtype and x's device.
void check_companion(const char* op, const char* name, const at::Tensor& t, const char* of_name,
                     const at::Tensor& of, const at::Tensor& x) {
  TORCH_CHECK_TYPE(t.scalar_type() == of.scalar_type(), op, ": ", name, " is ", t.scalar_type(), ", ", of_name, " is ",
                   of.scalar_type(), "; they must match");
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " is on ", t.device(), ", x on ", x.device());
}

tensor_desc desc_of(const at::Tensor& t) {
  tensor_desc d;
  if (!t.defined()) return d;
  d.data = t.data_ptr();
  d.dims = static_cast<int>(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) d.sizes[i] = t.size(i), d.strides[i] = t.stride(i);
  return d;
}

// Stride-0 (expanded) inputs are copied: the library's kernels take any strides, but a GEMM operand or a
// staged map read through a zero stride gains nothing over a dense copy, and a copy keeps every policy's
// fast path. Other strides (channels-last, slices, odd strides) are passed through.
at::Tensor readable(const at::Tensor& t) {
  if (!t.defined()) return t;
  for (int64_t i = 0; i < t.dim(); ++i)
    if (t.stride(i) == 0 && t.size(i) > 1) return t.contiguous();
  return t;
}

// A new tensor on `like`'s device: on the host from the block cache, on the GPU from torch's caching allocator.
at::Tensor empty_on(const at::Tensor& like, at::IntArrayRef sizes, at::ScalarType type,
                    at::MemoryFormat format = at::MemoryFormat::Contiguous) {
  if (like.is_cuda()) return at::empty(sizes, like.options().dtype(type).memory_format(format));
  static cpu_tensor_allocator allocator;
  return at::Tensor(at::detail::empty_generic(sizes, &allocator, c10::DispatchKeySet(c10::DispatchKey::CPU), type, format));
}

std::vector<int64_t> output_sizes(const layer_desc& d, const at::Tensor& x) {
  std::vector<int64_t> sizes{x.size(0), d.out_channels};
  for (int i = 0; i < d.rank; ++i) {
    const int64_t span = x.size(i + 2) + d.padding_low[i] + d.padding_high[i] - d.dilation[i] * (d.kernel[i] - 1) - 1;
    TORCH_CHECK_VALUE(d.stride[i] >= 1 && span >= 0, "fftconv: x's spatial extent ", x.size(i + 2), " in dim ", i,
                      " is too small for the kernel's span ", d.dilation[i] * (d.kernel[i] - 1) + 1,
                      " with padding ", d.padding_low[i], " + ", d.padding_high[i], " (or stride < 1)");
    sizes.push_back(span / d.stride[i] + 1);
  }
  return sizes;
}

// fftconv's errors become the Python exceptions torch users expect: bad arguments ValueError, memory
// torch.OutOfMemoryError, library failures RuntimeError, each with fftconv's message.
template <class F>
decltype(auto) translating(F&& f) {
  try {
    return f();
  } catch (const fftconv::invalid_argument& e) {
    TORCH_CHECK_VALUE(false, e.what());
  } catch (const fftconv::out_of_memory& e) {
    TORCH_CHECK_WITH(OutOfMemoryError, false, e.what());
  }
}

struct execution {
  placement where;
#if FFTCONV_TORCH_CUDA
  std::optional<c10::cuda::CUDAGuard> guard;
#endif
};

cpu_resource& cpu_memory() {
  static cpu_resource resource;
  return resource;
}

void place(execution& e, const at::Tensor& x) {
  if (!x.is_cuda()) {
    e.where.resource = &cpu_memory();
    return;
  }
#if FFTCONV_TORCH_CUDA
  static cuda_resource resource;
  e.guard.emplace(x.device());
  e.where.on_device = true;
  e.where.device_index = x.get_device();
  e.where.stream = at::cuda::getCurrentCUDAStream(x.get_device()).stream();
  e.where.resource = &resource;
#else
  TORCH_CHECK(false, "fftconv: this build has no CUDA kernels (built without nvcc or against a CPU-only torch); "
                     "x is on ", x.device());
#endif
}

// Bytes of the state forward saves for x of these sizes; an empty batch, which the library does not take,
// saves a blank header (what the fake kernel states for it too).
std::size_t state_bytes(const layer_desc& d, at::IntArrayRef x_sizes, bool keep_spectra, bool on_device) {
  if (x_sizes[0] == 0) return fftconv::detail::saved_header_bytes;
  return translating([&] { return saved_bytes(d, x_sizes.data(), keep_spectra, on_device); });
}

std::tuple<at::Tensor, at::Tensor> conv_forward(const at::Tensor& x_in, const at::Tensor& weight_in,
                                                const std::optional<at::Tensor>& bias_in, at::IntArrayRef stride,
                                                at::IntArrayRef padding_low, at::IntArrayRef padding_high,
                                                at::IntArrayRef dilation, int64_t groups, c10::string_view policy,
                                                bool keep_spectra) {
  constexpr const char* op = "fftconv.conv_forward";
  const layer_desc d =
      describe(op, x_in, weight_in, {stride, padding_low, padding_high, dilation, groups, std::string(policy)});
  const at::Tensor x = readable(x_in), weight = readable(weight_in);
  at::Tensor bias = bias_in.has_value() ? readable(*bias_in) : at::Tensor();
  if (bias.defined()) check_companion(op, "bias", bias, "weight", weight, x);
  execution e;
  place(e, x);
  at::Tensor y = empty_on(x, output_sizes(d, x), x.scalar_type(), x.suggest_memory_format());
  const std::size_t bytes = state_bytes(d, x.sizes(), keep_spectra, x.is_cuda());
  at::Tensor saved = empty_on(x, {static_cast<int64_t>(bytes)}, at::kByte);
  if (x.size(0) == 0) return {y, saved.zero_()};  // an empty batch, as torch allows
  // automatic's state is sized for the FFT policy's spectra; a candidate that saves less leaves the rest as the
  // buffer held it, and an op's outputs must be a function of its inputs (opcheck, traced graphs).
  if (d.policy == policy_kind::automatic) saved.zero_();
  forward_request r{.x = desc_of(x), .w = desc_of(weight), .bias = desc_of(bias), .y = desc_of(y),
                    .saved = static_cast<std::byte*>(saved.data_ptr()), .saved_bytes = bytes,
                    .keep_spectra = keep_spectra};
  translating([&] { forward(d, e.where, r); });
  return {y, saved};
}

// The saved state must be aligned as forward's allocation was (64 bytes on the host, 256 on the device); a
// state that reached here as an offset view (a graph partitioner's packing, a user's slice) is copied.
at::Tensor aligned_state(const at::Tensor& saved) {
  const std::uintptr_t alignment =
      saved.is_cuda() ? fftconv::detail::saved_alignment_device : fftconv::detail::saved_alignment_host;
  if (reinterpret_cast<std::uintptr_t>(saved.data_ptr()) % alignment == 0 && saved.is_contiguous()) return saved;
  return saved.clone(at::MemoryFormat::Contiguous);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv_backward(
    const at::Tensor& dy_in, const at::Tensor& x_in, const at::Tensor& weight_in, const at::Tensor& saved_in,
    at::IntArrayRef stride, at::IntArrayRef padding_low, at::IntArrayRef padding_high, at::IntArrayRef dilation,
    int64_t groups, c10::string_view policy, std::array<bool, 3> output_mask) {
  constexpr const char* op = "fftconv.conv_backward";
  const layer_desc d =
      describe(op, x_in, weight_in, {stride, padding_low, padding_high, dilation, groups, std::string(policy)});
  check_companion(op, "grad_output", dy_in, "x", x_in, x_in);
  TORCH_CHECK_TYPE(saved_in.scalar_type() == at::kByte, op, ": saved must be the uint8 state conv_forward returned, got ",
                   saved_in.scalar_type());
  TORCH_CHECK(saved_in.device() == x_in.device(), op, ": saved is on ", saved_in.device(), ", x on ", x_in.device());
  TORCH_CHECK_VALUE(saved_in.dim() == 1, op, ": saved must be 1-d, got shape ", saved_in.sizes());
  const at::Tensor x = readable(x_in), weight = readable(weight_in), dy = readable(dy_in);
  const at::Tensor saved = aligned_state(saved_in);
  execution e;
  place(e, x);
  at::Tensor dx, dw, db;
  if (output_mask[0]) dx = empty_on(x, x.sizes(), x.scalar_type(), x.suggest_memory_format());
  if (output_mask[1]) dw = empty_on(x, weight.sizes(), weight.scalar_type(), weight.suggest_memory_format());
  if (output_mask[2]) db = empty_on(x, {d.out_channels}, weight.scalar_type());
  if (x.size(0) == 0) {  // an empty batch: no gradient flows to the weights
    if (dw.defined()) dw.zero_();
    if (db.defined()) db.zero_();
    return {dx, dw, db};
  }
  const backward_request r{.x = desc_of(x), .w = desc_of(weight), .dy = desc_of(dy), .dx = desc_of(dx),
                           .dw = desc_of(dw), .dbias = desc_of(db),
                           .saved = static_cast<const std::byte*>(saved.data_ptr()),
                           .saved_bytes = static_cast<std::size_t>(saved.numel())};
  if (output_mask[0] || output_mask[1] || output_mask[2]) translating([&] { backward(d, e.where, r); });
  return {dx, dw, db};
}

// Under torch.autocast the operator runs in the autocast dtype, as torch's convolutions do: x (and 16-bit
// weights) are cast to it, while float32 weights and bias stay float32, which the library takes beside 16-bit
// activations (so dw arrives in float32, with no cast of the weights each step). Casts follow autocast's own
// rules (float64 and other devices' tensors are left alone, a leaf weight's cast is cached for the region).
// The call then goes on through the dispatcher with autocast excluded, so that autograd records the casts and
// the operator as usual and each gradient returns in its input's dtype.
template <c10::DispatchKey AutocastKey, c10::DeviceType Device>
std::tuple<at::Tensor, at::Tensor> conv_forward_autocast(const at::Tensor& x, const at::Tensor& weight,
                                                         const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                                         at::IntArrayRef padding_low, at::IntArrayRef padding_high,
                                                         at::IntArrayRef dilation, int64_t groups,
                                                         c10::string_view policy, bool keep_spectra) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(AutocastKey);
  const at::ScalarType low = at::autocast::get_autocast_dtype(Device);
  const at::Tensor x_low = at::autocast::cached_cast(low, x, Device);
  const bool fp32_weights = is_16bit(x_low.scalar_type()) && weight.scalar_type() == at::kFloat;
  const at::ScalarType weight_type = fp32_weights ? at::kFloat : low;
  const at::Tensor w = fp32_weights ? weight : at::autocast::cached_cast(low, weight, Device);
  std::optional<at::Tensor> b = at::autocast::cached_cast(weight_type, bias, Device);
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("fftconv::conv_forward", "")
                             .typed<decltype(conv_forward)>();
  return op.call(x_low, w, b, stride, padding_low, padding_high, dilation, groups, policy, keep_spectra);
}

// For the fake (meta) kernels: the saved state's bytes for these shapes and settings.
int64_t saved_state_bytes(const std::vector<int64_t>& x_sizes, const std::vector<int64_t>& weight_sizes,
                          at::ScalarType dtype, at::ScalarType weight_dtype, std::vector<int64_t> stride,
                          std::vector<int64_t> padding_low, std::vector<int64_t> padding_high,
                          std::vector<int64_t> dilation, int64_t groups, const std::string& policy, bool keep_spectra,
                          bool on_device) {
  const auto meta = at::TensorOptions().device(at::kMeta);
  const at::Tensor x = at::empty(x_sizes, meta.dtype(dtype)), w = at::empty(weight_sizes, meta.dtype(weight_dtype));
  const layer_desc d =
      describe("fftconv.conv_forward", x, w, {stride, padding_low, padding_high, dilation, groups, policy});
  output_sizes(d, x);
  return static_cast<int64_t>(state_bytes(d, x_sizes, keep_spectra, on_device));
}

// Seconds for `repeats` forwards of the same layer called directly from C++ into preallocated y and saved:
// the baseline against which the operator's per-call overhead is measured (host only).
double direct_forward(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                      at::Tensor& y, at::Tensor& saved, std::vector<int64_t> stride, std::vector<int64_t> padding_low,
                      std::vector<int64_t> padding_high, std::vector<int64_t> dilation, int64_t groups,
                      const std::string& policy, bool keep_spectra, int repeats) {
  const layer_desc d = describe("fftconv.direct_forward", x, weight,
                                {stride, padding_low, padding_high, dilation, groups, policy});
  TORCH_CHECK(!x.is_cuda(), "fftconv.direct_forward: host tensors only");
  const forward_request r{.x = desc_of(x), .w = desc_of(weight), .bias = desc_of(bias.value_or(at::Tensor())),
                          .y = desc_of(y), .saved = static_cast<std::byte*>(saved.data_ptr()),
                          .saved_bytes = static_cast<std::size_t>(saved.numel()), .keep_spectra = keep_spectra};
  return translating([&] { return direct_forward_seconds(d, r, repeats); });
}

}  // namespace

// Calls f(std::integral_constant<int, N>) for the layer's spatial rank N (1, 2 or 3: describe checked it).
template <class F>
decltype(auto) by_rank(int rank, F&& f) {
  switch (rank) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    default: return f(std::integral_constant<int, 3>{});
  }
}

std::size_t saved_bytes(const layer_desc& d, const std::int64_t* x_sizes, bool keep_spectra, bool on_device) {
  return by_rank(d.rank, [&](auto n) { return host_saved_bytes<n>(d, x_sizes, keep_spectra, on_device); });
}

void forward(const layer_desc& d, const placement& where, const forward_request& r) {
  by_rank(d.rank, [&](auto n) {
#if FFTCONV_TORCH_CUDA
    if (where.on_device) return device_forward<n>(d, where, r);
#endif
    host_forward<n>(d, where, r);
  });
}

void backward(const layer_desc& d, const placement& where, const backward_request& r) {
  by_rank(d.rank, [&](auto n) {
#if FFTCONV_TORCH_CUDA
    if (where.on_device) return device_backward<n>(d, where, r);
#endif
    host_backward<n>(d, where, r);
  });
}

double direct_forward_seconds(const layer_desc& d, const forward_request& r, int repeats) {
  return by_rank(d.rank, [&](auto n) { return host_direct_forward_seconds<n>(d, r, repeats); });
}

void empty_cache() {
  release_layers();
  host_block_cache::instance().clear();
}

void release_layers() {
  release_host_layers_of_rank<1>(), release_host_layers_of_rank<2>(), release_host_layers_of_rank<3>();
#if FFTCONV_TORCH_CUDA
  release_device_layers_of_rank<1>(), release_device_layers_of_rank<2>(), release_device_layers_of_rank<3>();
#endif
}

}  // namespace fftconv_torch

TORCH_LIBRARY(fftconv, m) {
  m.def(
      "conv_forward(Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding_low, int[] padding_high, "
      "int[] dilation, int groups, str policy, bool keep_spectra) -> (Tensor, Tensor)");
  m.def(
      "conv_backward(Tensor grad_output, Tensor x, Tensor weight, Tensor saved, int[] stride, int[] padding_low, "
      "int[] padding_high, int[] dilation, int groups, str policy, bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(fftconv, CPU, m) {
  m.impl("conv_forward", &fftconv_torch::conv_forward);
  m.impl("conv_backward", &fftconv_torch::conv_backward);
}

TORCH_LIBRARY_IMPL(fftconv, CUDA, m) {
  m.impl("conv_forward", &fftconv_torch::conv_forward);
  m.impl("conv_backward", &fftconv_torch::conv_backward);
}

TORCH_LIBRARY_IMPL(fftconv, AutocastCPU, m) {
  m.impl("conv_forward", &fftconv_torch::conv_forward_autocast<c10::DispatchKey::AutocastCPU, c10::DeviceType::CPU>);
}

TORCH_LIBRARY_IMPL(fftconv, AutocastCUDA, m) {
  m.impl("conv_forward", &fftconv_torch::conv_forward_autocast<c10::DispatchKey::AutocastCUDA, c10::DeviceType::CUDA>);
}

namespace {
// One thread pool. The extension's OpenMP loops run on torch's own libgomp (the same soname, loaded first), so
// torch.set_num_threads governs them; Debian's OpenBLAS (pthreads build) would start a second pool that
// competes with it for the cores. The library calls its GEMMs from inside its OpenMP loops, so OpenBLAS is held
// to one thread, as examples/train_lenet.cpp does. An OpenMP build of OpenBLAS shares the pool already.
void one_thread_pool() {
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION)
  constexpr int openblas_pthreads = 1;  // openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP
  if (openblas_get_parallel() == openblas_pthreads) openblas_set_num_threads(1);
#endif
}

// What the library's host loops and GEMMs will use from this thread: OpenMP's thread count (torch's runtime,
// so torch.set_num_threads changes it) and OpenBLAS's own.
pybind11::dict thread_counts() {
  pybind11::dict counts;
#if defined(_OPENMP)
  counts["openmp"] = omp_get_max_threads();
#endif
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION)
  counts["openblas"] = openblas_get_num_threads();
#endif
  return counts;
}
}  // namespace

PYBIND11_MODULE(_C, m) {
  one_thread_pool();
  m.doc() = "fftconv's compiled operators (registered as torch.ops.fftconv) and their helpers";
  m.def("saved_state_bytes", &fftconv_torch::saved_state_bytes);
  m.def("direct_forward", &fftconv_torch::direct_forward);
  m.def("release_layers", &fftconv_torch::release_layers, pybind11::call_guard<pybind11::gil_scoped_release>(),
        "Frees the process's cached layers (those no call is running on): their plans and workspace.");
  m.def("thread_counts", &thread_counts);
  m.attr("saved_header_bytes") = fftconv::detail::saved_header_bytes;
  m.def("empty_cache", &fftconv_torch::empty_cache, pybind11::call_guard<pybind11::gil_scoped_release>(),
        "Frees the cached layers no call is running on and the host blocks kept for reuse.");
  m.def("host_cache_bytes", [] { return fftconv_torch::host_block_cache::instance().kept_bytes(); },
        "Bytes of host memory kept for reuse (FFTCONV_HOST_CACHE_BYTES bounds them).");
  m.attr("has_cuda") = bool(FFTCONV_TORCH_CUDA);
}
