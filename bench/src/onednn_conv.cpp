// oneDNN 2.x convolution primitives behind onednn_conv (see onednn_conv.hpp for what is timed and why).

#include "onednn_conv.hpp"

#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_debug.h>  // dnnl_fmt_kind2str

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <vector>

#if DNNL_VERSION_MAJOR != 2
#error "the bench's oneDNN baseline is written against the oneDNN 2.x API (convolution_forward::desc)"
#endif

namespace bench {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

memory::dims spatial(const std::array<std::int64_t, 3>& values, int dims, std::int64_t minus = 0) {
  memory::dims result;
  for (int d = 0; d < dims; ++d) result.push_back(values[d] - minus);
  return result;
}

tag plain_activations(int dims) { return dims == 1 ? tag::ncw : dims == 2 ? tag::nchw : tag::ncdhw; }
tag plain_weights(int dims, bool grouped) {
  if (grouped) return dims == 1 ? tag::goiw : dims == 2 ? tag::goihw : tag::goidhw;
  return dims == 1 ? tag::oiw : dims == 2 ? tag::oihw : tag::oidhw;
}

// oneDNN's layout naming: dims in memory order, outermost first (a = N or O, b = C or I, ...), a capital for a
// blocked dim, then the inner blocks, e.g. "aBcd16b" (nChw16c). Winograd and other opaque formats by kind.
std::string layout_name(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return dnnl_fmt_kind2str(d.format_kind);
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  std::vector<int> order(static_cast<std::size_t>(d.ndims));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return b.strides[i] > b.strides[j]; });
  std::string name;
  for (int i : order) {
    const bool blocked = std::find(b.inner_idxs, b.inner_idxs + b.inner_nblks, i) != b.inner_idxs + b.inner_nblks;
    name += char((blocked ? 'A' : 'a') + i);
  }
  for (int k = 0; k < b.inner_nblks; ++k) name += std::to_string(b.inner_blks[k]) + char('a' + b.inner_idxs[k]);
  return name;
}

// One tensor argument of a primitive: the caller's plain memory, bound to the caller's pointer at each call, and,
// where the primitive chose another layout, its own buffer with the reorder between the two.
class operand {
 public:
  operand() = default;
  operand(const dnnl::engine& engine, const memory::desc& plain, const memory::desc& chosen, bool into_primitive)
      : plain_(plain, engine, DNNL_MEMORY_NONE), into_primitive_(into_primitive) {
    if (chosen != plain) {
      own_ = memory(chosen, engine);
      reorder_ = into_primitive ? dnnl::reorder(plain_, *own_) : dnnl::reorder(*own_, plain_);
    }
  }
  // The memory the primitive reads or writes.
  const memory& argument() const { return own_ ? *own_ : plain_; }
  void bind(const void* data) { plain_.set_data_handle(const_cast<void*>(data)); }
  // Input operands: before the primitive; output operands: after it.
  void reorder(dnnl::stream& stream) {
    if (!own_) return;
    if (into_primitive_)
      reorder_.execute(stream, plain_, *own_);
    else
      reorder_.execute(stream, *own_, plain_);
  }
  std::size_t own_bytes() const { return own_ ? own_->get_desc().get_size() : 0; }
  std::string layout() const { return layout_name(argument().get_desc()); }

 private:
  memory plain_;
  std::optional<memory> own_;
  dnnl::reorder reorder_;
  bool into_primitive_ = true;
};

// 64-byte aligned bytes for the scratchpads (one area shared by the primitives, which never run at once).
struct aligned_bytes {
  struct release {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, release> data;
  std::size_t size = 0;
  explicit aligned_bytes(std::size_t bytes) : size(bytes) {
    if (bytes == 0) return;
    data.reset(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!data) throw std::bad_alloc();
  }
};

}  // namespace

struct onednn_conv::state {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::int64_t out_channels = 0;

  dnnl::convolution_forward forward;
  operand forward_x, forward_w, forward_y;
  memory forward_bias;
  std::vector<float> zero_bias;  // forward(…, bias = null): zero bits, wide enough for f32 or bf16
  std::string forward_implementation;

  std::optional<dnnl::convolution_backward_data> backward_data;
  operand backward_data_dy, backward_data_w, backward_data_dx;
  std::string backward_data_implementation;

  std::optional<dnnl::convolution_backward_weights> backward_filter;
  operand backward_filter_x, backward_filter_dy, backward_filter_dw;
  memory backward_filter_db;
  std::vector<float> discarded_bias_gradient;  // backward_filter(…, dbias = null)
  std::string backward_filter_implementation;

  std::optional<aligned_bytes> scratchpad_area;
  memory forward_scratchpad, backward_data_scratchpad, backward_filter_scratchpad;
};

onednn_conv::onednn_conv(const baseline_shape& s, onednn_passes passes, onednn_data data)
    : state_(std::make_unique<state>()) {
  try {
    build(s, passes, data);
  } catch (const dnnl::error& e) {
    // oneDNN 2.6 implements bf16 convolutions on AVX-512 only: natively with AVX512-BF16, emulated on plain
    // avx512_core; below that no primitive exists, which is this machine's limit, not a failure.
    if (data == onednn_data::bf16 && e.status == dnnl_unimplemented)
      throw baseline_unsupported("oneDNN " + onednn_version() + " has no bf16 convolution for ISA " + onednn_cpu_isa() +
                                 " (it needs AVX-512; native with AVX512-BF16): " + e.what());
    throw;
  }
}

