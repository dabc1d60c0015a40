"""bias_act beyond what the table-driven tests check: StyleGAN's defaults, the clamp's zero
gradient for every activation, the StyleGAN block under torch.compile (forward, backward,
no recompile, the backward op by name), TorchScript, and the half-precision math."""

import math

import pytest
import torch
import torch.nn.functional as F

import myops
from helpers import run_scripts_in_fresh_process
from opinfo.bias_act import BIAS_ACTS

SQRT2 = math.sqrt(2)

# StyleGAN3's table, written out independently of myops.reference: act -> (f(x), default gain).
STYLEGAN_DEFAULTS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, SQRT2),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), SQRT2),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: x * torch.sigmoid(x), SQRT2),
}


@pytest.mark.parametrize("act", BIAS_ACTS)
def test_stylegan_defaults(device, act):
    f, gain = STYLEGAN_DEFAULTS[act]
    x = torch.randn(2, 3, 4, 5, device=device, dtype=torch.float64) * 3
    b = torch.randn(3, device=device, dtype=torch.float64)
    torch.testing.assert_close(myops.bias_act(x, act=act), f(x) * gain)
    torch.testing.assert_close(myops.bias_act(x, b, act=act), f(x + b.view(3, 1, 1)) * gain)
    # alpha is lrelu's alone: the others ignore it (elu's alpha stays 1, as in StyleGAN).
    if act != "lrelu":
        torch.testing.assert_close(myops.bias_act(x, act=act, alpha=0.7), f(x) * gain)
    else:
        torch.testing.assert_close(myops.bias_act(x, act=act, alpha=0.7), F.leaky_relu(x, 0.7) * gain)


@pytest.mark.parametrize("act", BIAS_ACTS)
def test_gradient_is_zero_where_clamped(device, act):
    """Where |gain * f(x + b)| > clamp the output is constant, so dx (and its share of db) is 0;
    elsewhere dx = g * gain * f'(x + b). StyleGAN's CUDA plugin passes the gradient through a
    clamped 'linear'; the reference and myops do not."""
    f, _ = STYLEGAN_DEFAULTS[act]
    gain, clamp = 2.0, 0.6
    b = torch.tensor([0.1, -0.2, 0.3], device=device, dtype=torch.float64, requires_grad=True)
    x = torch.linspace(-4, 4, 81, device=device, dtype=torch.float64).view(3, 27)
    near = lambda x: ((gain * f(x + b.detach()[:, None])).abs() - clamp).abs() < 0.01  # noqa: E731
    x = torch.where(near(x), x + 0.05, x).requires_grad_()  # no element at the boundary
    assert not near(x.detach()).any()
    unclamped = gain * f(x.detach() + b.detach()[:, None])
    clamped = unclamped.abs() > clamp
    assert clamped.any() and (~clamped).any()

    y = myops.bias_act(x, b, 0, act, gain=gain, clamp=clamp)
    torch.testing.assert_close(y, unclamped.clamp(-clamp, clamp))
    g = torch.randn_like(y)
    dx, db = torch.autograd.grad(y, (x, b), g)
    assert (dx[clamped] == 0).all()
    xv = (x.detach() + b.detach()[:, None]).requires_grad_()
    (fprime,) = torch.autograd.grad(f(xv).sum(), xv)  # independent f'
    torch.testing.assert_close(dx, torch.where(clamped, 0.0, g * gain * fprime))
    torch.testing.assert_close(db, dx.sum(1))


def test_python_ints_and_clamp_zero(device):
    x = torch.randn(4, 6, device=device)
    b = torch.randn(6, device=device)
    torch.testing.assert_close(myops.bias_act(x, b, -1, "lrelu", 0, 2, 1), myops.bias_act(x, b, 1, "lrelu", 0.0, 2.0, 1.0))
    y = myops.bias_act(x.requires_grad_(), b, act="linear", clamp=0)
    assert (y == 0).all()
    (dx,) = torch.autograd.grad(y.sum(), x)
    assert (dx == 0).all()


