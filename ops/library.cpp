// Every myops schema, in one block: the one place that says what the library's ops are.
// Kernels are registered per backend next to each op (ops/<op>/*_{cpu,cuda,meta}.*) and the
// autograd formulas in autograd/<op>.cpp.
#include <torch/library.h>

TORCH_LIBRARY(myops, m) {
  // pt2_compliant: the ops have Meta kernels and pass opcheck, so torch.compile may trace them.
  const std::vector<at::Tag> pt2 = {at::Tag::pt2_compliant_tag};

  // The extension tutorial family (ops/elementwise): broadcasting, float type promotion.
  m.def("muladd(Tensor a, Tensor b, float c) -> Tensor", pt2);  // a * b + c
  m.def("mul(Tensor a, Tensor b) -> Tensor", pt2);
  m.def("add(Tensor a, Tensor b) -> Tensor", pt2);
  m.def("add_out(Tensor a, Tensor b, Tensor(a!) out) -> ()", pt2);  // out = a + b

  // StyleGAN2/3's fused bias + activation + gain + clamp (ops/bias_act).
  m.def("bias_act(Tensor x, Tensor? b=None, int dim=1, str act=\"linear\", float? alpha=None, float? gain=None, float? clamp=None) -> Tensor", pt2);
  // grad * d^order bias_act / dx^order (order 1, 2 or 3; zero where the output is clamped): the
  // backward of bias_act and, one order higher, of itself (double and triple backward).
  m.def("bias_act_backward(Tensor grad, Tensor x, Tensor? b, int dim, str act, float? alpha, "
        "float? gain, float? clamp, int order=1) -> Tensor", pt2);
}
