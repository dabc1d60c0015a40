// Autograd formula of upfirdn2d and upfirdn2d_stacked (graph node: autograd/node.h). The
// gradient with respect to x is the transposed resampling, computed by the op itself through
// the dispatcher (up and down swapped, the padding transformed, the filter flip inverted, same
// gain), as StyleGAN's plugin does: so it runs on every backend, is traceable by torch.compile
// and is differentiable again (double backward). The op is linear in x: its forward-mode
// tangent is the op of x's tangent.
// The filter is not differentiable: a filter that requires grad is an error, never a silent
// zero gradient. upfirdn2d_stacked's formula is the same, per stack entry (its own op again).
#include <torch/library.h>

#include "autograd/node.h"
#include "myops/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d.h"  // Form, check_filter_not_requiring_grad

namespace myops::autograd_upfirdn2d {

using namespace myops::autograd;
using ops::upfirdn2d::Form;

namespace {

// Filter taps along x and y, as the op counts them (a 1-D filter has its taps on both axes);
// `lead`: the stacked dims before them (upfirdn2d_stacked's S, which may be symbolic: only the
// taps are read, and they are never symbolic, check_args).
std::pair<int64_t, int64_t> filter_taps(const at::Tensor& f, int64_t lead) {
  if (!f.defined()) return {1, 1};
  return {f.sym_size(-1).guard_int(__FILE__, __LINE__), f.sym_size(lead).guard_int(__FILE__, __LINE__)};
}

// The transposed resampling along one axis. Forward: input `in`, output `out`, factors up and
// down, padding p0/p1, `taps` taps. Its transpose reads the gradient (size out) with up and
// down swapped and padding [taps - p0 - 1, in*up - out*down + p0 - up + 1], which gives back
// exactly `in` outputs. `out*down` depends on `in` modulo `down`, so under dynamic shapes that
// right padding may be symbolic, which an int[] argument cannot carry: then the largest value
// it can take, taps - p1 - up, is used and the result cut to `in` (right padding only appends
// outputs, it does not change the first ones).
struct AxisTranspose {
  int64_t pad0, pad1;
  bool narrow;  // cut the result to `in` along this axis
};
AxisTranspose transpose_axis(const c10::SymInt& in, const c10::SymInt& out, int64_t up,
                             int64_t down, int64_t p0, int64_t p1, int64_t taps) {
  const int64_t pad0 = taps - p0 - 1;
  if (down == 1) return {pad0, taps - p1 - up, false};  // out*down = in*up + p0 + p1 - taps + 1
  const c10::SymInt exact = in * up - out * down + (p0 - up + 1);
  if (const auto v = exact.maybe_as_int()) return {pad0, *v, false};
  return {pad0, taps - p1 - up, true};
}

// The op of a form through the dispatcher: upfirdn2d, or upfirdn2d_stacked (f always given).
at::Tensor resample(const Form& form, const at::Tensor& x, const OptTensor& f, c10::IntArrayRef up,
                    c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  if (form.lead) return myops::upfirdn2d_stacked(x, *f, up, down, padding, flip_filter, gain);
  return myops::upfirdn2d(x, f, up, down, padding, flip_filter, gain);
}

// The Autograd kernel of both ops (`form` says which), differentiable in x only.
template <const Form& form>
at::Tensor upfirdn2d_autograd(const at::Tensor& x, const OptTensor& f, c10::IntArrayRef up, c10::IntArrayRef down,
                              c10::IntArrayRef padding, bool flip_filter, double gain) {
  ops::upfirdn2d::check_filter_not_requiring_grad(form, f);
  TORCH_CHECK_NOT_IMPLEMENTED(!tangent(f).defined(), form.op, ": f has a forward-mode tangent, but the "
                              "filter is not differentiable (only x is)");
  // The node after the forward, whose checks (x 4-D, ...) must come first: it reads x's sizes.
  at::Tensor y = below_autograd([&] { return resample(form, x, f, up, down, padding, flip_filter, gain); });
  constexpr int64_t h = 2 + form.lead, w = 3 + form.lead;  // x's height and width dims
  auto node = make_node(
      form.lead ? "MyopsUpfirdn2dStackedBackward" : "MyopsUpfirdn2dBackward",
      [x_h = x.sym_size(h), x_w = x.sym_size(w), up = up.vec(), down = down.vec(), p = padding.vec(), flip_filter,
       gain](const BackwardArgs& s) -> variable_list {
        const at::Tensor& dy = s.grads[0];
        const at::Tensor& f = s.saved[0];
        const auto [fw, fh] = filter_taps(f, form.lead);
        const AxisTranspose tx = transpose_axis(x_w, dy.sym_size(w), up[0], down[0], p[0], p[1], fw);
        const AxisTranspose ty = transpose_axis(x_h, dy.sym_size(h), up[1], down[1], p[2], p[3], fh);
        at::Tensor dx = resample(form, dy, f.defined() ? OptTensor(f) : std::nullopt, down, up,
                                 {tx.pad0, tx.pad1, ty.pad0, ty.pad1}, !flip_filter, gain);
        if (ty.narrow) dx = dx.narrow_symint(h, 0, x_h);
        if (tx.narrow) dx = dx.narrow_symint(w, 0, x_w);
        return {dx};
      },
      x);
  if (node) node->save(f);
  set_history(node, {y});
  // Linear in x: the tangent is the same resampling of x's tangent.
  if (any_tangent(x)) set_tangent(y, resample(form, tangent(x), f, up, down, padding, flip_filter, gain));
  return y;
}

at::Tensor upfirdn2d_stacked_autograd(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                      c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter,
                                      double gain) {
  return upfirdn2d_autograd<ops::upfirdn2d::kStacked>(x, f, up, down, padding, flip_filter, gain);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("upfirdn2d", &upfirdn2d_autograd<ops::upfirdn2d::kSingle>);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_autograd);
}

}  // namespace myops::autograd_upfirdn2d
