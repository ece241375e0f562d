#pragma once
// fftconv::conv<N, T, Policy>: one convolution layer's geometry and the algorithm's plans and workspace.
// Calls validate everything before writing anything, normalise the caller's views (any strided mdspan) to
// (pointer, strides) pairs the kernels index through, hand the policy a detail::problem<N> and those, and
// write results back with alpha / beta.
//
// Kernels read and write the caller's strides where the policy says they can (conv_impl::reach); the rest is
// gathered into, or blended from, row-major copies (detail/boundary.hpp).
//
// Contracts:
//   - No result depends on a buffer's address: each pass called alone, in any order, with any reuse of
//     addresses, reads its arguments afresh. Transformed maps cross passes only through a saved state the
//     caller holds (forward's `saved`, backward's): see saved_bytes.
//   - Outputs are overwritten unless scaling.beta != 0 (out = alpha * result + beta * out).
//   - fftconv::device calls are ordered on the executor's stream and return before the work completes.
//   - One conv object is not for concurrent use; distinct objects may be used from different threads.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/backend.hpp"
#include "call.hpp"
#include "detail/bias_gradient.hpp"
#include "detail/boundary.hpp"
#include "detail/saved_header.hpp"
#include "detail/validate.hpp"
#include "element.hpp"
#include "executor.hpp"
#include "geometry.hpp"
#include "policy.hpp"
#include "view.hpp"

namespace fftconv {

// P is not constrained by the `policy` concept, so that an unknown policy meets the message below rather than a
// failed constraint.
// T: the element type of x, y, dx and dy (float, double, bf16, fp16). W: that of w, dw, bias and dbias:
// T, or float with 16-bit T (weights kept in fp32 beside 16-bit activations). Everything is computed in
// compute_of<T> (element.hpp).
template <int N, class T, class P = fft, class W = T>
class conv {
  static_assert(is_policy_v<P>,
                "fftconv::conv: the policy P must be fftconv::naive, fftconv::im2col, fftconv::fft, fftconv::vendor or "
                "fftconv::automatic");
  static_assert(N >= 1 && N <= 3, "fftconv::conv: spatial rank N must be 1, 2 or 3");
  static_assert(is_element_v<T> && !std::is_const_v<T>,
                "fftconv::conv: T must be float, double, fftconv::bf16 (__nv_bfloat16) or fftconv::fp16 (__half)");
  static_assert(std::is_same_v<W, T> || (is_16bit_v<T> && std::is_same_v<W, float>),
                "fftconv::conv: the weights' type W must be T, or float when T is 16-bit");
  static constexpr std::size_t R = N + 2;
  using C = compute_of<T>;
  // The policy reads and writes 16-bit (or fp32-weight) tensors itself on Exec: converting on load and store
  // (the FFT policy's staging and crop), or handing them to a library that takes them (the vendor policy's
  // oneDNN, bf16). Other policies take C copies made at the boundary. Float layers take C as it is.
  template <class Exec>
  static constexpr bool converts_storage = [] {
    if constexpr (std::is_same_v<T, C> && std::is_same_v<W, C>)
      return false;
    else if constexpr (requires { requires detail::conv_impl<P, N, C>::converts_storage; })
      return true;
    else
      return requires { requires detail::conv_impl<P, N, C>::template stores<Exec, T, W>; };
  }();

 public:
  using value_type = T;
  using weight_type = W;
  using compute_type = C;
  using policy_type = P;
  using scalar_type = scalar_of<T>;
  using scaling_type = fftconv::scaling<scalar_type>;
  static constexpr int rank = N;
  using tensor = tensor_ref<T, R>;
  using const_tensor = tensor_ref<const T, R>;
  using weight_tensor = tensor_ref<W, R>;
  using const_weight_tensor = tensor_ref<const W, R>;

  explicit conv(const geometry<N>& g) : geometry_(validated(g)), impl_(geometry_) {}

  const fftconv::geometry<N>& geometry() const noexcept { return geometry_; }

  // Extents of y for an input of extents [batch, in_channels, spatial...]; throws when any is < 1.
  std::array<std::int64_t, R> output_extents(const std::array<std::int64_t, R>& input) const {
    for (std::size_t r = 0; r < R; ++r)
      if (input[r] < 1)
        detail::fail("output_extents: input extents ", detail::format_extents(input), " must all be >= 1");
    return detail::checked_output_extents(geometry_, input, "output_extents", "input");
  }

