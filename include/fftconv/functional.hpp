#pragma once
// One-off calls without a conv object: fftconv::forward<Policy>(exec, geometry, x, w, bias, y) and the two
// backward passes. Each thread keeps a small cache of conv objects keyed by geometry, element type and policy,
// so repeated calls reuse plans and workspace. Nothing computed from one call's data is reused by the next
// (weights are never declared constant).
// fftconv::automatic chooses for each pass on its own (each call declares just its pass).
//
// Views are taken as any cuda::std::mdspan with a strided mapping, as conv's calls take them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <new>  // std::nothrow
#include <type_traits>
#include <vector>

#include "backend/device/queue.hpp"  // execution_queue, device_guard
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

template <int N, class T, class P, class W>
struct functional_cache {
  struct entry {
    geometry<N> key;
    execution_queue queue;  // objects never change queue: workspace is freed in its stream's order
    std::unique_ptr<conv<N, T, P, W>> layer;
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

// The calling thread's conv object for (N, T, P, W, g) on this executor's stream and device, created on first
// use; least recently used evicted.
template <int N, class T, class P, class W, class Exec>
conv<N, T, P, W>& cached_conv(const Exec& exec, const geometry<N>& g) {
  auto& cache = functional_cache<N, T, P, W>::entries();
  const execution_queue queue = queue_of(exec);
  for (auto it = cache.begin(); it != cache.end(); ++it)
    if (it->key == g && it->queue == queue) {
      cache.splice(cache.begin(), cache, it);
      return *cache.front().layer;
    }
  auto layer = std::make_unique<conv<N, T, P, W>>(g);  // validates g before the cache changes
  if (cache.size() == functional_cache_capacity) functional_cache<N, T, P, W>::evict_last(cache);
  cache.push_front({g, queue, std::move(layer)});
  return *cache.front().layer;
}

// Runs `call` on the calling thread's cached layer for (N, T, P, W, g) on exec's queue, declaring `declared` passes.
// A call on a caller's memory resource runs on a layer of its own instead: the cache may outlive the
// resource, so it holds none of its memory.
template <int N, class T, class P, class W, class Exec, class Call>
void with_layer(const Exec& exec, const geometry<N>& g, const passes& declared, Call&& call) {
  if (exec.resource != nullptr) {
    conv<N, T, P, W> layer(g);
    layer.set_passes(declared);
    call(layer);
    return;
  }
  conv<N, T, P, W>& layer = cached_conv<N, T, P, W>(exec, g);
  layer.set_passes(declared);  // automatic: chooses per pass
  call(layer);
}

template <class View>
using element_of = std::remove_const_t<typename View::element_type>;

}  // namespace detail

// Destroys the calling thread's cached conv objects (and their workspace). Call it before destroying a stream
// that functional calls ran on.
inline void clear_functional_cache() {
  for (auto clear : detail::functional_cache_clearers()) clear();
}

// The calls below take any strided views (see tensor_ref); bias / dbias and scaling as conv's. P is checked by
// conv's static_assert, which names the policies.
template <class P = fft, int N, executor Exec, class X, class W, class Y>
void forward(Exec exec, const geometry<N>& g, const X& x, const W& w,
             optional_vector<const detail::element_of<W>> bias, const Y& y,
             scaling<scalar_of<detail::element_of<Y>>> scale = {}) {
  using T = detail::element_of<Y>;
  static_assert(X::rank() == N + 2 && W::rank() == N + 2 && Y::rank() == N + 2, "fftconv: views must have rank N + 2");
  detail::with_layer<N, T, P, detail::element_of<W>>(exec, g, passes::only(pass::forward),
                              [&](auto& layer) { layer.forward(exec, x, w, bias, y, {}, scale); });
}

template <class P = fft, int N, executor Exec, class DY, class W, class DX>
void backward_data(Exec exec, const geometry<N>& g, const DY& dy, const W& w, const DX& dx,
                   scaling<scalar_of<detail::element_of<DX>>> scale = {}) {
  using T = detail::element_of<DX>;
  static_assert(DY::rank() == N + 2 && W::rank() == N + 2 && DX::rank() == N + 2, "fftconv: views must have rank N + 2");
  detail::with_layer<N, T, P, detail::element_of<W>>(exec, g, passes::only(pass::backward_data),
                              [&](auto& layer) { layer.backward_data(exec, dy, w, dx, scale); });
}

template <class P = fft, int N, executor Exec, class X, class DY, class DW>
void backward_filter(Exec exec, const geometry<N>& g, const X& x, const DY& dy, const DW& dw,
                     optional_vector<detail::element_of<DW>> dbias, scaling<scalar_of<detail::element_of<DY>>> scale = {}) {
  using T = detail::element_of<DY>;
  static_assert(X::rank() == N + 2 && DY::rank() == N + 2 && DW::rank() == N + 2, "fftconv: views must have rank N + 2");
  detail::with_layer<N, T, P, detail::element_of<DW>>(exec, g, passes::only(pass::backward_filter),
                              [&](auto& layer) { layer.backward_filter(exec, x, dy, dw, dbias, scale); });
}

}  // namespace fftconv
