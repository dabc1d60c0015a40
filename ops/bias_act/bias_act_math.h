// The math of bias_act, written once for every backend: each activation's value and its first
// to third derivatives, plus the clamp rule. Written in the library's one math style
// (ops/common/scalar_ops.h): templates on the ops O (ScalarOps / VecOps) and the value type V.
// The activation `act` (type A) is either an Act known at run time (one switch per element or
// vector) or std::integral_constant<Act, ...>, which folds the switch away at compile time.
#pragma once

#include <c10/macros/Macros.h>

#include "ops/common/scalar_ops.h"

namespace myops::ops::bias_act {

// The activations, in StyleGAN's order. The table of names and defaults is in bias_act.h.
enum class Act : int { Linear, Relu, Lrelu, Tanh, Sigmoid, Elu, Selu, Softplus, Swish };

// What a kernel needs to know besides its tensors, in the op-math type S (float for the half
// types). clamp < 0 never reaches here: has_clamp says whether to clamp.
template <typename S>
struct Params {
  Act act;
  S alpha;        // lrelu's negative slope (unused by the other activations)
  S gain;
  S clamp;        // only read when has_clamp
  bool has_clamp;
  bool has_bias;  // false: the kernel's bias input is a stand-in (see bias_act_kernels.h)
};

namespace math {
namespace {  // one copy per translation unit: see ops/common/scalar_ops.h

// SELU's constants (torch.nn.functional.selu).
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
// torch.nn.functional.softplus's defaults (beta = 1): above the threshold it is the identity.
constexpr double kSoftplusThreshold = 20.0;

template <typename O, typename V>
C10_HOST_DEVICE inline V sigmoid(V v) {
  // exp(-v) overflows to inf for very negative v: 1 / inf = 0, the right limit.
  return V(1) / (V(1) + O::exp(V(0) - v));
}

// f(v). The branches follow PyTorch's own kernels (relu keeps NaN, elu/selu switch at v > 0,
// softplus is linear above the threshold), so values match torch.nn.functional.
template <typename O, typename V, typename A>
C10_HOST_DEVICE inline V act_value(A act, V v, V alpha) {
  const V zero(0);
  switch (act) {
    case Act::Linear: return v;
    case Act::Relu: return O::select(v < zero, zero, v);
    case Act::Lrelu: return O::select(v > zero, v, v * alpha);
    case Act::Tanh: return O::tanh(v);
    case Act::Sigmoid: return sigmoid<O>(v);
    case Act::Elu: return O::select(v > zero, v, O::expm1(v));
    case Act::Selu: return V(kSeluScale) * O::select(v > zero, v, V(kSeluAlpha) * O::expm1(v));
    case Act::Softplus: return O::select(v > V(kSoftplusThreshold), v, O::log1p(O::exp(v)));
    case Act::Swish: return v * sigmoid<O>(v);
  }
  return v;
}

// f'(v). At the kinks, the one-sided value PyTorch's backward uses: relu' (0) = 0,
// lrelu'(0) = alpha, elu'(0) = selu'(0)/scale = exp(0) = 1.
template <typename O, typename V, typename A>
C10_HOST_DEVICE inline V act_grad(A act, V v, V alpha) {
  const V zero(0), one(1);
  switch (act) {
    case Act::Linear: return one;
    case Act::Relu: return O::select(v > zero, one, zero);
    case Act::Lrelu: return O::select(v > zero, one, alpha);
    case Act::Tanh: { const V t = O::tanh(v); return one - t * t; }
    case Act::Sigmoid: { const V s = sigmoid<O>(v); return s * (one - s); }
    case Act::Elu: return O::select(v > zero, one, O::exp(v));
    case Act::Selu: return O::select(v > zero, V(kSeluScale), V(kSeluScale * kSeluAlpha) * O::exp(v));
    case Act::Softplus: return O::select(v > V(kSoftplusThreshold), one, sigmoid<O>(v));
    case Act::Swish: { const V s = sigmoid<O>(v); return s * (one + v * (one - s)); }
  }
  return one;
}

// f''(v): zero for the piecewise-linear activations (and above softplus's threshold, where
// PyTorch's softplus is the identity). At v = 0, elu'' = selu'' = 0, as in PyTorch's
// elu_double_backward (its mask is v < 0, while elu_backward's is v <= 0).
template <typename O, typename V, typename A>
C10_HOST_DEVICE inline V act_grad2(A act, V v, V alpha) {
  const V zero(0), one(1), two(2);
  switch (act) {
    case Act::Linear:
    case Act::Relu:
    case Act::Lrelu: return zero;
    case Act::Tanh: { const V t = O::tanh(v); return V(-2) * t * (one - t * t); }
    case Act::Sigmoid: { const V s = sigmoid<O>(v); return s * (one - s) * (one - two * s); }
    case Act::Elu: return O::select(v < zero, O::exp(v), zero);
    case Act::Selu: return O::select(v < zero, V(kSeluScale * kSeluAlpha) * O::exp(v), zero);
    case Act::Softplus: { const V s = sigmoid<O>(v); return O::select(v > V(kSoftplusThreshold), zero, s * (one - s)); }
    case Act::Swish: { const V s = sigmoid<O>(v); return s * (one - s) * (two + v * (one - two * s)); }
  }
  return zero;
}

// f'''(v): what the x-derivative of the second-order backward needs (third-order gradients).
// With q = s(1 - s) for the sigmoid s: sigmoid''' = q(1 - 6q), softplus''' = sigmoid'',
// swish''' = 3q(1 - 2s) + v q(1 - 6q); tanh''' = (1 - t^2)(6t^2 - 2).
template <typename O, typename V, typename A>
C10_HOST_DEVICE inline V act_grad3(A act, V v, V alpha) {
  const V zero(0), one(1), two(2), six(6);
  switch (act) {
    case Act::Linear:
    case Act::Relu:
    case Act::Lrelu: return zero;
    case Act::Tanh: { const V t = O::tanh(v), t2 = t * t; return (one - t2) * (six * t2 - two); }
    case Act::Sigmoid: { const V s = sigmoid<O>(v), q = s * (one - s); return q * (one - six * q); }
    case Act::Elu: return O::select(v < zero, O::exp(v), zero);
    case Act::Selu: return O::select(v < zero, V(kSeluScale * kSeluAlpha) * O::exp(v), zero);
    case Act::Softplus: {
      const V s = sigmoid<O>(v);
      return O::select(v > V(kSoftplusThreshold), zero, s * (one - s) * (one - two * s));
    }
    case Act::Swish: {
      const V s = sigmoid<O>(v), q = s * (one - s);
      return V(3) * q * (one - two * s) + v * q * (one - six * q);
    }
  }
  return zero;
}

// v = x + b, or x alone when there is no bias (b is then a stand-in and never read).
template <typename V, typename S>
C10_HOST_DEVICE inline V biased(const Params<S>& p, V x, V b) {
  return p.has_bias ? x + b : x;
}

// y = clamp(f(x + b) * gain, -clamp, clamp). NaN stays NaN (both comparisons are false).
template <typename O, typename V, typename S, typename A>
C10_HOST_DEVICE inline V forward(const Params<S>& p, A act, V x, V b) {
  const V s = act_value<O>(act, biased(p, x, b), V(p.alpha)) * V(p.gain);
  if (!p.has_clamp) return s;
  return O::clamp(s, V(-p.clamp), V(p.clamp));
}

// grad * d^order y / dx^order (order 1, 2 or 3): gain * f^(order)(x + b), and zero where the
// clamp changed the value (|gain * f| > clamp, strictly: at exactly +-clamp the value is
// unchanged and the gradient passes, as torch.clamp's does). The clamp mask is piecewise
// constant, so it contributes nothing else to any derivative.
template <typename O, typename V, typename S, typename A>
C10_HOST_DEVICE inline V backward(const Params<S>& p, A act, int order, V grad, V x, V b) {
  const V v = biased(p, x, b), alpha(p.alpha), gain(p.gain);
  const V d = order == 1 ? act_grad<O>(act, v, alpha)
              : order == 2 ? act_grad2<O>(act, v, alpha)
                           : act_grad3<O>(act, v, alpha);
  const V g = grad * gain * d;
  if (!p.has_clamp) return g;
  const V s = act_value<O>(act, v, alpha) * gain;
  return O::select(O::abs(s) > V(p.clamp), V(0), g);
}

}  // namespace
}  // namespace math
}  // namespace myops::ops::bias_act