  // Bytes of caller memory forward may save for backward on an input of these extents: a pure function of
  // the shapes, the type, the executor kind and the declared settings (tile extents, products, workspace
  // limit). keep::spectra holds the FFT policy's X̂ and Ŵ, so that backward transforms dy only; keep::none,
  // and every other policy, a header only.
  std::size_t saved_bytes(const std::array<std::int64_t, R>& x_extents, keep kept = keep::spectra,
                          bool on_device = false) const {
    const detail::problem<N> p = problem_of(x_extents);
    std::size_t payload = 0;
    if constexpr (requires { impl_.saved_payload_bytes(p, kept, on_device); })
      payload = impl_.saved_payload_bytes(p, kept, on_device);
    return detail::saved_header_bytes + payload;
  }

  // y = alpha * conv(x, w) + bias + beta * y. bias: null, a rank-1 view of out_channels, or a pointer to them.
  // saved (empty, or saved_bytes(x extents, keep) bytes aligned to 64 on the host, 256 on the device):
  // receives what backward reuses.
  template <executor Exec>
  void forward(Exec exec, const_tensor x, const_weight_tensor w, optional_vector<const W> bias, tensor y,
               saved_state saved = {}, scaling_type scale = {}) {
    constexpr const char* pass = "forward";
    check_input(x, pass, "x");
    check_output(y, pass, "y");
    check_weights_and_output(pass, w, "w", "x", x.extents(), "y", y.extents());
    const tensor_ref<const W, 1> b = checked_vector(bias, pass, "bias");
    const std::optional<keep> kept = check_saved(saved, x.extents(), pass, on_device_v<Exec>);
    detail::check_no_overlap(pass, {region("y", y), bytes_region("saved", saved)},
                             {region("x", x), region("w", w), region("bias", b)});
    check_pointers(exec, {{x.data(), "x"}, {w.data(), "w"}, {b.data(), "bias"}, {y.data(), "y"},
                          {saved.data(), "saved"}});

    const detail::problem<N> p = problem_of(x.extents());
    const detail::strided_reach reach = impl_.reach(p);
    detail::boundary<Exec, C> io(exec);
    const C* bias_data = io.input(b);
    std::byte* payload = kept ? saved.data() + detail::saved_header_bytes : nullptr;
    if constexpr (converts_storage<Exec>) {
      const detail::strided<const T, N> x_in = io.stored_operand(x, reach.x);
      const detail::strided<const W, N> w_in = io.stored_operand(w, reach.w);
      if (const detail::strided<T, N> y_out = io.stored_result(y, scale, reach.y))
        impl_.forward(exec, p, x_in, w_in, bias_data, y_out, payload, kept.value_or(keep::none));
      else  // scaled: into a C copy, blended (with the bias) and rounded once
        impl_.forward(exec, p, x_in, w_in, nullptr, io.result(y, scale, reach.y, bias_data), payload,
                      kept.value_or(keep::none));
    } else {
      const bool y_in_place = io.written_in_place(y, scale, reach.y);  // else the blend adds the bias
      const detail::strided<C, N> y_out = io.result(y, scale, reach.y, y_in_place ? nullptr : bias_data);
      const detail::strided<const C, N> x_in = io.operand(x, reach.x);
      const detail::strided<const C, N> w_in = io.operand(w, reach.w);
      if constexpr (requires { impl_.forward(exec, p, x_in, w_in, bias_data, y_out, payload, keep::none); })
        impl_.forward(exec, p, x_in, w_in, y_in_place ? bias_data : nullptr, y_out, payload, kept.value_or(keep::none));
      else
        impl_.forward(exec, p, x_in, w_in, y_in_place ? bias_data : nullptr, y_out);
    }
    io.finish();
    if (kept) write_header(exec, saved, header_for(p, *kept, on_device_v<Exec>, written_algorithm(p)));
  }

