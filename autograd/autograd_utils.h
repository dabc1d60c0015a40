// Helpers shared by the autograd formulas in autograd/.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>

#include <optional>
#include <utility>

namespace myops::autograd {

// True when the call must record a graph node. When false, the Autograd kernel skips
// torch::autograd::Function::apply (a node, saved variables, output wrapping: about 3 us a
// call, most of a small op's cost) and goes straight to the backend kernel.
template <typename... Tensors>
bool needs_graph(const Tensors&... tensors) {
  return at::GradMode::is_enabled() && (... || (tensors.defined() && tensors.requires_grad()));
}

// The Autograd kernel's call when no graph is needed: on to the kernels below autograd with
// the key set this kernel was called with (kernels that take a c10::DispatchKeySet first), as
// ATen's generated autograd kernels do, instead of a new dispatch from the thread-local state
// through the typed API. `op` is the op's handle, looked up once (myops::detail::typed_op).
template <typename Signature, typename... Args>
decltype(auto) redispatch_below_autograd(const c10::TypedOperatorHandle<Signature>& op, c10::DispatchKeySet ks,
                                         Args&&... args) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return op.redispatch(ks & c10::after_autograd_keyset, std::forward<Args>(args)...);
}

// True when `t` carries a forward-mode tangent (a dual tensor of torch.autograd.forward_ad, or
// an input of torch.func.jvp / jacfwd). Level 0, as ATen's generated autograd kernels check it:
// functorch's jvp runs each of its levels as forward-AD level 0 of its own wrapped tensors.
inline bool has_forward_grad(const at::Tensor& t) { return t.defined() && t._fw_grad(/*level=*/0).defined(); }
inline bool has_forward_grad(const std::optional<at::Tensor>& t) { return t.has_value() && has_forward_grad(*t); }

// The C++ autograd formulas are reverse mode only. Called first in every Autograd kernel, so
// that an input carrying a tangent raises NotImplementedError naming the op: without it the
// op would return a missing tangent (forward_ad) or a zero one (torch.func.jvp), silently.
template <typename... Tensors>
void check_no_forward_ad(const char* op, const Tensors&... tensors) {
  TORCH_CHECK_NOT_IMPLEMENTED(!(... || has_forward_grad(tensors)), op,
                              ": forward-mode AD (torch.func.jvp, jacfwd, torch.autograd.forward_ad) is not "
                              "supported; use reverse mode (grad, vjp, jacrev)");
}

}  // namespace myops::autograd