def test_dim_is_ignored_without_b(device):
    x = torch.randn(3, 4, device=device)
    torch.testing.assert_close(myops.bias_act(x, None, 100, "tanh"), torch.tanh(x))
    scalar = torch.tensor(0.5, device=device)
    torch.testing.assert_close(myops.bias_act(scalar, act="lrelu", clamp=0.1), torch.tensor(0.1, device=device))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_types_round_once(device, dtype):
    """x + b and the gain are applied in float32 and rounded once at the end (not x + b
    rounded to `dtype` first, as a chain of half-precision ops would)."""
    x = torch.randn(64, 64, device=device).to(dtype)
    b = torch.randn(64, device=device).to(dtype)
    exact = (x.double() + b.double()) * 0.3
    error = lambda y: (y.double() - exact).abs()  # noqa: E731
    ours, two_roundings = error(myops.bias_act(x, b, 1, "linear", gain=0.3)), error((x + b) * 0.3)
    # One rounding is never worse than two (up to float32's own rounding), and often better.
    assert (ours <= two_roundings + 1e-6 * exact.abs()).all()
    assert (ours < two_roundings).sum() > 100


@pytest.mark.parametrize("act", BIAS_ACTS)
def test_third_order_math(device, act):
    """gradcheck of the second-order backward checks the third derivative of every activation
    (the table's gradcheck covers it for some activations only)."""
    x = torch.randn(3, 4, device=device, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, device=device, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(3, 4, device=device, dtype=torch.float64, requires_grad=True)
    second = lambda grad, x, b: torch.ops.myops.bias_act_backward(grad, x, b, 1, act, None, 1.5, 20.0, 2)  # noqa: E731
    torch.autograd.gradcheck(second, (grad, x, b))


def test_third_order_gradients_and_a_clear_error_at_the_fourth(device):
    x = torch.randn(5, device=device, dtype=torch.float64, requires_grad=True)
    y = myops.bias_act(x, act="tanh")
    (g1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = torch.autograd.grad(g2.sum(), x, create_graph=True)
    t = torch.tanh(x.detach())
    torch.testing.assert_close(g2, -2 * t * (1 - t**2))
    torch.testing.assert_close(g3, (1 - t**2) * (6 * t**2 - 2))
    with pytest.raises(NotImplementedError, match="gradients of order 4 and higher"):
        torch.autograd.grad(g3.sum(), x)


@pytest.mark.parametrize("act", ["linear", "relu", "lrelu"])
def test_piecewise_linear_second_derivative_is_zero_and_skips_the_producer(device, act):
    """f'' = 0: for leaves, the x- and b-derivatives of the backward are zero tensors (as through
    ATen's ops); for an intermediate x, autograd's undefined zero, so the backward of what
    produced x is skipped, not run on zeros (R1 regularization); the gradients that do flow
    match the reference's."""
    seen = []

    class Producer(torch.autograd.Function):  # stands for the conv whose output bias_act takes
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            seen.append(g)
            return g

    def gradients(fn, through_producer):
        torch.manual_seed(0)
        x = torch.randn(3, 4, device=device, dtype=torch.float64, requires_grad=True)
        b = torch.randn(4, device=device, dtype=torch.float64, requires_grad=True)
        w = torch.randn(3, 4, device=device, dtype=torch.float64, requires_grad=True)
        h = Producer.apply(x) if through_producer else x
        (g1,) = torch.autograd.grad((fn(h, b, act=act, gain=1.5, clamp=2.0) * w).sum(), h, create_graph=True)
        return torch.autograd.grad((g1 * g1.detach().exp()).sum(), (x, b, w), allow_unused=True)

    gx, gb, gw = gradients(myops.bias_act, through_producer=False)
    want = [g if g is not None else torch.zeros_like(t) for g, t in
            zip(gradients(myops.reference.bias_act, through_producer=False), (gx, gb, gw))]  # linear: x unused
    assert torch.equal(gx, torch.zeros_like(gx)) and torch.equal(gb, torch.zeros_like(gb))
    torch.testing.assert_close((gx, gb, gw), want)

    seen.clear()
    gx, gb, gw = gradients(myops.bias_act, through_producer=True)
    assert seen == [None] or seen == [], "the producer's backward got a gradient tensor"
    assert gx is None and torch.equal(gb, torch.zeros_like(gb))
    torch.testing.assert_close(gw, want[2])


# ------------------------------------------------------------------ the StyleGAN block, compiled

def stylegan_block(x, w, b):
    return torch.ops.myops.bias_act(F.conv2d(x, w, padding=1), b, 1, "lrelu", None, None, 256.0)


def stylegan_block_reference(x, w, b):
    return myops.reference.bias_act(F.conv2d(x, w, padding=1), b, act="lrelu", clamp=256)


def test_compiled_block_forward_backward_no_recompile(device):
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    graphs = {"forward": [], "backward": []}

    def recorder(kind):
        def compiler(gm, example_inputs):
            graphs[kind].append(gm.code)
            return make_boxed_func(gm.forward)
        return compiler

    aot = aot_autograd(fw_compiler=recorder("forward"), bw_compiler=recorder("backward"))
    frames = []

    def backend(gm, example_inputs):  # counts dynamo frames (= compilations), then AOT-compiles
        frames.append(gm)
        return aot(gm, example_inputs)

    compiled = torch.compile(stylegan_block, backend=backend, fullgraph=True, dynamic=True)
    w = (torch.randn(8, 4, 3, 3, device=device) * 30).requires_grad_()  # large enough to clamp
    b = torch.randn(8, device=device, requires_grad=True)
    for n in (2, 3, 5):
        x = torch.randn(n, 4, 6, 6, device=device, requires_grad=True)
        args = (x, w, b)
        ref_args = [a.detach().clone().requires_grad_() for a in args]
        y, ref = compiled(*args), stylegan_block_reference(*ref_args)
        assert (ref.abs() == 256).any()  # the clamp is exercised
        torch.testing.assert_close(y, ref)
        grad = torch.randn_like(ref)
        got = torch.autograd.grad(y, args, grad)
        want = torch.autograd.grad(ref, ref_args, grad)
        for g, r in zip(got, want):
            torch.testing.assert_close(g, r, atol=1e-3, rtol=1e-4)
    assert len(frames) == 1, "a new batch size recompiled the block"
    assert any("torch.ops.myops.bias_act.default" in code for code in graphs["forward"])
    assert any("torch.ops.myops.bias_act_backward.default" in code for code in graphs["backward"])


# -------------------------------------------------------------------------------- TorchScript

def scripted_block(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.ops.myops.bias_act(x, b, act="lrelu", clamp=1.0) + torch.ops.myops.bias_act(x, None, 0, "swish")


def test_torchscript_script_save_load(tmp_path):
    """Keyword arguments and defaults in TorchScript, and the typed Python wrapper scripts too."""
    scripted = torch.jit.script(scripted_block)
    assert "myops::bias_act" in str(scripted.graph)
    wrapper = torch.jit.script(myops.bias_act)
    x, b = torch.randn(2, 3, 4), torch.randn(3)
    torch.testing.assert_close(wrapper(x, b, 1, "lrelu", None, None, 1.0), myops.reference.bias_act(x, b, act="lrelu", clamp=1))
    v = x + b.view(3, 1)
    want = (F.leaky_relu(v, 0.2) * SQRT2).clamp(-1, 1) + x * torch.sigmoid(x) * SQRT2  # independent of myops
    torch.testing.assert_close(scripted(x, b), want)
    (got, _), = run_scripts_in_fresh_process(tmp_path, [(scripted, (x, b))])
    torch.testing.assert_close(got, want)


# ------------------------------------------------------------------------------ torch.export

class StyleGANBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3))
        self.bias = torch.nn.Parameter(torch.randn(8))

    def forward(self, x):
        return myops.bias_act(F.conv2d(x, self.weight, padding=1), self.bias, act="lrelu", clamp=1.0)


def test_export_dynamic_batch(device):
    from torch.export import Dim, export

    block = StyleGANBlock().to(device)
    program = export(block, (torch.randn(2, 4, 6, 6, device=device),), dynamic_shapes={"x": {0: Dim("batch")}})
    assert "torch.ops.myops.bias_act.default" in program.graph_module.code
    for n in (1, 3):
        x = torch.randn(n, 4, 6, 6, device=device)
        want = myops.reference.bias_act(F.conv2d(x, block.weight, padding=1), block.bias, act="lrelu", clamp=1.0)
        torch.testing.assert_close(program.module()(x), want)
