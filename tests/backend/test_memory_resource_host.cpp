// The caller's memory on the host: with fftconv::host{&resource}, every byte a training step allocates comes
// from the resource and goes back to it (same size, same alignment) by the time the layer is destroyed, and a
// resource that cannot serve a request makes the call throw fftconv::out_of_memory.
//
// "Every byte" is checked from the other side too: this executable replaces the aligned forms of global
// operator new (fftconv's own allocations are 64-byte aligned news) and counts them while a step runs with a
// resource. Steps run on a fresh thread, whose OpenMP team and thread-local buffers are new as well, so that
// no buffer made by an earlier test can hide an allocation that bypasses the resource.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "backend/counting_resource.hpp"
#include "support/expect_error.hpp"

// ---- aligned operator new, counted while `counting` is on ------------------------------------------------

namespace {
std::atomic<bool> counting{false};
std::atomic<long> aligned_news{0};

void* aligned_allocate(std::size_t bytes, std::align_val_t alignment) noexcept {
  if (counting.load()) ++aligned_news;
  const auto align = static_cast<std::size_t>(alignment);
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + align - 1) / align * align;
  return std::aligned_alloc(align, rounded);
}
}  // namespace

void* operator new(std::size_t bytes, std::align_val_t alignment) {
  if (void* p = aligned_allocate(bytes, alignment)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) { return ::operator new(bytes, alignment); }
void* operator new(std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return aligned_allocate(bytes, alignment);
}
void* operator new[](std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return aligned_allocate(bytes, alignment);
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

struct host_upstream {
  static void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st*) {
    const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    return std::aligned_alloc(alignment, rounded);
  }
  static void deallocate(void* pointer, std::size_t, std::size_t, CUstream_st*) noexcept { std::free(pointer); }
};

using resource = testing_support::counting_resource<host_upstream>;

// Runs `body` on a new thread (new thread-locals, a new OpenMP team) and rethrows what it threw.
template <class Body>
void on_fresh_thread(Body&& body) {
  std::exception_ptr failure;
  std::thread([&] {
    try {
      body();
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (failure) std::rethrow_exception(failure);
}

// Counts the aligned news of `body` (run on a fresh thread).
template <class Body>
long aligned_news_of(Body&& body) {
  aligned_news = 0;
  counting = true;
  try {
    on_fresh_thread(body);
  } catch (...) {
    counting = false;
    throw;
  }
  counting = false;
  return aligned_news.load();
}

// A small 2D layer's tensors: x [2, 3, 12, 12], w [4, 3, 3, 3], bias [4], padding 1 ('same').
struct step_data {
  static constexpr std::int64_t batch = 2, in = 3, out = 4, n = 12, k = 3;
  std::vector<float> x, w, bias, dy;
  std::vector<float> y, dx, dw, db;
  step_data() : x(batch * in * n * n), w(out * in * k * k), bias(out), dy(batch * out * n * n) {
    std::uint32_t state = 12345;
    auto next = [&] {
      state = state * 1664525u + 1013904223u;
      return float(int(state >> 9) % 2001 - 1000) / 1000.0f;
    };
    for (auto* v : {&x, &w, &bias, &dy})
      for (float& e : *v) e = next();
    y.assign(batch * out * n * n, 0), dx.assign(x.size(), 0), dw.assign(w.size(), 0), db.assign(out, 0);
  }
  static fftconv::geometry<2> geometry() {
    return {.in_channels = in, .out_channels = out, .kernel = {k, k}, .padding = {1, 1}};
  }
};

// forward, backward_data and backward_filter, as a training step runs them.
template <class Layer>
void training_step(Layer& layer, fftconv::host exec, step_data& d) {
  using cv = fftconv::view<const float, 4>;
  using mv = fftconv::view<float, 4>;
  const auto B = step_data::batch, I = step_data::in, O = step_data::out, n = step_data::n, k = step_data::k;
  layer.forward(exec, cv(d.x.data(), B, I, n, n), cv(d.w.data(), O, I, k, k), d.bias.data(), mv(d.y.data(), B, O, n, n));
  layer.backward_data(exec, cv(d.dy.data(), B, O, n, n), cv(d.w.data(), O, I, k, k), mv(d.dx.data(), B, I, n, n));
  layer.backward_filter(exec, cv(d.x.data(), B, I, n, n), cv(d.dy.data(), B, O, n, n), mv(d.dw.data(), O, I, k, k),
                        d.db.data());
}

void check_books_balanced(const resource& r) {
  CHECK(r.live_bytes() == 0);
  CHECK(r.live_allocations() == 0);
  CHECK(r.allocations() == r.deallocations());
  const std::vector<std::string> problems = r.problems();
  for (const std::string& problem : problems) FAIL_CHECK(problem);
  for (const auto& a : r.history()) {
    CHECK(a.alignment == 64);
    CHECK(a.stream == nullptr);
  }
}

}  // namespace

TEST_CASE("host allocate: from the executor's resource, and back to it with the same size and alignment") {
  resource r;
  {
    auto buffer = fftconv::detail::backend<fftconv::host>::allocate<double>(fftconv::host{&r}, 1000);
    CHECK(buffer.resource() == &r);
    CHECK(r.live_bytes() == 8000);
    CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % 64 == 0);
    auto moved = std::move(buffer);
    CHECK(buffer.data() == nullptr);
    CHECK(r.live_bytes() == 8000);
    auto empty = fftconv::detail::backend<fftconv::host>::allocate<double>(fftconv::host{&r}, 0);
    CHECK(empty.data() == nullptr);
  }
  CHECK(r.requests() == 1);  // nothing asked for an empty buffer
  check_books_balanced(r);
}

TEST_CASE("host allocate: a resource that returns null or throws bad_alloc becomes out_of_memory") {
  resource r;
  for (const auto failure : {testing_support::resource_failure::null, testing_support::resource_failure::bad_alloc}) {
    r.fail_with(failure);
    try {
      (void)fftconv::detail::backend<fftconv::host>::allocate<float>(fftconv::host{&r}, 100);
      FAIL("no out_of_memory");
    } catch (const fftconv::out_of_memory& e) {
      CHECK(e.bytes() == 400);
      CHECK(std::string(e.what()).find("host") != std::string::npos);
    }
  }
  check_books_balanced(r);
}

TEST_CASE("host allocate: memory without the alignment asked for is handed back and refused") {
  struct misaligned : fftconv::memory_resource {
    std::vector<unsigned char> storage = std::vector<unsigned char>(4096);
    int returned = 0;
    void* allocate(std::size_t, std::size_t, CUstream_st*) override {
      auto base = reinterpret_cast<std::uintptr_t>(storage.data());
      return reinterpret_cast<void*>((base + 63) / 64 * 64 + 8);
    }
    void deallocate(void*, std::size_t, std::size_t, CUstream_st*) noexcept override { ++returned; }
  } r;
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] { (void)fftconv::detail::backend<fftconv::host>::allocate<float>(fftconv::host{&r}, 100); },
      {"memory_resource", "not aligned", "64"});
  CHECK(r.returned == 1);
}