  // The gradients of sum(y * dy) that `out` asks for (dx, dw, dbias; null: skipped), each
  // out = alpha * gradient + beta * out. x and w must hold what forward saw. saved: forward's state for this
  // x, or empty (then what backward needs is transformed again). dy is transformed once for dx and dw.
  template <executor Exec>
  void backward(Exec exec, const_tensor x, const_weight_tensor w, const_tensor dy, const_saved_state saved,
                gradients<T, R, W> out, scaling_type scale = {}) {
    constexpr const char* pass = "backward";
    check_input(x, pass, "x");
    check_input(dy, pass, "dy");
    check_weights_and_output(pass, w, "w", "x", x.extents(), "dy", dy.extents());
    if (out.dx.data() != nullptr) {
      check_output(out.dx, pass, "dx");
      detail::check_extents(pass, "dx", out.dx.extents(), x.extents(), "x has");
    }
    if (out.dw.data() != nullptr) {
      check_output(out.dw, pass, "dw");
      detail::check_extents(pass, "dw", out.dw.extents(), detail::expected_weight_extents(geometry_),
                            "the geometry expects");
    }
    const tensor_ref<W, 1> db = checked_vector(out.dbias, pass, "dbias");
    const std::optional<keep> kept = check_saved(saved, x.extents(), pass, on_device_v<Exec>);
    detail::check_no_overlap(pass, {region("dx", out.dx), region("dw", out.dw), region("dbias", db)},
                             {region("x", x), region("w", w), region("dy", dy), bytes_region("saved", saved)});
    check_pointers(exec, {{x.data(), "x"}, {w.data(), "w"}, {dy.data(), "dy"}, {out.dx.data(), "dx"},
                          {out.dw.data(), "dw"}, {db.data(), "dbias"}, {saved.data(), "saved"}});
    const detail::problem<N> p = problem_of(x.extents());
    std::optional<algorithm> producer;
    if (kept) producer = check_header(exec, saved, p, *kept);

    const detail::strided_reach reach = impl_.reach(p);
    detail::boundary<Exec, C> io(exec);
    C* dbias = db.data() != nullptr ? io.output(db, scale) : nullptr;
    const std::byte* payload = kept ? saved.data() + detail::saved_header_bytes : nullptr;
    run_backward(exec, p, reach, io, x, w, dy, payload, kept.value_or(keep::none), producer, out.dx, out.dw, dbias,
                 scale);
    io.finish();
  }

  // dx = alpha * (gradient of sum(y * dy) with respect to x) + beta * dx, alone.
  template <executor Exec>
  void backward_data(Exec exec, const_tensor dy, const_weight_tensor w, tensor dx, scaling_type scale = {}) {
    constexpr const char* pass = "backward_data";
    check_input(dy, pass, "dy");
    check_output(dx, pass, "dx");
    check_weights_and_output(pass, w, "w", "dx", dx.extents(), "dy", dy.extents());
    detail::check_no_overlap(pass, {region("dx", dx)}, {region("dy", dy), region("w", w)});
    check_pointers(exec, {{dy.data(), "dy"}, {w.data(), "w"}, {dx.data(), "dx"}});
    const detail::problem<N> p = problem_of(dx.extents());
    const detail::strided_reach reach = impl_.reach(p);
    detail::boundary<Exec, C> io(exec);
    run_backward(exec, p, reach, io, const_tensor(), w, dy, nullptr, keep::none, std::nullopt, dx, weight_tensor(),
                 nullptr, scale);
    io.finish();
  }

  // dw (and db when dbias is given) = alpha * gradients of sum(y * dy) + beta * previous, alone.
  template <executor Exec>
  void backward_filter(Exec exec, const_tensor x, const_tensor dy, weight_tensor dw, optional_vector<W> dbias,
                       scaling_type scale = {}) {
    constexpr const char* pass = "backward_filter";
    check_input(x, pass, "x");
    check_input(dy, pass, "dy");
    check_output(dw, pass, "dw");
    check_weights_and_output(pass, dw, "dw", "x", x.extents(), "dy", dy.extents());
    const tensor_ref<W, 1> db = checked_vector(dbias, pass, "dbias");
    detail::check_no_overlap(pass, {region("dw", dw), region("dbias", db)}, {region("x", x), region("dy", dy)});
    check_pointers(exec, {{x.data(), "x"}, {dy.data(), "dy"}, {dw.data(), "dw"}, {db.data(), "dbias"}});
    const detail::problem<N> p = problem_of(x.extents());
    const detail::strided_reach reach = impl_.reach(p);
    detail::boundary<Exec, C> io(exec);
    C* db_data = db.data() != nullptr ? io.output(db, scale) : nullptr;
    run_backward(exec, p, reach, io, x, const_weight_tensor(), dy, nullptr, keep::none, std::nullopt, tensor(), dw,
                 db_data, scale);
    io.finish();
  }

  // Drop whatever the policy cached from the weights (the FFT policy's kernel spectra when declared constant).
  void weights_changed() { impl_.weights_changed(); }

  // Declare that w does not change between calls (inference): the FFT policy then keeps its kernel spectra
  // until weights_changed(). By default (false) every forward transforms w afresh.
  void set_weights_constant(bool constant) {
    if constexpr (requires { impl_.set_weights_constant(constant); }) impl_.set_weights_constant(constant);
  }

