// Helpers shared by the autograd formulas in autograd/.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace myops::autograd {

// True when the call must record a graph node. When false, the Autograd kernel skips
// torch::autograd::Function::apply (a node, saved variables, output wrapping: about 3 us a
// call, most of a small op's cost) and goes straight to the backend kernel.
template <typename... Tensors>
bool needs_graph(const Tensors&... tensors) {
  return at::GradMode::is_enabled() && (... || (tensors.defined() && tensors.requires_grad()));
}

}  // namespace myops::autograd