void onednn_conv::build(const baseline_shape& s, onednn_passes passes, onednn_data data) {
  if ((passes.backward_data || passes.backward_filter) && !passes.training)
    throw std::invalid_argument("onednn_conv: backward passes need the forward_training primitive");
  state& st = *state_;
  st.out_channels = s.out_channels;
  const int n = s.dims;
  const bool grouped = s.groups > 1;
  const auto type = data == onednn_data::bf16 ? memory::data_type::bf16 : memory::data_type::f32;  // every tensor

  memory::dims x_dims{s.batch, s.in_channels}, y_dims{s.batch, s.out_channels}, w_dims;
  if (grouped) w_dims = {s.groups, s.out_channels / s.groups, s.in_channels / s.groups};
  else w_dims = {s.out_channels, s.in_channels};
  for (int d = 0; d < n; ++d) {
    x_dims.push_back(s.input[d]);
    y_dims.push_back(s.output[d]);
    w_dims.push_back(s.kernel[d]);
  }
  const memory::desc x_plain(x_dims, type, plain_activations(n)), y_plain(y_dims, type, plain_activations(n)),
      w_plain(w_dims, type, plain_weights(n, grouped)), bias_plain({s.out_channels}, type, tag::x);
  const memory::desc x_any(x_dims, type, tag::any), y_any(y_dims, type, tag::any), w_any(w_dims, type, tag::any);
  const memory::dims strides = spatial(s.stride, n), dilates = spatial(s.dilation, n, 1),  // oneDNN: d - 1
      padding_l = spatial(s.padding_low, n), padding_r = spatial(s.padding_high, n);
  const auto algorithm = dnnl::algorithm::convolution_auto;

  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // its bytes count in workspace_bytes()

  auto describe = [](const dnnl::primitive_desc& pd, std::initializer_list<std::pair<const char*, const operand*>> args) {
    std::string text = pd.impl_info_str();
    for (const auto& [name, arg] : args) text += std::string(" ") + name + " " + arg->layout();
    return text;
  };

  const dnnl::convolution_forward::desc forward_desc(
      passes.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, algorithm, x_any,
      w_any, bias_plain, y_any, strides, dilates, padding_l, padding_r);
  const dnnl::convolution_forward::primitive_desc forward_pd(forward_desc, attributes, st.engine);
  st.forward = dnnl::convolution_forward(forward_pd);
  st.forward_x = operand(st.engine, x_plain, forward_pd.src_desc(), true);
  st.forward_w = operand(st.engine, w_plain, forward_pd.weights_desc(), true);
  st.forward_y = operand(st.engine, y_plain, forward_pd.dst_desc(), false);
  st.forward_bias = memory(bias_plain, st.engine, DNNL_MEMORY_NONE);
  st.zero_bias.assign(static_cast<std::size_t>(s.out_channels), 0.0f);
  st.forward_implementation =
      describe(forward_pd, {{"src", &st.forward_x}, {"weights", &st.forward_w}, {"dst", &st.forward_y}});
  std::size_t scratchpad = forward_pd.scratchpad_desc().get_size();

  std::optional<dnnl::convolution_backward_data::primitive_desc> backward_data_pd;
  if (passes.backward_data) {
    const dnnl::convolution_backward_data::desc desc(algorithm, x_any, w_any, y_any, strides, dilates, padding_l,
                                                     padding_r);
    backward_data_pd.emplace(desc, attributes, st.engine, forward_pd);
    st.backward_data.emplace(*backward_data_pd);
    st.backward_data_dy = operand(st.engine, y_plain, backward_data_pd->diff_dst_desc(), true);
    st.backward_data_w = operand(st.engine, w_plain, backward_data_pd->weights_desc(), true);
    st.backward_data_dx = operand(st.engine, x_plain, backward_data_pd->diff_src_desc(), false);
    st.backward_data_implementation = describe(
        *backward_data_pd,
        {{"diff_dst", &st.backward_data_dy}, {"weights", &st.backward_data_w}, {"diff_src", &st.backward_data_dx}});
    scratchpad = std::max(scratchpad, backward_data_pd->scratchpad_desc().get_size());
  }
  std::optional<dnnl::convolution_backward_weights::primitive_desc> backward_filter_pd;
  if (passes.backward_filter) {
    const dnnl::convolution_backward_weights::desc desc(algorithm, x_any, w_any, bias_plain, y_any, strides, dilates,
                                                        padding_l, padding_r);
    backward_filter_pd.emplace(desc, attributes, st.engine, forward_pd);
    st.backward_filter.emplace(*backward_filter_pd);
    st.backward_filter_x = operand(st.engine, x_plain, backward_filter_pd->src_desc(), true);
    st.backward_filter_dy = operand(st.engine, y_plain, backward_filter_pd->diff_dst_desc(), true);
    st.backward_filter_dw = operand(st.engine, w_plain, backward_filter_pd->diff_weights_desc(), false);
    st.backward_filter_db = memory(bias_plain, st.engine, DNNL_MEMORY_NONE);
    st.discarded_bias_gradient.assign(static_cast<std::size_t>(s.out_channels), 0.0f);
    st.backward_filter_implementation = describe(*backward_filter_pd, {{"src", &st.backward_filter_x},
                                                                       {"diff_dst", &st.backward_filter_dy},
                                                                       {"diff_weights", &st.backward_filter_dw}});
    scratchpad = std::max(scratchpad, backward_filter_pd->scratchpad_desc().get_size());
  }

  st.scratchpad_area.emplace(scratchpad);
  void* area = st.scratchpad_area->data.get();
  st.forward_scratchpad = memory(forward_pd.scratchpad_desc(), st.engine, area);
  if (backward_data_pd) st.backward_data_scratchpad = memory(backward_data_pd->scratchpad_desc(), st.engine, area);
  if (backward_filter_pd)
    st.backward_filter_scratchpad = memory(backward_filter_pd->scratchpad_desc(), st.engine, area);
}

