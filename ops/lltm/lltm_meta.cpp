// Meta kernels: the same checks and output sizes as the real kernels (symbolic batch allowed),
// no data. lltm_forward reports errors as myops.lltm: it is what lltm's autograd formula calls.
#include <torch/library.h>

#include "ops/lltm/lltm.h"

namespace myops::ops::lltm {
namespace {

using Sym = c10::SymInt;

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_forward_meta(
    const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
    const at::Tensor& old_h, const at::Tensor& old_cell) {
  const auto d = check_forward_args<Sym>("myops.lltm", input, weights, bias, old_h, old_cell);
  return empty_forward_outputs<Sym>(input, d).tuple();
}

std::tuple<at::Tensor, at::Tensor> lltm_meta(const at::Tensor& input, const at::Tensor& weights,
                                             const at::Tensor& bias, const at::Tensor& old_h,
                                             const at::Tensor& old_cell) {
  const auto d = check_forward_args<Sym>("myops.lltm", input, weights, bias, old_h, old_cell);
  return {empty_2d<Sym>(input, d.batch, d.state), empty_2d<Sym>(input, d.batch, d.state)};
}

BackwardOutputs lltm_backward_meta(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                   const at::Tensor& new_cell, const at::Tensor& gates,
                                   const at::Tensor& X, const at::Tensor& weights) {
  const auto d = check_backward_args<Sym>("myops.lltm_backward", grad_h, grad_cell, new_cell,
                                          gates, X, weights);
  return empty_backward_outputs<Sym>(new_cell, d);
}

GatesBackwardOutputs lltm_gates_backward_meta(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                              const at::Tensor& new_cell, const at::Tensor& gates) {
  const auto d = check_gates_backward_args<Sym>("myops.lltm_gates_backward", grad_h, grad_cell, new_cell, gates);
  return empty_gates_backward_outputs<Sym>(new_cell, d);
}

CellForwardOutputs lltm_cell_meta(const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  return empty_cell_forward_outputs<Sym>(old_cell, check_cell_forward_args<Sym>(pre_gates, old_cell));
}

CellBackwardOutputs lltm_cell_backward_meta(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                            const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  const auto d = check_cell_backward_args<Sym>(grad_h, grad_cell, pre_gates, old_cell);
  return empty_cell_backward_outputs<Sym>(old_cell, d);
}

CellDoubleBackwardOutputs lltm_cell_double_backward_meta(const at::Tensor& gg_gates, const at::Tensor& gg_old_cell,
                                                         const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                                         const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  const auto d = check_cell_double_backward_args<Sym>(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
  return empty_cell_double_backward_outputs<Sym>(old_cell, d);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("lltm", &lltm_meta);
  m.impl("lltm_forward", &lltm_forward_meta);
  m.impl("lltm_backward", &lltm_backward_meta);
  m.impl("lltm_gates_backward", &lltm_gates_backward_meta);
  m.impl("lltm_cell", &lltm_cell_meta);
  m.impl("lltm_cell_backward", &lltm_cell_backward_meta);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_meta);
}

}  // namespace myops::ops::lltm
