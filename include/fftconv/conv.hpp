#pragma once
// fftconv::conv<N, T, Policy>: one convolution layer's geometry and the algorithm's cached state (plans,
// spectra, workspace). Calls validate everything before writing anything, then hand the policy a
// detail::problem<N> and raw pointers.
//
// Contracts:
//   - backward_filter overwrites dw and dbias (no accumulation).
//   - fftconv::device calls are ordered on the executor's stream and return before the work completes.
//   - One conv object is not for concurrent use; distinct objects may be used from different threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backend/backend.hpp"
#include "detail/validate.hpp"
#include "executor.hpp"
#include "geometry.hpp"
#include "policy.hpp"
#include "view.hpp"

namespace fftconv {

template <int N, class T, policy P = fft>
class conv {
  static_assert(N >= 1 && N <= 3, "fftconv::conv: spatial rank N must be 1, 2 or 3");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "fftconv::conv: T must be float or double");

 public:
  using value_type = T;
  using policy_type = P;
  static constexpr int rank = N;
  using tensor = view<T, N + 2>;
  using const_tensor = view<const T, N + 2>;

  explicit conv(const geometry<N>& g) : geometry_(validated(g)), impl_(geometry_) {}

  const fftconv::geometry<N>& geometry() const noexcept { return geometry_; }

  // Extents of y for an input of extents [batch, in_channels, spatial...]; throws when any is < 1.
  std::array<std::int64_t, N + 2> output_extents(const std::array<std::int64_t, N + 2>& input) const {
    for (std::size_t r = 0; r < N + 2; ++r)
      if (input[r] < 1)
        detail::fail("output_extents: input extents ", detail::format_extents(input), " must all be >= 1");
    return detail::checked_output_extents(geometry_, input, "output_extents", "input");
  }

  // y = conv(x, w) + bias. bias has out_channels elements or is null.
  template <executor Exec>
  void forward(Exec exec, const_tensor x, const_tensor w, const T* bias, tensor y) {
    detail::check_forward<N, T>(geometry_, x, w, bias, y);
    check_pointers(exec, {{x.data_handle(), "x"}, {w.data_handle(), "w"}, {bias, "bias"}, {y.data_handle(), "y"}});
    impl_.forward(exec, problem_for(x), x.data_handle(), w.data_handle(), bias, y.data_handle());
  }

  // dx = gradient of sum(y * dy) with respect to x.
  template <executor Exec>
  void backward_data(Exec exec, const_tensor dy, const_tensor w, tensor dx) {
    detail::check_backward_data<N, T>(geometry_, dy, w, dx);
    check_pointers(exec, {{dy.data_handle(), "dy"}, {w.data_handle(), "w"}, {dx.data_handle(), "dx"}});
    impl_.backward_data(exec, problem_for(dx), dy.data_handle(), w.data_handle(), dx.data_handle());
  }

  // dw (and db when dbias is not null) = gradients of sum(y * dy); overwritten, not accumulated.
  template <executor Exec>
  void backward_filter(Exec exec, const_tensor x, const_tensor dy, tensor dw, T* dbias) {
    detail::check_backward_filter<N, T>(geometry_, x, dy, dw, dbias);
    check_pointers(exec, {{x.data_handle(), "x"}, {dy.data_handle(), "dy"}, {dw.data_handle(), "dw"}, {dbias, "dbias"}});
    impl_.backward_filter(exec, problem_for(x), x.data_handle(), dy.data_handle(), dw.data_handle(), dbias);
  }

  // Drop whatever the policy cached from the weights (the FFT policy's kernel spectra).
  void weights_changed() { impl_.weights_changed(); }

  // Declare that w does not change between calls (inference): the FFT policy then keeps its kernel spectra
  // until weights_changed(). By default (false) every forward re-reads w.
  void set_weights_constant(bool constant) {
    if constexpr (requires { impl_.set_weights_constant(constant); }) impl_.set_weights_constant(constant);
  }

  // Forget every transformed map cached from call arguments (the FFT policy's X̂, dŶ, and Ŵ unless the weights
  // were declared constant), so the next call transforms its arguments afresh even at the same addresses.
  void discard_cached_maps() {
    if constexpr (requires { impl_.discard_cached_maps(); }) impl_.discard_cached_maps();
  }

  // Bytes of workspace the policy holds or last used (spectra, plans' work areas, column buffers).
  std::size_t workspace_bytes() const { return impl_.workspace_bytes(); }

  // Bytes a full step (forward, backward_data, backward_filter) on an input of these extents would hold,
  // predicted without running or allocating anything (0 for a policy that keeps no workspace).
  std::size_t workspace_bytes(const std::array<std::int64_t, N + 2>& input) const {
    const auto output = output_extents(input);  // validates
    (void)output;
    std::array<std::int64_t, N> spatial{};
    for (int d = 0; d < N; ++d) spatial[d] = input[d + 2];
    const detail::problem<N> p = detail::make_problem<N>(geometry_, input[0], spatial);
    if constexpr (requires { impl_.predicted_workspace_bytes(p); })
      return impl_.predicted_workspace_bytes(p);
    else
      return 0;
  }

  // Upper bound on the temporary memory one call may use, where the policy can trade memory for passes
  // (im2col's column buffer is chunked over the batch to stay under it).
  void set_workspace_limit(std::size_t bytes) {
    if constexpr (requires { impl_.set_workspace_limit(bytes); }) impl_.set_workspace_limit(bytes);
  }

  // Which passes this layer runs (default all three; passes::frozen(), passes::inference()). fftconv::automatic
  // chooses the policy fastest over them; the other policies ignore it.
  void set_passes(const passes& declared) {
    if constexpr (requires { impl_.set_passes(declared); }) impl_.set_passes(declared);
  }

  // fftconv::automatic only: measure or heuristic for this layer (default_automatic_mode() until set), and
  // what was picked for the most recent call and why.
  void set_mode(automatic_mode mode)
    requires requires(detail::conv_impl<P, N, T>& impl) { impl.set_mode(mode); }
  {
    impl_.set_mode(mode);
  }
  decltype(auto) choice() const
    requires requires(const detail::conv_impl<P, N, T>& impl) { impl.choice(); }
  {
    return impl_.choice();
  }

  // The policy's own state, for introspection (e.g. the FFT policy's transform counters) and, non-const, its
  // tuning knobs (e.g. the FFT policy's set_tile_extents, set_products).
  const detail::conv_impl<P, N, T>& implementation() const noexcept { return impl_; }
  detail::conv_impl<P, N, T>& implementation() noexcept { return impl_; }

 private:
  struct named_pointer {
    const void* pointer;
    const char* name;
  };

  template <class Exec>
  static void check_pointers(const Exec& exec, std::initializer_list<named_pointer> pointers) {
    for (const named_pointer& p : pointers)
      if (p.pointer != nullptr) detail::backend<Exec>::check_pointer(exec, p.pointer, p.name);
  }

  template <class V>
  detail::problem<N> problem_for(const V& input) const {
    std::array<std::int64_t, N> spatial{};
    for (int d = 0; d < N; ++d) spatial[d] = input.extent(d + 2);
    return detail::make_problem<N>(geometry_, input.extent(0), spatial);
  }

  static const fftconv::geometry<N>& validated(const fftconv::geometry<N>& g) {
    validate(g);
    return g;
  }

  fftconv::geometry<N> geometry_;
  detail::conv_impl<P, N, T> impl_;
};

}  // namespace fftconv
