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

  // StyleGAN2/3's resampling (ops/upfirdn2d): upsample by zero insertion, pad, FIR filter,
  // downsample. up/down are [x, y], padding [x0, x1, y0, y1], as in StyleGAN's Python API.
  m.def("upfirdn2d(Tensor x, Tensor? f=None, int[2] up=[1,1], int[2] down=[1,1], "
        "int[4] padding=[0,0,0,0], bool flip_filter=False, float gain=1.) -> Tensor", pt2);
  // upfirdn2d with one filter per stack entry: x [S, N, C, H, W], f [S, taps] or [S, fh, fw],
  // out[s] = upfirdn2d(x[s], f[s], ...). What upfirdn2d's vmap rule calls for per-sample filters.
  m.def("upfirdn2d_stacked(Tensor x, Tensor f, int[2] up=[1,1], int[2] down=[1,1], "
        "int[4] padding=[0,0,0,0], bool flip_filter=False, float gain=1.) -> Tensor", pt2);
  // The LLTM cell (ops/lltm): input [B, F], weights [3S, S+F], bias [3S], old_h/old_cell [B, S].
  m.def("lltm(Tensor input, Tensor weights, Tensor bias, Tensor old_h, Tensor old_cell) -> (Tensor new_h, Tensor new_cell)", pt2);
  // What lltm's autograd formula calls: lltm plus what the backward needs (gates: the activated
  // gates [B, 3S]; X = cat([old_h, input], 1)), and the backward from those.
  m.def("lltm_forward(Tensor input, Tensor weights, Tensor bias, Tensor old_h, Tensor old_cell) -> (Tensor new_h, Tensor new_cell, Tensor gates, Tensor X)", pt2);
  m.def("lltm_backward(Tensor grad_h, Tensor grad_cell, Tensor new_cell, Tensor gates, Tensor X, Tensor weights) -> (Tensor grad_input, Tensor grad_weights, Tensor grad_bias, Tensor grad_old_h, Tensor grad_old_cell)", pt2);
  // lltm_backward's gate pass alone: d_gates, the gradient of the gate pre-activations [B, 3S]
  // (what lltm_backward's vmap rule needs, its per-sample products computed by the rule).
  m.def("lltm_gates_backward(Tensor grad_h, Tensor grad_cell, Tensor new_cell, Tensor gates) -> (Tensor d_gates, Tensor grad_old_cell)", pt2);
  // The cell alone, from its gate pre-activations pre_gates [B, 3S] (gates = X @ weights^T + bias
  // computed by the caller): differentiable twice, its backward is lltm_cell_backward. What
  // lltm's vmap rule calls for batched weights (the products per sample, one baddbmm).
  m.def("lltm_cell(Tensor pre_gates, Tensor old_cell) -> (Tensor new_h, Tensor new_cell)", pt2);
  // lltm's double backward (create_graph=True): the gate pass of lltm_backward from the gate
  // pre-activations pre_gates [B, 3S] (differentiable), and its own backward.
  m.def("lltm_cell_backward(Tensor grad_h, Tensor grad_cell, Tensor pre_gates, Tensor old_cell) -> (Tensor d_gates, Tensor d_old_cell)", pt2);
  m.def("lltm_cell_double_backward(Tensor gg_gates, Tensor gg_old_cell, Tensor grad_h, Tensor grad_cell, Tensor pre_gates, Tensor old_cell) -> (Tensor d_grad_h, Tensor d_grad_cell, Tensor d_gates, Tensor d_old_cell)", pt2);
  // StyleGAN2/3's fused bias + activation + gain + clamp (ops/bias_act).
  m.def("bias_act(Tensor x, Tensor? b=None, int dim=1, str act=\"linear\", float? alpha=None, float? gain=None, float? clamp=None) -> Tensor", pt2);
  // grad * d^order bias_act / dx^order (order 1, 2 or 3; zero where the output is clamped): the
  // backward of bias_act and, one order higher, of itself (double and triple backward).
  m.def("bias_act_backward(Tensor grad, Tensor x, Tensor? b, int dim, str act, float? alpha, "
        "float? gain, float? clamp, int order=1) -> Tensor", pt2);
  // StyleGAN3's filtered leaky ReLU (ops/filtered_lrelu): bias, upsample + fu, lrelu * gain,
  // clamp, fd + downsample; padding [x0, x1, y0, y1] relative to the upsampled image. Its
  // backward (grad of x; b's is its sum over N, H, W) is an op of its own.
  m.def("filtered_lrelu(Tensor x, Tensor? fu=None, Tensor? fd=None, Tensor? b=None, int up=1, int down=1, "
        "int[4] padding=[0,0,0,0], float gain=1.4142135623730951, float slope=0.2, float? clamp=None, "
        "bool flip_filter=False) -> Tensor", pt2);
  m.def("filtered_lrelu_backward(Tensor grad, Tensor x, Tensor? fu, Tensor? fd, Tensor? b, int up, int down, "
        "int[4] padding, float gain, float slope, float? clamp, bool flip_filter) -> Tensor", pt2);
}
