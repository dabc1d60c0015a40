// A pair of macros around code that inlines x86 intrinsics. GCC 12 reports its own AVX-512
// intrinsics (`__m512i __Y = __Y;`, _mm512_undefined*) as using an uninitialized value once they
// are inlined into ours (-Wuninitialized, -Wmaybe-uninitialized); the value is deliberately
// undefined there, so the warnings are silenced between the two macros, and only there. Other
// compilers: nothing.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#define MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF                  \
  _Pragma("GCC diagnostic push")                            \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")     \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define MYOPS_END_INTRINSICS_WARNINGS_OFF _Pragma("GCC diagnostic pop")
#else
#define MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF
#define MYOPS_END_INTRINSICS_WARNINGS_OFF
#endif
