// Host-only C++20 program built with the host compiler against the installed package.
#include <exception>
#include <new>

#include "consumer.hpp"

// The consumer's memory on the host: aligned operator new, with the books kept by consumer::counting_resource.
class aligned_new_resource final : public consumer::counting_resource {
  void* obtain(std::size_t bytes, std::size_t alignment, CUstream_st*) override {
    return ::operator new(bytes, std::align_val_t(alignment));
  }
  void release(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st*) noexcept override {
    ::operator delete(pointer, bytes, std::align_val_t(alignment));
  }
};

int main() try {
  using namespace consumer;
  bool ok = check<fftconv::naive, host_memory>("host naive", fftconv::host{});
  ok = check<fftconv::im2col, host_memory>("host im2col", fftconv::host{}) && ok;
  ok = check<fftconv::fft, host_memory>("host fft", fftconv::host{}) && ok;
  ok = check_bf16<fftconv::fft>("host fft") && ok;
  ok = check_bf16<fftconv::im2col>("host im2col") && ok;
  // automatic with or without its vendor candidate, as the build says (the nocmake.gxx_without_onednn recipe
  // builds this file with -DFFTCONV_HAS_ONEDNN=0 and no -ldnnl).
  ok = check_automatic<host_memory>("host automatic", fftconv::host{}, FFTCONV_HAS_ONEDNN) && ok;
#if FFTCONV_HAS_ONEDNN  // fftconv::vendor on the host does not compile without oneDNN
  ok = check<fftconv::vendor, host_memory>("host vendor", fftconv::host{}) && ok;
#endif

  aligned_new_resource resource;  // outlives the layers that allocate from it
  for (const bool channels_last : {false, true}) {
    ok = train<fftconv::fft, host_memory>("host fft", channels_last, fftconv::host{&resource}, resource) && ok;
    ok = train<fftconv::im2col, host_memory>("host im2col", channels_last, fftconv::host{&resource}, resource) && ok;
#if FFTCONV_HAS_ONEDNN
    ok = train<fftconv::vendor, host_memory>("host vendor", channels_last, fftconv::host{&resource}, resource) && ok;
#endif
  }
  std::printf("consumer_host: fftconv::vendor on the host %s (FFTCONV_HAS_ONEDNN=%d)\n",
              FFTCONV_HAS_ONEDNN ? "checked" : "not built", int(FFTCONV_HAS_ONEDNN));
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer_host: %s\n", e.what());
  return 1;
}
