"""The CPU kernels' own float32 exp, expm1, tanh and log1p (ops/common/cpu_fast_math.h), seen
through the ops that use them: bias_act's tanh, elu, selu, sigmoid and softplus, and elu's
gradient. Their error against float64 PyTorch stays within the bounds the header documents, the
edge values (+-0, +-inf, NaN, overflow, denormals) match PyTorch, and the scalar tail gives the
same bits as the vector body (so a result does not depend on where a loop splits)."""

import pytest
import torch

import myops

F = torch.nn.functional


def _bias_act(act):
    return lambda x: myops.bias_act(x, act=act)


def _elu_grad(x):  # bias_act_backward of elu: exp(x) for x <= 0
    return torch.ops.myops.bias_act_backward(torch.ones_like(x), x, None, 1, "elu", None, None, None, 1)


# name: (myops function of a float32 x, its float64 reference, max error in float32 ulp;
# cpu_fast_math.h states these): tanh, expm1 (elu, selu), exp (sigmoid, elu's gradient) and
# log1p after exp (softplus: log1p(exp(x)) below 20; torch's own float32 softplus: 1.5 ulp).
FUNCTIONS = {
    "tanh": (_bias_act("tanh"), torch.tanh, 2.5),
    "elu": (_bias_act("elu"), F.elu, 1.5),
    "selu": (_bias_act("selu"), F.selu, 2.5),
    "sigmoid": (_bias_act("sigmoid"), torch.sigmoid, 3.0),
    "elu_grad": (_elu_grad, lambda x: torch.where(x > 0, 1.0, x.exp()), 1.5),
    "softplus": (_bias_act("softplus"), F.softplus, 2.0),
}


def _points():
    g = torch.Generator().manual_seed(0)
    n = 1 << 20
    uniform = lambda lo, hi: torch.rand(n, generator=g, dtype=torch.float64) * (hi - lo) + lo  # noqa: E731
    log_spread = torch.exp(uniform(-100.0, 4.5)) * (torch.randint(0, 2, (n,), generator=g) * 2 - 1)
    return torch.cat([uniform(-1, 1), uniform(-20, 20), uniform(-100, 100), log_spread]).float()


def _ulp_error(got, ref64):
    ref32 = ref64.float()
    spacing = torch.nextafter(ref32.abs(), torch.tensor(float("inf"))) - ref32.abs()
    return (got.double() - ref64).abs() / spacing.double()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_error_bound(name):
    fn, reference, bound = FUNCTIONS[name]
    x = _points()
    ref = reference(x.double())
    normal = ref.float().isfinite() & (ref.abs() >= torch.finfo(torch.float32).tiny)
    err = _ulp_error(fn(x)[normal], ref[normal])
    worst = err.argmax()
    assert err.max() <= bound, f"{name}: {err.max():.2f} ulp at x = {x[normal][worst].item()!r}"
    assert err.mean() < 0.5


@pytest.mark.parametrize("name", FUNCTIONS)
def test_edge_values_match_pytorch(name):
    fn, reference, _ = FUNCTIONS[name]
    x = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 88.7, 88.72, 88.73, 89.0,
                      -17.4, -87.0, -104.0, -1e4, 9.0, 9.1, -9.2, 19.99, 20.0, 20.01, 1e-40, -1e-40, 1e-45, -3e-8])
    got, want = fn(x), reference(x.double()).float()
    # (denormal results: within one unit of the smallest denormal)
    torch.testing.assert_close(got, want, rtol=3e-7, atol=torch.finfo(torch.float32).smallest_normal * 2**-23,
                               equal_nan=True)
    numbers = ~want.isnan()
    assert torch.equal(got[numbers].signbit(), want[numbers].signbit()), "the sign of a zero result"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_scalar_tail_gives_the_vector_bits(name):
    fn = FUNCTIONS[name][0]
    x = _points()
    vector = fn(x)  # contiguous: the vector body
    spread = torch.empty(x.numel(), 2)[:, 0]
    spread.copy_(x)  # stride 2: TensorIterator runs the scalar loop (its vector body needs stride 1)
    scalar = fn(spread)
    torch.testing.assert_close(scalar, vector, rtol=0, atol=0, equal_nan=True)
