// Autocast (torch.autocast) kernels, written once for every family and both autocast keys.
//
// A family's ops/<op>/<op>_autocast.cpp holds one function template per op, templated on the
// dispatch key (AutocastCPU or AutocastCUDA), that casts the arguments by the op's policy and
// calls the op again below autocast through the typed C++ API (as torchvision's
// csrc/ops/autocast/*.cpp do):
//
//   template <c10::DispatchKey key>
//   at::Tensor bias_act_autocast(const at::Tensor& x, const std::optional<at::Tensor>& b, ...) {
//     using A = myops::autocast::Autocast<key>;
//     return A::call(myops::bias_act, x, A::cast(x.scalar_type(), b), ...);
//   }
//   template <c10::DispatchKey key>
//   void register_autocast(torch::Library& m) { m.impl("bias_act", &bias_act_autocast<key>); }
//   MYOPS_AUTOCAST_IMPL(register_autocast)
//
// An op that keeps type promotion (the elementwise ops, like ATen's add/mul) or that only
// autograd calls below autocast registers A::fall_through instead: the same behaviour as
// registering nothing (PyTorch has a global fallthrough at the autocast keys), but the policy
// is written down, and tests/test_autocast.py checks that every op has one.
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/DispatchKey.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <initializer_list>
#include <optional>
#include <utility>

namespace myops::autocast {

template <c10::DispatchKey key>
struct Autocast {
  static_assert(key == c10::DispatchKey::AutocastCPU || key == c10::DispatchKey::AutocastCUDA,
                "myops registers autocast kernels for AutocastCPU and AutocastCUDA");
  static constexpr c10::DeviceType device =
      key == c10::DispatchKey::AutocastCPU ? c10::DeviceType::CPU : c10::DeviceType::CUDA;

  // torch.autocast's dtype for this device (default bfloat16 on the CPU, float16 on CUDA).
  static at::ScalarType lower_precision() {
    return at::autocast::get_lower_precision_fp_from_device_type(device);
  }

  // `arg` (a Tensor, an optional Tensor, or anything else, returned as is) in `dtype` when
  // autocast may cast it: a floating-point tensor on this device that is not float64, ATen's
  // own rule (at::autocast::cached_cast, which also caches the cast of a float32 leaf that
  // requires grad, a parameter, for the rest of the autocast region).
  template <typename T>
  static T cast(at::ScalarType dtype, const T& arg) {
    return at::autocast::cached_cast(dtype, arg, device);
  }

  // A FIR filter (upfirdn2d, filtered_lrelu): those ops take a float32 filter (what StyleGAN's
  // setup_filter makes) with an x of any dtype, so only a filter of a third dtype is cast to x's.
  static std::optional<at::Tensor> cast_filter(at::ScalarType x_dtype, const std::optional<at::Tensor>& f) {
    const bool keep = !f.has_value() || !f->defined() || f->scalar_type() == at::kFloat;
    return keep ? f : cast(x_dtype, f);
  }

  // op(args...) with this autocast key excluded: the op dispatches again below autocast
  // (autograd, then the backend), and so does everything it calls.
  template <typename Op, typename... Args>
  static decltype(auto) call(Op&& op, Args&&... args) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
    return std::forward<Op>(op)(std::forward<Args>(args)...);
  }

  // The ops of `names` have no autocast kernel of their own: they run with the dtypes they
  // were given (type promotion, for ops that have it).
  static void fall_through(torch::Library& m, std::initializer_list<const char*> names) {
    for (const char* name : names) m.impl(name, torch::CppFunction::makeFallthrough());
  }
};

}  // namespace myops::autocast

// A family's autocast registration, at both keys: register_fn<key>(m), a function template of
// the family, for AutocastCPU and AutocastCUDA (plain dispatcher entries: no CUDA build needed).
#define MYOPS_AUTOCAST_IMPL(register_fn)                                                  \
  TORCH_LIBRARY_IMPL(myops, AutocastCPU, m) { register_fn<c10::DispatchKey::AutocastCPU>(m); } \
  TORCH_LIBRARY_IMPL(myops, AutocastCUDA, m) { register_fn<c10::DispatchKey::AutocastCUDA>(m); }
