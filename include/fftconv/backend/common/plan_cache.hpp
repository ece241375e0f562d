#pragma once
// The process-wide FFT plan cache. Creating a plan costs far more than running it (FFTW plans, cuFFT
// kernels), and every conv object of one shape needs the same plans, so plans are created once per
// (library, device, descriptor) and shared.
//
// Locking rule: one mutex guards the map and nothing else. A plan is created outside it (making a cuFFT plan
// or measuring an FFTW one takes milliseconds, and lookups of other shapes need not wait for it; FFTW's planner
// has its own mutex), so two threads may build the same key at once: the first to store it wins and the other
// returns the stored plan, destroying its own. Values are shared_ptr: clear_plan_cache() drops the cache's
// references, and objects still using a plan keep it alive. Running a shared plan concurrently is each
// library's business (FFTW's new-array execute is thread-safe; a cuFFT plan has its own mutex around
// stream + work area + exec).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fft_desc.hpp"

namespace fftconv::detail {

enum class fft_library : std::int32_t { fftw = 0, cufft = 1 };

struct fft_plan_key {
  fft_library library;
  std::int32_t device;  // CUDA device id for cuFFT (plans are per device); -1 for FFTW
  fft_desc desc;
};
static_assert(std::is_trivial_v<fft_plan_key> && std::is_standard_layout_v<fft_plan_key>);

inline fft_plan_key make_fft_plan_key(fft_library library, std::int32_t device, const fft_desc& desc) {
  fft_plan_key key;
  std::memset(&key, 0, sizeof key);  // padding bits zeroed: the hash reads raw bytes
  key.library = library;
  key.device = device;
  key.desc = desc;
  return key;
}

inline bool operator==(const fft_plan_key& a, const fft_plan_key& b) {
  return a.library == b.library && a.device == b.device && a.desc == b.desc;
}

struct fft_plan_key_hash {
  std::size_t operator()(const fft_plan_key& key) const noexcept {
    unsigned char bytes[sizeof(fft_plan_key)];
    std::memcpy(bytes, &key, sizeof key);
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (unsigned char b : bytes) hash = (hash ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(hash);
  }
};

class fft_plan_cache {
 public:
  // Intentionally never destroyed: cuFFT plans must not be destroyed after the CUDA runtime's own static
  // teardown, whose order relative to ours is unspecified. clear_plan_cache() releases plans explicitly.
  static fft_plan_cache& instance() {
    static fft_plan_cache* cache = new fft_plan_cache();
    return *cache;
  }

  // The cached plan for `key`, or make() (a shared_ptr<Plan>) stored and returned; make() runs without the
  // lock and may throw (nothing is stored). Plan types never mix under one key: the key names the library and
  // the descriptor names the precision.
  // Past `capacity` plans, those no conv object holds any more are released first, so a process that sees many
  // shapes keeps only the plans in use plus at most `capacity`.
  template <class Plan, class Make>
  std::shared_ptr<Plan> get_or_create(const fft_plan_key& key, Make&& make) {
    if (std::shared_ptr<Plan> cached = find<Plan>(key)) return cached;
    std::shared_ptr<Plan> made = make();
    // Released after the lock (declared before it): a plan's destructor waits for its GPU work.
    std::vector<std::shared_ptr<void>> unused;
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = plans_.find(key); found != plans_.end()) {
      unused.push_back(std::move(made));  // another thread stored this key while we built: keep one plan
      return std::static_pointer_cast<Plan>(found->second);
    }
    if (plans_.size() >= capacity_) {
      for (auto it = plans_.begin(); it != plans_.end();) {
        if (it->second.use_count() == 1) {
          unused.push_back(std::move(it->second));
          it = plans_.erase(it);
        } else {
          ++it;
        }
      }
    }
    plans_.emplace(key, made);
    return made;
  }

  void set_capacity(std::size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    capacity_ = capacity;
  }

  void clear() {
    std::unordered_map<fft_plan_key, std::shared_ptr<void>, fft_plan_key_hash> released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released.swap(plans_);
    }
    // Plans whose last reference this was are destroyed here, outside the cache lock.
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_.size();
  }

 private:
  fft_plan_cache() = default;

  template <class Plan>
  std::shared_ptr<Plan> find(const fft_plan_key& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = plans_.find(key); found != plans_.end()) return std::static_pointer_cast<Plan>(found->second);
    return nullptr;
  }

  mutable std::mutex mutex_;
  std::size_t capacity_ = 128;
  std::unordered_map<fft_plan_key, std::shared_ptr<void>, fft_plan_key_hash> plans_;
};

}  // namespace fftconv::detail

namespace fftconv {

// Releases the process-wide FFT plans (FFTW and cuFFT). Live conv objects keep the plans they hold; later
// calls recreate what they need. Safe to call from any thread.
inline void clear_plan_cache() { detail::fft_plan_cache::instance().clear(); }

// Plans kept beyond those in use (default 128): past it, plans no conv object holds are released.
inline void set_plan_cache_capacity(std::size_t plans) { detail::fft_plan_cache::instance().set_capacity(plans); }

// Number of plans in the process-wide cache (for tests and diagnostics).
inline std::size_t plan_cache_size() { return detail::fft_plan_cache::instance().size(); }

}  // namespace fftconv