  // Bytes of workspace the policy holds now (plans' buffers, spectra it owns, column buffers).
  std::size_t workspace_bytes() const { return impl_.workspace_bytes(); }

  // Bytes of workspace this layer holds after a step of `which` passes on an input of these extents, on the
  // host, computed without running or allocating anything: forward with a saved state of `kept` (keep::spectra:
  // X̂ and Ŵ in the caller's saved_bytes, not counted here), then one backward for the declared gradients; the
  // passes alone when no forward is declared. Exact with plain scaling: a scaled output, or a strided tensor
  // the policy takes densely (conv_impl::reach), adds a row-major copy for the call, freed when it returns; so
  // do 16-bit tensors (fp32 copies) in every policy but fft, and a 16-bit dx the fft policy sums over chunks.
  // automatic: the candidate it runs, once known; before a measured choice, the largest any would hold.
  std::size_t workspace_bytes(const std::array<std::int64_t, R>& input, const passes& which = passes::training(),
                              keep kept = keep::spectra) const {
    const detail::problem<N> p = problem_of(input);
    if constexpr (converts_storage<host> && requires { impl_.template held_workspace_bytes<T>(p, which, kept); })
      return impl_.template held_workspace_bytes<T>(p, which, kept);  // the policy's own 16-bit workspace
    else if constexpr (requires { impl_.held_workspace_bytes(p, which, kept); })
      return impl_.held_workspace_bytes(p, which, kept);
    else
      return 0;
  }

  // Upper bound on the memory one step holds (workspace, and for the FFT policy the spectra it keeps, saved
  // state included): each policy chunks its work to stay under it or throws workspace_limit_exceeded.
  void set_workspace_limit(std::size_t bytes) {
    if constexpr (requires { impl_.set_workspace_limit(bytes); }) impl_.set_workspace_limit(bytes);
  }

  // Which passes this layer runs (default all three; passes::frozen(), passes::inference()). fftconv::automatic
  // chooses the policy fastest over them; the other policies ignore it.
  void set_passes(const passes& declared) {
    if constexpr (requires { impl_.set_passes(declared); }) impl_.set_passes(declared);
  }

  // fftconv::vendor and fftconv::automatic (for its vendor candidate): whether cuDNN may use TF32 for fp32
  // layers, and whether only deterministic algorithms are chosen. Default: neither.
  void set_vendor_options(const vendor_options& options)
    requires requires(detail::conv_impl<P, N, C>& impl) { impl.set_vendor_options(options); }
  {
    impl_.set_vendor_options(options);
  }

  // fftconv::automatic only: measure or heuristic for this layer (default_automatic_mode() until set), and
  // what was picked for the most recent call and why.
  void set_mode(automatic_mode mode)
    requires requires(detail::conv_impl<P, N, C>& impl) { impl.set_mode(mode); }
  {
    impl_.set_mode(mode);
  }
  decltype(auto) choice() const
    requires requires(const detail::conv_impl<P, N, C>& impl) { impl.choice(); }
  {
    return impl_.choice();
  }

  // The policy's own state, for introspection (e.g. the FFT policy's transform counters) and, non-const, its
  // tuning knobs (e.g. the FFT policy's set_tile_extents, set_products).
  const detail::conv_impl<P, N, C>& implementation() const noexcept { return impl_; }
  detail::conv_impl<P, N, C>& implementation() noexcept { return impl_; }

 private:
  template <class Exec>
  static constexpr bool on_device_v = detail::backend<Exec>::on_device;

  struct named_pointer {
    const void* pointer;
    const char* name;
  };

  template <class Exec>
  static void check_pointers(const Exec& exec, std::initializer_list<named_pointer> pointers) {
    for (const named_pointer& p : pointers)
      if (p.pointer != nullptr) detail::backend<Exec>::check_pointer(exec, p.pointer, p.name);
  }

  // w (or dw) against the geometry, and y (or dy) against the output of the input-side tensor.
  template <class U>
  void check_weights_and_output(const char* pass, const tensor_ref<U, R>& w, const char* w_name, const char* x_name,
                                const std::array<std::int64_t, R>& x_extents, const char* y_name,
                                const std::array<std::int64_t, R>& y_extents) const {
    if constexpr (std::is_const_v<U>) check_input(w, pass, w_name);
    detail::check_extents(pass, w_name, w.extents(), detail::expected_weight_extents(geometry_), "the geometry expects");
    const auto expected = detail::checked_output_extents(geometry_, x_extents, pass, x_name);
    const std::string why = std::string("the output of ") + x_name + " is";
    detail::check_extents(pass, y_name, y_extents, expected, why.c_str());
  }

