#pragma once
// One-off calls without a conv object: fftconv::forward<Policy>(exec, geometry, x, w, bias, y) and the two
// backward passes. Each thread keeps a small cache of conv objects keyed by geometry, element type and policy,
// so repeated calls reuse plans and workspace. Nothing computed from one call's data is reused by the next:
// weights are never declared constant, and cached input maps are discarded before each backward pass.
// fftconv::automatic chooses for each pass on its own (each call declares just its pass).
//
// Views are taken as any cuda::std::mdspan with layout_right (a view<T> or a view<const T>).

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <new>  // std::nothrow
#include <type_traits>
#include <vector>

#include "backend/queue.hpp"  // execution_queue, device_guard
#include "conv.hpp"
#include "executor.hpp"
#include "geometry.hpp"
#include "policy.hpp"
#include "view.hpp"

namespace fftconv {
namespace detail {

inline constexpr std::size_t functional_cache_capacity = 16;

// Every thread's caches register a clear function here, so clear_functional_cache() reaches them all.
inline std::vector<void (*)()>& functional_cache_clearers() {
  thread_local std::vector<void (*)()> clearers;
  return clearers;
}

template <int N, class T, class P>
struct functional_cache {
  struct entry {
    geometry<N> key;
    execution_queue queue;  // objects never change queue: workspace is freed in its stream's order
    std::unique_ptr<conv<N, T, P>> layer;
  };
  static std::list<entry>& entries() {
    thread_local std::list<entry> cache = [] {
      functional_cache_clearers().push_back([] { evict_all(entries()); });
      return std::list<entry>{};
    }();
    return cache;
  }
  // Destroys the least recently used entry with its own device current: its workspace and plans are freed
  // and waited for on that device's streams, whichever device the calling thread has current now.
  static void evict_last(std::list<entry>& cache) noexcept {
    const device_guard guard(cache.back().queue.device, std::nothrow);
    cache.pop_back();
  }
  static void evict_all(std::list<entry>& cache) noexcept {
    while (!cache.empty()) evict_last(cache);
  }
};

// The calling thread's conv object for (N, T, P, g) on this executor's stream and device, created on first
// use; least recently used evicted.
template <int N, class T, class P, class Exec>
conv<N, T, P>& cached_conv(const Exec& exec, const geometry<N>& g) {
  auto& cache = functional_cache<N, T, P>::entries();
  const execution_queue queue = queue_of(exec);
  for (auto it = cache.begin(); it != cache.end(); ++it)
    if (it->key == g && it->queue == queue) {
      cache.splice(cache.begin(), cache, it);
      return *cache.front().layer;
    }
  auto layer = std::make_unique<conv<N, T, P>>(g);  // validates g before the cache changes
  if (cache.size() == functional_cache_capacity) functional_cache<N, T, P>::evict_last(cache);
  cache.push_front({g, queue, std::move(layer)});
  return *cache.front().layer;
}

template <class View>
using element_of = std::remove_const_t<typename View::element_type>;

template <class View>
view<const element_of<View>, View::rank()> as_const_view(const View& v) {
  static_assert(std::is_same_v<typename View::layout_type, cuda::std::layout_right>,
                "fftconv: views must be row-major (layout_right)");
  return make_view<const element_of<View>, View::rank()>(v.data_handle(), extents_of(v));
}

template <class View>
view<element_of<View>, View::rank()> as_mutable_view(const View& v) {
  static_assert(!std::is_const_v<typename View::element_type>, "fftconv: an output view must not be const");
  static_assert(std::is_same_v<typename View::layout_type, cuda::std::layout_right>,
                "fftconv: views must be row-major (layout_right)");
  return make_view<element_of<View>, View::rank()>(v.data_handle(), extents_of(v));
}

}  // namespace detail

// Destroys the calling thread's cached conv objects (and their workspace). Call it before destroying a stream
// that functional calls ran on.
inline void clear_functional_cache() {
  for (auto clear : detail::functional_cache_clearers()) clear();
}

template <policy P = fft, int N, executor Exec, class X, class W, class Y>
void forward(Exec exec, const geometry<N>& g, const X& x, const W& w, const detail::element_of<Y>* bias, const Y& y) {
  using T = detail::element_of<Y>;
  static_assert(X::rank() == N + 2 && W::rank() == N + 2 && Y::rank() == N + 2, "fftconv: views must have rank N + 2");
  auto& layer = detail::cached_conv<N, T, P>(exec, g);
  layer.set_passes({.forward = true, .backward_data = false, .backward_filter = false});  // automatic: per pass
  layer.forward(exec, detail::as_const_view(x), detail::as_const_view(w), bias, detail::as_mutable_view(y));
}

template <policy P = fft, int N, executor Exec, class DY, class W, class DX>
void backward_data(Exec exec, const geometry<N>& g, const DY& dy, const W& w, const DX& dx) {
  using T = detail::element_of<DX>;
  static_assert(DY::rank() == N + 2 && W::rank() == N + 2 && DX::rank() == N + 2, "fftconv: views must have rank N + 2");
  auto& layer = detail::cached_conv<N, T, P>(exec, g);
  layer.set_passes({.forward = false, .backward_data = true, .backward_filter = false});
  layer.discard_cached_maps();
  layer.backward_data(exec, detail::as_const_view(dy), detail::as_const_view(w),
                                                detail::as_mutable_view(dx));
}

template <policy P = fft, int N, executor Exec, class X, class DY, class DW>
void backward_filter(Exec exec, const geometry<N>& g, const X& x, const DY& dy, const DW& dw,
                     detail::element_of<DW>* dbias) {
  using T = detail::element_of<DW>;
  static_assert(X::rank() == N + 2 && DY::rank() == N + 2 && DW::rank() == N + 2, "fftconv: views must have rank N + 2");
  auto& layer = detail::cached_conv<N, T, P>(exec, g);
  layer.set_passes({.forward = false, .backward_data = false, .backward_filter = true});
  layer.discard_cached_maps();
  layer.backward_filter(exec, detail::as_const_view(x), detail::as_const_view(dy),
                                                  detail::as_mutable_view(dw), dbias);
}

}  // namespace fftconv