TEST_CASE("host spectral products pack in the resource's memory, one region per thread, for the call only") {
  using fftconv::detail::complex;
  const auto d = fftconv::detail::forward_products_desc(37, 40, 2, 5, 6, 9);
  std::vector<complex<float>> a(9 * 2 * 5 * 40), b(2 * 6 * 5 * 40), with(9 * 2 * 6 * 40), without(with.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = complex<float>(float(i % 7) - 3, float(i % 5) - 2);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = complex<float>(float(i % 3) - 1, float(i % 11) - 5);
  resource r;
  const long news = aligned_news_of([&] {
    fftconv::detail::run_spectral_gemm(
        fftconv::host{&r}, fftconv::detail::spectral_gemm<float>(d, a.data(), b.data(), with.data()));
  });
  CHECK(news == 0);
  CHECK(r.allocations() == 1);
  check_books_balanced(r);
  fftconv::detail::run_spectral_gemm(
      fftconv::host{}, fftconv::detail::spectral_gemm<float>(d, a.data(), b.data(), without.data()));
  CHECK(with == without);
}

TEST_CASE_TEMPLATE("a training step with host{&resource} allocates only from it and returns every byte", P,
                   fftconv::naive, fftconv::im2col, fftconv::fft) {
  resource r;
  step_data with_resource, without_resource;
  std::size_t live_while_held = 0;
  const long news = aligned_news_of([&] {
    fftconv::conv<2, float, P> layer(step_data::geometry());
    training_step(layer, fftconv::host{&r}, with_resource);
    training_step(layer, fftconv::host{&r}, with_resource);  // a second step reuses what the layer holds
    live_while_held = r.live_bytes();
  });
  INFO("policy ", typeid(P).name(), ": ", r.allocations(), " allocations, peak ", r.peak_bytes(), " bytes, ",
       live_while_held, " bytes held between steps");
  CHECK(news == 0);  // nothing of fftconv's own: every buffer came from the resource
  if constexpr (!std::is_same_v<P, fftconv::naive>) CHECK(r.allocations() > 0);  // naive needs no workspace
  check_books_balanced(r);  // the layer is gone: everything it held went back

  // The resource's memory holds the same results as fftconv's own.
  fftconv::conv<2, float, P> layer(step_data::geometry());
  training_step(layer, fftconv::host{}, without_resource);
  CHECK(with_resource.y == without_resource.y);
  CHECK(with_resource.dx == without_resource.dx);
  CHECK(with_resource.dw == without_resource.dw);
  CHECK(with_resource.db == without_resource.db);
}

// Channels-last tensors (NHWC) and weights in [k, k, in, out] order, as a framework hands them over.
template <class T>
fftconv::tensor_ref<T, 4> channels_last(T* data, std::int64_t b, std::int64_t c, std::int64_t n) {
  return {data, {b, c, n, n}, {n * n * c, 1, n * c, c}};
}
template <class T>
fftconv::tensor_ref<T, 4> taps_first(T* data, std::int64_t o, std::int64_t i, std::int64_t k) {
  return {data, {o, i, k, k}, {1, o, k * i * o, i * o}};
}

TEST_CASE_TEMPLATE("strided views reach the kernels in place: after warm-up a channels-last step allocates nothing", P,
                   fftconv::naive, fftconv::fft, fftconv::im2col) {
  const auto B = step_data::batch, I = step_data::in, O = step_data::out, n = step_data::n, k = step_data::k;
  step_data d;
  resource r;
  const fftconv::host exec{&r};
  fftconv::conv<2, float, P> layer(step_data::geometry());
  const std::array<std::int64_t, 4> x_extents{B, I, n, n};
  const std::size_t saved_bytes = layer.saved_bytes(x_extents);
  const std::unique_ptr<std::byte, decltype(&std::free)> saved_memory(
      static_cast<std::byte*>(std::aligned_alloc(64, (saved_bytes + 63) / 64 * 64)), &std::free);
  const fftconv::saved_state saved(saved_memory.get(), saved_bytes);
  // naive's dw is a segmented sum's dense output; im2col's GEMMs take w, dy, y and dw dense.
  const bool weights_in_place = std::is_same_v<P, fftconv::fft>;
  const bool all_in_place = !std::is_same_v<P, fftconv::im2col>;
  const auto step = [&] {
    const auto x = channels_last<const float>(d.x.data(), B, I, n), dy = channels_last<const float>(d.dy.data(), B, O, n);
    const auto y = channels_last<float>(d.y.data(), B, O, n), dx = channels_last<float>(d.dx.data(), B, I, n);
    const auto w = taps_first<const float>(d.w.data(), O, I, k);
    const auto dw = weights_in_place ? taps_first<float>(d.dw.data(), O, I, k)
                                     : fftconv::tensor_ref<float, 4>(d.dw.data(), {O, I, k, k});
    layer.forward(exec, x, w, d.bias.data(), y, saved);
    layer.backward(exec, x, w, dy, saved, {.dx = dx, .dw = dw, .dbias = d.db.data()});
  };
  step();
  const std::size_t warm = r.allocations();
  step();
  INFO("policy ", typeid(P).name(), ": ", r.allocations() - warm, " allocations in the second step");
  if (all_in_place)
    CHECK(r.allocations() == warm);
  else
    CHECK(r.allocations() > warm);  // the GEMM-fed tensors are gathered for each call

  // The same results as the same values in dense NCHW tensors. position(i): where NCHW element i lies.
  const auto nhwc = [&](std::int64_t channels) {
    return [=](std::size_t i) {
      const std::int64_t e = std::int64_t(i), q = e % (n * n), c = e / (n * n) % channels, b = e / (n * n * channels);
      return std::size_t(b * n * n * channels + q * channels + c);
    };
  };
  const auto taps = [&](std::size_t i) {
    const std::int64_t e = std::int64_t(i), tap = e % (k * k), c = e / (k * k) % I, o = e / (k * k * I);
    return std::size_t(tap * I * O + c * O + o);
  };
  const auto identity = [](std::size_t i) { return i; };
  const auto to_dense = [](const std::vector<float>& v, auto position) {
    std::vector<float> dense(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) dense[i] = v[position(i)];
    return dense;
  };
  step_data dense = d;
  dense.x = to_dense(d.x, nhwc(I));
  dense.dy = to_dense(d.dy, nhwc(O));
  dense.w = to_dense(d.w, taps);
  fftconv::conv<2, float, P> reference_layer(step_data::geometry());
  training_step(reference_layer, fftconv::host{}, dense);
  const auto difference = [&](const std::vector<float>& strided_result, const std::vector<float>& dense_result,
                              auto position) {
    double worst = 0;
    for (std::size_t i = 0; i < dense_result.size(); ++i)
      worst = std::max(worst, double(std::abs(strided_result[position(i)] - dense_result[i])));
    return worst;
  };
  CHECK(difference(d.y, dense.y, nhwc(O)) < 1e-4);
  CHECK(difference(d.dx, dense.dx, nhwc(I)) < 1e-4);
  CHECK(difference(d.db, dense.db, identity) < 1e-4);
  if (weights_in_place)
    CHECK(difference(d.dw, dense.dw, taps) < 1e-3);
  else
    CHECK(difference(d.dw, dense.dw, identity) < 1e-3);
}

TEST_CASE_TEMPLATE("a resource that cannot serve a layer's workspace makes the call throw out_of_memory", P,
                   fftconv::im2col, fftconv::fft) {
  for (const auto failure : {testing_support::resource_failure::null, testing_support::resource_failure::bad_alloc}) {
    CAPTURE(int(failure));
    resource r;
    step_data d;
    {
      fftconv::conv<2, float, P> layer(step_data::geometry());
      r.fail_with(failure);
      CHECK_THROWS_AS(training_step(layer, fftconv::host{&r}, d), fftconv::out_of_memory);
      CHECK(r.requests() > 0);
      // The layer is still usable once memory is there again.
      r.fail_with(testing_support::resource_failure::none);
      CHECK_NOTHROW(training_step(layer, fftconv::host{&r}, d));
    }
    check_books_balanced(r);
  }
}