  template <class U>
  static void check_input(const tensor_ref<const U, R>& v, const char* pass, const char* name) {
    detail::check_tensor(v, pass, name, false);
  }
  template <class U>
  static void check_output(const tensor_ref<U, R>& v, const char* pass, const char* name) {
    detail::check_tensor(v, pass, name, true);
  }

  template <class U>
  tensor_ref<U, 1> checked_vector(const optional_vector<U>& v, const char* pass, const char* name) const {
    if (!v.has_value()) return tensor_ref<U, 1>(nullptr, {0}, {1});
    const tensor_ref<U, 1> resolved = v.resolved(geometry_.out_channels);
    if (resolved.extent(0) != geometry_.out_channels)
      detail::fail(pass, ": ", name, " has ", resolved.extent(0), " elements but geometry.out_channels = ",
                   geometry_.out_channels);
    detail::check_tensor(resolved, pass, name, !std::is_const_v<U>);
    return resolved;
  }

  template <class U, std::size_t Rank>
  static detail::named_region region(const char* name, const tensor_ref<U, Rank>& v) {
    return detail::named_region::of(name, v);
  }
  template <class Byte>
  static detail::named_region bytes_region(const char* name, std::span<Byte> bytes) {
    return detail::named_region::of(
        name, tensor_ref<const std::byte, 1>(bytes.data(), {static_cast<std::int64_t>(bytes.size())}, {1}));
  }

  // Which keep `saved` was sized for (nullopt: empty); refuses a size or alignment no keep gives.
  template <class Byte>
  std::optional<keep> check_saved(std::span<Byte> saved, const std::array<std::int64_t, R>& x_extents, const char* pass,
                                  bool on_device) const {
    if (saved.empty()) return std::nullopt;
    if (saved.data() == nullptr) detail::fail(pass, ": saved has ", saved.size(), " bytes but a null data pointer");
    const std::size_t alignment = on_device ? detail::saved_alignment_device : detail::saved_alignment_host;
    if (reinterpret_cast<std::uintptr_t>(saved.data()) % alignment != 0)
      detail::fail(pass, ": saved must be aligned to ", alignment, " bytes (its data is at ",
                   static_cast<const void*>(saved.data()), ")");
    const std::size_t spectra = saved_bytes(x_extents, keep::spectra, on_device);
    const std::size_t none = saved_bytes(x_extents, keep::none, on_device);
    if (saved.size() == spectra) return keep::spectra;
    if (saved.size() == none) return keep::none;
    detail::fail(pass, ": saved has ", saved.size(), " bytes, but x of extents ", detail::format_extents(x_extents),
                 " takes saved_bytes(x, keep::spectra) = ", spectra, " or saved_bytes(x, keep::none) = ", none);
  }

  // The algorithm a forward just ran (automatic: its choice for p).
  algorithm written_algorithm(const detail::problem<N>& p) const {
    if constexpr (requires { impl_.algorithm_for(p); })
      return impl_.algorithm_for(p);
    else
      return algorithm_of<P>;
  }

  detail::saved_header header_for(const detail::problem<N>& p, keep kept, bool on_device, algorithm a) const {
    if (a != algorithm::fft) kept = keep::none;  // the other policies save a header either way
    detail::saved_header h = detail::make_saved_header<N>(p, detail::element_code<T>(), detail::element_code<W>(),
                                                          on_device, a, kept);
    if constexpr (requires { impl_.describe_saved(h, p, kept, on_device, a); }) impl_.describe_saved(h, p, kept, on_device, a);
    return h;
  }

  // The header. Bytes past the payload it records are not written: automatic's state is sized for the FFT
  // policy's spectra whichever candidate runs, and zeroing what nothing reads would cost a step that runs
  // another candidate a pass over tens of megabytes.
  template <class Exec>
  void write_header(const Exec& exec, saved_state saved, const detail::saved_header& h) {
    detail::backend<Exec>::for_each_index(
        exec, static_cast<std::int64_t>(detail::saved_header_bytes),
        detail::write_bytes<detail::saved_header>{h, reinterpret_cast<unsigned char*>(saved.data())});
  }