onednn_conv::~onednn_conv() = default;

void onednn_conv::forward(const void* x, const void* w, const void* bias, void* y) {
  state& st = *state_;
  st.forward_x.bind(x);
  st.forward_w.bind(w);
  st.forward_y.bind(y);
  st.forward_bias.set_data_handle(const_cast<void*>(bias != nullptr ? bias : st.zero_bias.data()));
  st.forward_x.reorder(st.stream);
  st.forward_w.reorder(st.stream);
  st.forward.execute(st.stream, {{DNNL_ARG_SRC, st.forward_x.argument()},
                                 {DNNL_ARG_WEIGHTS, st.forward_w.argument()},
                                 {DNNL_ARG_BIAS, st.forward_bias},
                                 {DNNL_ARG_DST, st.forward_y.argument()},
                                 {DNNL_ARG_SCRATCHPAD, st.forward_scratchpad}});
  st.forward_y.reorder(st.stream);
  st.stream.wait();
}

void onednn_conv::backward_data(const void* dy, const void* w, void* dx) {
  state& st = *state_;
  if (!st.backward_data) throw std::logic_error("onednn_conv: built without the backward data primitive");
  st.backward_data_dy.bind(dy);
  st.backward_data_w.bind(w);
  st.backward_data_dx.bind(dx);
  st.backward_data_dy.reorder(st.stream);
  st.backward_data_w.reorder(st.stream);
  st.backward_data->execute(st.stream, {{DNNL_ARG_DIFF_DST, st.backward_data_dy.argument()},
                                        {DNNL_ARG_WEIGHTS, st.backward_data_w.argument()},
                                        {DNNL_ARG_DIFF_SRC, st.backward_data_dx.argument()},
                                        {DNNL_ARG_SCRATCHPAD, st.backward_data_scratchpad}});
  st.backward_data_dx.reorder(st.stream);
  st.stream.wait();
}

void onednn_conv::backward_filter(const void* x, const void* dy, void* dw, void* dbias) {
  state& st = *state_;
  if (!st.backward_filter) throw std::logic_error("onednn_conv: built without the backward weights primitive");
  st.backward_filter_x.bind(x);
  st.backward_filter_dy.bind(dy);
  st.backward_filter_dw.bind(dw);
  st.backward_filter_db.set_data_handle(dbias != nullptr ? dbias : static_cast<void*>(st.discarded_bias_gradient.data()));
  st.backward_filter_x.reorder(st.stream);
  st.backward_filter_dy.reorder(st.stream);
  st.backward_filter->execute(st.stream, {{DNNL_ARG_SRC, st.backward_filter_x.argument()},
                                          {DNNL_ARG_DIFF_DST, st.backward_filter_dy.argument()},
                                          {DNNL_ARG_DIFF_WEIGHTS, st.backward_filter_dw.argument()},
                                          {DNNL_ARG_DIFF_BIAS, st.backward_filter_db},
                                          {DNNL_ARG_SCRATCHPAD, st.backward_filter_scratchpad}});
  st.backward_filter_dw.reorder(st.stream);
  st.stream.wait();
}

std::size_t onednn_conv::workspace_bytes() const {
  const state& st = *state_;
  return (st.scratchpad_area ? st.scratchpad_area->size : 0) + st.forward_x.own_bytes() + st.forward_w.own_bytes() +
         st.forward_y.own_bytes() + st.backward_data_dy.own_bytes() + st.backward_data_w.own_bytes() +
         st.backward_data_dx.own_bytes() + st.backward_filter_x.own_bytes() + st.backward_filter_dy.own_bytes() +
         st.backward_filter_dw.own_bytes();
}

std::string onednn_conv::forward_implementation() const { return state_->forward_implementation; }
std::string onednn_conv::backward_data_implementation() const { return state_->backward_data_implementation; }
std::string onednn_conv::backward_filter_implementation() const { return state_->backward_filter_implementation; }

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string onednn_cpu_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "isa " + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa()));
  }
}

}  // namespace bench
