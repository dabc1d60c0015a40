// std::vector whose storage starts on a 64-byte boundary (a cache line, an AVX-512 vector), for
// the scratch buffers of CPU kernels that access them a whole vector at a time. operator new
// aligns to 16 bytes only, so a vector of 16 floats at an "aligned" offset of such a buffer
// still straddles two cache lines: every load and store of it is a split access (twice the
// cache accesses; measured on upfirdn2d's plane path, issue 13).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace myops::ops {

inline constexpr std::size_t kCacheLine = 64;

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kCacheLine}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kCacheLine}); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const noexcept { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace myops::ops
