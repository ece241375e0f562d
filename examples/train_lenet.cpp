// train_lenet: LeNet-5 on Fashion-MNIST or CIFAR-10 with fftconv's convolution policies, on the host backend
// or the GPU. `train_lenet --help` lists the options.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <fftconv/config.hpp>
#if FFTCONV_HAS_CBLAS
#include FFTCONV_CBLAS_HEADER
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "lenet/data.hpp"
#include "lenet/options.hpp"
#include "lenet/training.hpp"
#if FFTCONV_EXAMPLES_HAVE_DEVICE
#include "lenet/device_entry.hpp"
#endif

namespace {

// One thread pool on the host. OpenBLAS's pthread build keeps a pool of its own that spins and yields beside
// OpenMP's threads (the library's loops) and competes with them for the cores; this program holds it to one
// thread, so that its products run inside OpenMP's schedule. A program choice, not the library's: fftconv
// never changes its caller's threading. With OpenBLAS's OpenMP build (libopenblas0-openmp) there is one pool
// already.
void one_thread_pool() {
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION) && defined(_OPENMP)
  constexpr int openblas_pthreads = 1;  // openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP
  if (openblas_get_parallel() == openblas_pthreads && omp_get_max_threads() > 1) openblas_set_num_threads(1);
#endif
}

lenet::dataset_split load(const lenet::options& o) {
  lenet::dataset_split data = o.dataset == "cifar10"
                                  ? lenet::load_cifar10(o.data_dir)
                                  : lenet::load_fashion_mnist(o.data_dir.empty() ? lenet::fashion_mnist_default_dir
                                                                                 : o.data_dir);
  // Statistics of the whole training set, so that --limit changes what is trained on, not the inputs' scale.
  lenet::normalise(data);
  lenet::keep_first(data.train, o.limit);
  return data;
}

// "host" or "gpu" for o.device, or a usage_error when the GPU is asked for and cannot be had.
std::string resolve_device(const lenet::options& o) {
#if FFTCONV_EXAMPLES_HAVE_DEVICE
  const bool gpu = lenet::gpu_count() > 0;
  if (o.device == "gpu" && !gpu) throw lenet::usage_error("--device gpu: no CUDA device is available");
  return o.device == "host" || !gpu ? "host" : "gpu";
#else
  if (o.device == "gpu") throw lenet::usage_error("--device gpu: this train_lenet was built without CUDA");
  return "host";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  lenet::options o;
  try {
    o = lenet::parse_options(argc, argv);
    if (o.help) {
      std::fputs(lenet::usage(argv[0]).c_str(), stdout);
      return 0;
    }
    if (!lenet::is_compiled_policy(o.policy))
      throw lenet::usage_error("policy '" + o.policy + "' is not compiled in (compiled: " + lenet::policy_names() + ")");
  } catch (const lenet::usage_error& e) {
    std::fprintf(stderr, "train_lenet: %s\n%s", e.what(), lenet::usage(argv[0]).c_str());
    return 2;
  }
  try {
    const std::string device = resolve_device(o);
    // Refused before the data are loaded where this translation unit can tell (the GPU's answer comes from
    // with_policy, compiled with nvcc).
    if (device == "host" && !lenet::runs_on_executor<fftconv::host>(o.policy))
      throw lenet::policy_unavailable(lenet::unavailable_reason<fftconv::host>(o.policy));
    const lenet::dataset_split data = load(o);
    std::printf("train_lenet: %s, %lld training / %lld test images of %lldx%lldx%lld; policy %s, device %s, "
                "batch %lld, lr %g, momentum %g, seed %llu, epochs %lld\n",
                data.name.c_str(), static_cast<long long>(data.train.count), static_cast<long long>(data.test.count),
                static_cast<long long>(data.train.channels), static_cast<long long>(data.train.height),
                static_cast<long long>(data.train.width), o.policy.c_str(), device.c_str(),
                static_cast<long long>(o.batch), o.learning_rate, o.momentum, static_cast<unsigned long long>(o.seed),
                static_cast<long long>(o.epochs));
    std::fflush(stdout);
#if FFTCONV_EXAMPLES_HAVE_DEVICE
    if (device == "gpu") {
      lenet::train_on_gpu(o, data);
      return 0;
    }
#endif
    one_thread_pool();
    lenet::run_training(fftconv::host{}, o, data);
    return 0;
  } catch (const lenet::usage_error& e) {
    std::fprintf(stderr, "train_lenet: %s\n", e.what());
    return 2;
  } catch (const lenet::policy_unavailable& e) {
    std::fprintf(stderr, "train_lenet: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_lenet: %s\n", e.what());
    return 1;
  }
}
