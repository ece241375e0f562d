#pragma once
// The vendor policy on the host: oneDNN 2.x convolution primitives through its C API (dnnl.h; the C++ dnnl.hpp
// would have to stay away from nvcc). Called as a framework calls it: plain NCW / NCHW / NCDHW tensors (GOI... for
// grouped weights), the primitives free to choose their own layouts (format any, convolution_auto), and the
// reorders into and out of those layouts, weights included, inside each call. The bench's oneDNN baseline is
// this class.
//
// Primitives are created once per pass on first use (prepare) and kept; the reorder buffers and the scratchpad
// live in one workspace from the caller's memory_resource, so they count against set_workspace_limit.

#include "../../config.hpp"  // FFTCONV_HAS_ONEDNN: without it this header declares nothing

#if FFTCONV_HAS_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>  // dnnl_status2str, dnnl_fmt_kind2str

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../../policy.hpp"
#include "../im2col/workspace.hpp"
#include "vendor_shape.hpp"

namespace fftconv::detail {

inline void onednn_check(dnnl_status_t status, const char* call,
                         std::source_location where = std::source_location::current()) {
  if (status != dnnl_success) throw library_error("oneDNN", call, status, dnnl_status2str(status), where);
}
#define FFTCONV_ONEDNN_CHECK(call) ::fftconv::detail::onednn_check((call), #call)

// A oneDNN C handle, destroyed with its own function.
template <class Handle, dnnl_status_t (*Destroy)(Handle)>
class onednn_handle {
 public:
  onednn_handle() = default;
  explicit onednn_handle(Handle h) : h_(h) {}
  onednn_handle(onednn_handle&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  onednn_handle& operator=(onednn_handle&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  ~onednn_handle() { reset(); }
  void reset() noexcept {
    if (h_ != nullptr) (void)Destroy(h_);
    h_ = nullptr;
  }
  Handle get() const noexcept { return h_; }
  Handle* out() noexcept {
    reset();
    return &h_;
  }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  Handle h_ = nullptr;
};
using onednn_memory = onednn_handle<dnnl_memory_t, dnnl_memory_destroy>;
using onednn_primitive = onednn_handle<dnnl_primitive_t, dnnl_primitive_destroy>;
using onednn_primitive_desc = onednn_handle<dnnl_primitive_desc_t, dnnl_primitive_desc_destroy>;
using onednn_attributes = onednn_handle<dnnl_primitive_attr_t, dnnl_primitive_attr_destroy>;

// The CPU engine, one per process (oneDNN engines are thread-safe); a stream per thread.
inline dnnl_engine_t onednn_engine() {
  static const onednn_handle<dnnl_engine_t, dnnl_engine_destroy> engine = [] {
    onednn_handle<dnnl_engine_t, dnnl_engine_destroy> e;
    FFTCONV_ONEDNN_CHECK(dnnl_engine_create(e.out(), dnnl_cpu, 0));
    return e;
  }();
  return engine.get();
}
inline dnnl_stream_t onednn_stream() {
  thread_local const onednn_handle<dnnl_stream_t, dnnl_stream_destroy> stream = [] {
    onednn_handle<dnnl_stream_t, dnnl_stream_destroy> s;
    FFTCONV_ONEDNN_CHECK(dnnl_stream_create(s.out(), onednn_engine(), dnnl_stream_default_flags));
    return s;
  }();
  return stream.get();
}

// dnnl_version() as "major.minor.patch".
inline std::string onednn_version_string() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// The storage type of each role: inputs (x, w, dy), outputs (y, dx, dw) and the bias and its gradient. oneDNN's
// bf16 primitives read bf16 inputs, accumulate in f32 and write f32 or bf16 outputs, rounding each once.
struct onednn_types {
  vendor_element inputs = vendor_element::f32, outputs = vendor_element::f32, bias = vendor_element::f32;
  static onednn_types all(vendor_element e) { return {e, e, e}; }
  friend bool operator==(const onednn_types&, const onednn_types&) = default;
};

class onednn_convolution {
 public:
  // types: f32 throughout, or bf16 inputs with f32 or bf16 outputs and bias (oneDNN 2.x has no f64 and no f16
  // convolution on the CPU; the vendor policy never asks for them). training: the forward primitive is
  // forward_training (a backward follows; also the hint the backward primitives are made from) or
  // forward_inference.
  onednn_convolution(const vendor_shape& shape, onednn_types types, bool training = true)
      : shape_(shape), types_(types), training_(training) {
    const auto type_of = [](vendor_element e) {
      if (e != vendor_element::f32 && e != vendor_element::bf16)
        fail("vendor: oneDNN runs f32 or bf16 convolutions on the CPU");
      return e == vendor_element::bf16 ? dnnl_bf16 : dnnl_f32;
    };
    const dnnl_data_type_t in = type_of(types.inputs), out = type_of(types.outputs), bias = type_of(types.bias);
    const int n = shape.dims;
    const bool grouped = shape.groups > 1;
    dnnl_dims_t x_dims{shape.batch, shape.in_channels}, y_dims{shape.batch, shape.out_channels}, w_dims{};
    int w_rank = 0;
    if (grouped) {
      w_dims[0] = shape.groups, w_dims[1] = shape.out_channels / shape.groups, w_dims[2] = shape.in_channels / shape.groups;
      w_rank = 3;
    } else {
      w_dims[0] = shape.out_channels, w_dims[1] = shape.in_channels;
      w_rank = 2;
    }
    for (int d = 0; d < n; ++d) {
      x_dims[2 + d] = shape.input[d];
      y_dims[2 + d] = shape.output[d];
      w_dims[w_rank + d] = shape.kernel[d];
      strides_[d] = shape.stride[d];
      dilates_[d] = shape.dilation[d] - 1;  // oneDNN counts the gaps between taps
      padding_l_[d] = shape.padding_low[d];
      padding_r_[d] = shape.padding_high[d];  // oneDNN derives the output extent from it as fftconv does
    }
    const dnnl_format_tag_t activations = n == 1 ? dnnl_ncw : n == 2 ? dnnl_nchw : dnnl_ncdhw;
    const dnnl_format_tag_t weights = grouped ? (n == 1 ? dnnl_goiw : n == 2 ? dnnl_goihw : dnnl_goidhw)
                                              : (n == 1 ? dnnl_oiw : n == 2 ? dnnl_oihw : dnnl_oidhw);
    // Each tensor as an input and as an output (types may differ), plain and in any layout.
    const auto describe = [&](tensor_descs& d, int rank, const dnnl_dims_t dims, dnnl_format_tag_t plain) {
      FFTCONV_ONEDNN_CHECK(dnnl_memory_desc_init_by_tag(&d.plain_in, rank, dims, in, plain));
      FFTCONV_ONEDNN_CHECK(dnnl_memory_desc_init_by_tag(&d.plain_out, rank, dims, out, plain));
      FFTCONV_ONEDNN_CHECK(dnnl_memory_desc_init_by_tag(&d.any_in, rank, dims, in, dnnl_format_tag_any));
      FFTCONV_ONEDNN_CHECK(dnnl_memory_desc_init_by_tag(&d.any_out, rank, dims, out, dnnl_format_tag_any));
    };
    describe(x_, 2 + n, x_dims, activations);
    describe(y_, 2 + n, y_dims, activations);
    describe(w_, w_rank + n, w_dims, weights);
    const dnnl_dims_t bias_dims{shape.out_channels};
    FFTCONV_ONEDNN_CHECK(dnnl_memory_desc_init_by_tag(&bias_plain_, 1, bias_dims, bias, dnnl_x));
    // Zero bits are a zero in f32 and bf16 alike: the bias of a forward without one, and where a backward_filter
    // without dbias puts the bias gradient the primitive computes anyway.
    zeros_.assign(static_cast<std::size_t>(shape.out_channels), 0.0f);
    discarded_.assign(static_cast<std::size_t>(shape.out_channels), 0.0f);
  }

  onednn_convolution(const onednn_convolution&) = delete;
  onednn_convolution& operator=(const onednn_convolution&) = delete;

  const vendor_shape& shape() const noexcept { return shape_; }
  const onednn_types& types() const noexcept { return types_; }

  // Creates the pass's primitive (and the forward one it is made from) unless it exists.
  void prepare(pass which) {
    step& s = step_of(which);
    if (s.primitive) return;
    if (which != pass::forward) prepare(pass::forward);
    onednn_attributes attributes;
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_attr_create(attributes.out()));
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attributes.get(), dnnl_scratchpad_mode_user));
    dnnl_convolution_desc_t desc;
    switch (which) {
      case pass::forward:
        FFTCONV_ONEDNN_CHECK(dnnl_dilated_convolution_forward_desc_init(
            &desc, training_ ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_auto, &x_.any_in,
            &w_.any_in, &bias_plain_, &y_.any_out, strides_, dilates_, padding_l_, padding_r_));
        break;
      case pass::backward_data:
        FFTCONV_ONEDNN_CHECK(dnnl_dilated_convolution_backward_data_desc_init(
            &desc, dnnl_convolution_auto, &x_.any_out, &w_.any_in, &y_.any_in, strides_, dilates_, padding_l_,
            padding_r_));
        break;
      case pass::backward_filter:
        FFTCONV_ONEDNN_CHECK(dnnl_dilated_convolution_backward_weights_desc_init(
            &desc, dnnl_convolution_auto, &x_.any_in, &w_.any_out, &bias_plain_, &y_.any_in, strides_, dilates_,
            padding_l_, padding_r_));
        break;
    }
    const_dnnl_primitive_desc_t hint = which == pass::forward ? nullptr : forward_.descriptor.get();
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_desc_create(s.descriptor.out(), &desc, attributes.get(), onednn_engine(), hint));
    // The primitive's three tensors, in the caller's layout and in the one it chose.
    const dnnl_primitive_desc_t pd = s.descriptor.get();
    std::size_t offset = 0;
    const auto place = [&](std::size_t bytes) {
      const std::size_t at = offset;
      offset += (bytes + 63) / 64 * 64;
      return at;
    };
    s.scratchpad_offset = place(dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)));
    FFTCONV_ONEDNN_CHECK(dnnl_memory_create(s.scratchpad.out(), dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
                                            onednn_engine(), DNNL_MEMORY_NONE));
    switch (which) {
      case pass::forward:
        s.operands[0] = operand(x_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), true, DNNL_ARG_SRC, place);
        s.operands[1] = operand(w_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), true, DNNL_ARG_WEIGHTS, place);
        s.operands[2] = operand(y_.plain_out, *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), false, DNNL_ARG_DST, place);
        break;
      case pass::backward_data:
        s.operands[0] = operand(y_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), true, DNNL_ARG_DIFF_DST, place);
        s.operands[1] = operand(w_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), true, DNNL_ARG_WEIGHTS, place);
        s.operands[2] = operand(x_.plain_out, *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0), false, DNNL_ARG_DIFF_SRC, place);
        break;
      case pass::backward_filter:
        s.operands[0] = operand(x_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), true, DNNL_ARG_SRC, place);
        s.operands[1] = operand(y_.plain_in, *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), true, DNNL_ARG_DIFF_DST, place);
        s.operands[2] = operand(w_.plain_out, *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), false, DNNL_ARG_DIFF_WEIGHTS, place);
        break;
    }
    if (which != pass::backward_data)
      FFTCONV_ONEDNN_CHECK(dnnl_memory_create(s.bias.out(), &bias_plain_, onednn_engine(), DNNL_MEMORY_NONE));
    s.workspace_bytes = offset;
    const char* name = nullptr;
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    s.implementation = name != nullptr ? name : "";
    for (const operand& o : s.operands) s.implementation += " " + o.layout();
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_create(s.primitive.out(), pd));
  }

  // Bytes of workspace the pass needs (its reorder buffers and scratchpad), preparing it.
  std::size_t workspace_bytes(pass which) {
    prepare(which);
    return step_of(which).workspace_bytes;
  }

  // oneDNN's implementation name and the layouts it runs in, e.g. "jit:avx512_core aBcd16b ..." (prepares).
  std::string implementation(pass which) {
    prepare(which);
    return step_of(which).implementation;
  }

  // y = conv(x, w) + bias (bias may be null). workspace: workspace_bytes(forward) bytes, 64-byte aligned.
  void forward(const void* x, const void* w, const void* bias, void* y, std::byte* workspace) {
    step& s = ready(pass::forward);
    run(s, {x, w}, y, bias != nullptr ? bias : zeros_.data(), workspace, DNNL_ARG_BIAS);
  }

  // dx = the gradient of sum(y * dy) with respect to x, overwritten.
  void backward_data(const void* dy, const void* w, void* dx, std::byte* workspace) {
    step& s = ready(pass::backward_data);
    run(s, {dy, w}, dx, nullptr, workspace, 0);
  }

  // dw (and dbias, when not null) overwritten with the gradients of sum(y * dy).
  void backward_filter(const void* x, const void* dy, void* dw, void* dbias, std::byte* workspace) {
    step& s = ready(pass::backward_filter);
    run(s, {x, dy}, dw, dbias != nullptr ? dbias : discarded_.data(), workspace, DNNL_ARG_DIFF_BIAS);
  }

 private:
  // One tensor argument: the caller's plain memory, and where the primitive chose another layout its own
  // memory in the workspace and the reorder between the two.
  class operand {
   public:
    operand() = default;
    template <class Place>
    operand(const dnnl_memory_desc_t& plain, const dnnl_memory_desc_t& chosen, bool into_primitive, int argument,
            Place&& place)
        : argument_(argument), into_primitive_(into_primitive) {
      FFTCONV_ONEDNN_CHECK(dnnl_memory_create(plain_.out(), &plain, onednn_engine(), DNNL_MEMORY_NONE));
      if (dnnl_memory_desc_equal(&plain, &chosen)) {
        layout_ = "plain";
        return;
      }
      layout_ = layout_name(chosen);
      FFTCONV_ONEDNN_CHECK(dnnl_memory_create(own_.out(), &chosen, onednn_engine(), DNNL_MEMORY_NONE));
      offset_ = place(dnnl_memory_desc_get_size(&chosen));
      onednn_primitive_desc pd;
      const dnnl_memory_desc_t& from = into_primitive ? plain : chosen;
      const dnnl_memory_desc_t& to = into_primitive ? chosen : plain;
      FFTCONV_ONEDNN_CHECK(
          dnnl_reorder_primitive_desc_create(pd.out(), &from, onednn_engine(), &to, onednn_engine(), nullptr));
      FFTCONV_ONEDNN_CHECK(dnnl_primitive_create(reorder_.out(), pd.get()));
    }

    void bind(const void* data, std::byte* workspace) {
      FFTCONV_ONEDNN_CHECK(dnnl_memory_set_data_handle(plain_.get(), const_cast<void*>(data)));
      if (own_) FFTCONV_ONEDNN_CHECK(dnnl_memory_set_data_handle(own_.get(), workspace + offset_));
    }
    // Inputs: before the primitive; outputs: after it.
    void reorder(dnnl_stream_t stream) const {
      if (!own_) return;
      const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, into_primitive_ ? plain_.get() : own_.get()},
                                       {DNNL_ARG_TO, into_primitive_ ? own_.get() : plain_.get()}};
      FFTCONV_ONEDNN_CHECK(dnnl_primitive_execute(reorder_.get(), stream, 2, args));
    }
    dnnl_exec_arg_t argument() const { return {argument_, own_ ? own_.get() : plain_.get()}; }
    bool into_primitive() const { return into_primitive_; }
    const std::string& layout() const { return layout_; }

   private:
    // oneDNN's naming: dims outermost first (a = N or O, b = C or I, ...), a capital for a blocked dim, then the
    // inner blocks, e.g. "aBcd16b" (nChw16c).
    static std::string layout_name(const dnnl_memory_desc_t& d) {
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

    onednn_memory plain_, own_;
    onednn_primitive reorder_;
    std::size_t offset_ = 0;
    int argument_ = 0;
    bool into_primitive_ = true;
    std::string layout_;
  };

  struct step {
    onednn_primitive_desc descriptor;
    onednn_primitive primitive;
    operand operands[3];  // two inputs, then the output
    onednn_memory bias;   // forward: the bias; backward_filter: the bias gradient
    onednn_memory scratchpad;
    std::size_t scratchpad_offset = 0;
    std::size_t workspace_bytes = 0;
    std::string implementation;
  };

  step& step_of(pass which) {
    return which == pass::forward ? forward_ : which == pass::backward_data ? backward_data_ : backward_filter_;
  }
  step& ready(pass which) {
    prepare(which);
    return step_of(which);
  }

  void run(step& s, std::pair<const void*, const void*> inputs, void* output, const void* bias,
           std::byte* workspace, int bias_argument) {
    s.operands[0].bind(inputs.first, workspace);
    s.operands[1].bind(inputs.second, workspace);
    s.operands[2].bind(output, workspace);
    FFTCONV_ONEDNN_CHECK(dnnl_memory_set_data_handle(s.scratchpad.get(), workspace + s.scratchpad_offset));
    dnnl_exec_arg_t args[5];
    int count = 0;
    for (const operand& o : s.operands) args[count++] = o.argument();
    args[count++] = {DNNL_ARG_SCRATCHPAD, s.scratchpad.get()};
    if (s.bias) {
      FFTCONV_ONEDNN_CHECK(dnnl_memory_set_data_handle(s.bias.get(), const_cast<void*>(bias)));
      args[count++] = {bias_argument, s.bias.get()};
    }
    const dnnl_stream_t stream = onednn_stream();
    s.operands[0].reorder(stream);
    s.operands[1].reorder(stream);
    FFTCONV_ONEDNN_CHECK(dnnl_primitive_execute(s.primitive.get(), stream, count, args));
    s.operands[2].reorder(stream);
    FFTCONV_ONEDNN_CHECK(dnnl_stream_wait(stream));
  }

  struct tensor_descs {
    dnnl_memory_desc_t plain_in{}, plain_out{}, any_in{}, any_out{};
  };

  vendor_shape shape_;
  onednn_types types_;
  bool training_ = true;
  dnnl_dims_t strides_{}, dilates_{}, padding_l_{}, padding_r_{};
  tensor_descs x_, y_, w_;
  dnnl_memory_desc_t bias_plain_{};
  std::vector<float> zeros_, discarded_;
  step forward_, backward_data_, backward_filter_;
};

}  // namespace fftconv::detail

#endif  // FFTCONV_HAS_ONEDNN