  // Reads the header backward was given and refuses it unless this layer would have written it; returns the
  // algorithm that wrote it. On the device the header is read with the stream synchronised, except under
  // graph capture, where synchronising is not allowed: the layer's own expectation then stands.
  template <class Exec>
  algorithm check_header(const Exec& exec, const_saved_state saved, const detail::problem<N>& p, keep kept) const {
    detail::saved_header found{};
    if (!detail::read_to_host(exec, &found, saved.data(), sizeof(found))) return written_algorithm(p);
    algorithm producer = algorithm_of<P>;
    if constexpr (std::is_same_v<P, automatic>) {
      if (found.magic == detail::saved_magic && found.algorithm < static_cast<std::uint32_t>(algorithm_count))
        producer = static_cast<algorithm>(found.algorithm);
    }
    detail::check_saved_header(found, header_for(p, kept, on_device_v<Exec>, producer), false);
    return producer;
  }

  // The gradients asked for: in one call where the policy has a combined backward (the FFT policy transforms dy
  // once for dx and dw, and takes X̂ and Ŵ from the saved spectra), else pass by pass. Inputs are gathered only
  // where they will be read.
  template <class Exec>
  void run_backward(const Exec& exec, const detail::problem<N>& p, const detail::strided_reach& reach,
                    detail::boundary<Exec, C>& io, const const_tensor& x, const const_weight_tensor& w,
                    const const_tensor& dy, const std::byte* payload, keep kept, std::optional<algorithm> producer,
                    const tensor& dx_out, const weight_tensor& dw_out, C* dbias, scaling_type scale) {
    const bool spectra = payload != nullptr && kept == keep::spectra && producer.value_or(algorithm_of<P>) == algorithm::fft;
    const bool dx_wanted = dx_out.data() != nullptr, dw_wanted = dw_out.data() != nullptr;
    if constexpr (converts_storage<Exec>) {
      const detail::strided<const T, N> dy_in = io.stored_operand(dy, reach.dy);
      const detail::strided<const T, N> x_in =
          dw_wanted && !spectra ? io.stored_operand(x, reach.x) : detail::strided<const T, N>{};
      const detail::strided<const W, N> w_in =
          dx_wanted && !spectra ? io.stored_operand(w, reach.w) : detail::strided<const W, N>{};
      const detail::strided<T, N> dx = io.stored_result(dx_out, scale, reach.dx);
      const detail::strided<W, N> dw = io.stored_result(dw_out, scale, reach.dw);
      if (static_cast<bool>(dx) == dx_wanted && static_cast<bool>(dw) == dw_wanted)
        impl_.backward(exec, p, x_in, w_in, dy_in, payload, kept, producer, dx, dw, dbias);
      else  // scaled: into C copies, blended and rounded once
        impl_.backward(exec, p, x_in, w_in, dy_in, payload, kept, producer, io.result(dx_out, scale, reach.dx),
                       io.result(dw_out, scale, reach.dw), dbias);
      return;
    } else {
      using input = detail::strided<const C, N>;
      const detail::strided<C, N> dx = io.result(dx_out, scale, reach.dx);
      const detail::strided<C, N> dw = io.result(dw_out, scale, reach.dw);
      const input dy_in = io.operand(dy, reach.dy);
      if constexpr (requires { impl_.backward(exec, p, dy_in, dy_in, dy_in, payload, kept, producer, dx, dw, dbias); }) {
        const input x_in = dw_wanted && !spectra ? io.operand(x, reach.x) : input{};
        const input w_in = dx_wanted && !spectra ? io.operand(w, reach.w) : input{};
        impl_.backward(exec, p, x_in, w_in, dy_in, payload, kept, producer, dx, dw, dbias);
      } else {
        if (dx) impl_.backward_data(exec, p, dy_in, io.operand(w, reach.w), dx);
        if (dw)
          impl_.backward_filter(exec, p, io.operand(x, reach.x), dy_in, dw, dbias);
        else if (dbias != nullptr)
          detail::bias_gradient(exec, p, dy_in, dbias);
      }
    }
  }

  detail::problem<N> problem_of(const std::array<std::int64_t, R>& input) const {
    (void)output_extents(input);  // validates
    std::array<std::int64_t, N> spatial{};
    for (int d = 0; d < N; ++d) spatial[d] = input[d + 2];
    return detail::make_problem<N>(geometry_, input[0], spatial);
  }

  static const fftconv::geometry<N>& validated(const fftconv::geometry<N>& g) {
    validate(g);
    return g;
  }

  fftconv::geometry<N> geometry_;
  detail::conv_impl<P, N, C> impl_;
};

}  // namespace fftconv
