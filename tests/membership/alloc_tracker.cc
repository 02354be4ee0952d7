#include "tests/membership/alloc_tracker.h"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define THRIFTY_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define THRIFTY_TEST_TSAN 1
#endif

#ifdef THRIFTY_TEST_TSAN
#include <sanitizer/allocator_interface.h>
#endif

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_largest{0};

void Record(size_t size) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size)) {
    }
  }
}
}  // namespace

#ifdef THRIFTY_TEST_TSAN
// TSan's runtime defines operator new and delete strongly (ASan's are weak), so they cannot be
// replaced: its allocator hook sees every allocation instead (malloc too, which only adds).
namespace {
void OnMalloc(const volatile void*, size_t size) { Record(size); }
void OnFree(const volatile void*) {}
[[maybe_unused]] const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(OnMalloc, OnFree);
}  // namespace
#else
namespace {
void* Allocate(size_t size) {
  Record(size);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t size) { return Allocate(size); }
void* operator new[](size_t size) { return Allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace thrifty::membership::testing {

LargestAllocation::LargestAllocation() {
  g_largest.store(0);
  g_tracking.store(true);
}
LargestAllocation::~LargestAllocation() { g_tracking.store(false); }
size_t LargestAllocation::bytes() const { return g_largest.load(); }

}  // namespace thrifty::membership::testing
