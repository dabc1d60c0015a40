"""lltm beyond the generic table: double backward through the differentiable path, gradients
of expanded (sum()) outputs, the internal forward/backward ops, saturated gates, the gate
passes' thread-count independence, TorchScript, export and inductor (per-ISA kernels:
test_cpu_isa.py, with the table's state-37 sample)."""

import io

import pytest
import torch
from torch.export import Dim, export

from myops import reference
from opinfo.lltm import lltm_args

lltm = torch.ops.myops.lltm.default


def _leaves(args):
    return tuple(a.detach().clone().requires_grad_() for a in args)


def test_double_backward_matches_reference(device):
    args = lltm_args(device, torch.float64, True, 3, 4, 5)
    ref_args = _leaves(args)
    g_h, g_c = torch.randn(3, 5, device=device, dtype=torch.float64), torch.randn(3, 5, device=device, dtype=torch.float64)

    def grad_norm(fn, inputs):
        new_h, new_cell = fn(*inputs)
        grads = torch.autograd.grad((new_h, new_cell), inputs, (g_h, g_c), create_graph=True)
        return grads, sum((g * g).sum() for g in grads)

    grads, penalty = grad_norm(lltm, args)
    ref_grads, ref_penalty = grad_norm(reference.lltm, ref_args)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    for g, r in zip(torch.autograd.grad(penalty, args), torch.autograd.grad(ref_penalty, ref_args)):
        torch.testing.assert_close(g, r)


def test_create_graph_path_gives_the_fused_gradients(device):
    """create_graph=True takes the differentiable path; without it, the fused lltm_backward."""
    args = lltm_args(device, torch.float32, True, 4, 6, 12)
    grads = [torch.randn(4, 12, device=device), torch.randn(4, 12, device=device)]
    fused = torch.autograd.grad(lltm(*args), args, grads)
    differentiable = torch.autograd.grad(lltm(*args), args, grads, create_graph=True)
    assert all(d.requires_grad for d in differentiable) and not any(f.requires_grad for f in fused)
    for f, d in zip(fused, differentiable):
        torch.testing.assert_close(f, d)


def test_double_backward_runs_through_registered_ops(device):
    """The differentiable backward calls myops.lltm_cell_backward by name, and differentiating
    it calls myops.lltm_cell_double_backward (no ATen re-implementation of the gate math)."""
    args = lltm_args(device, torch.float64, True, 2, 3, 4)
    with torch.profiler.profile() as prof:
        grads = torch.autograd.grad(sum(o.sum() for o in lltm(*args)), args, create_graph=True)
        torch.autograd.grad(sum((g * g).sum() for g in grads), args)
    names = {e.name for e in prof.events()}
    assert {"myops::lltm_cell_backward", "myops::lltm_cell_double_backward"} <= names, sorted(
        n for n in names if "myops" in n)
    assert not {"aten::sigmoid", "aten::elu", "aten::tanh"} & names


def test_second_order_with_create_graph_then_a_clear_error_at_the_third(device):
    args = lltm_args(device, torch.float64, True, 2, 3, 4)
    (g1,) = torch.autograd.grad(sum(o.sum() for o in lltm(*args)), args[0], create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), args[0], create_graph=True)  # recording is fine
    with pytest.raises(NotImplementedError, match="myops.lltm: gradients of order 3 and higher"):
        torch.autograd.grad(g2.sum(), args[0])


@pytest.mark.parametrize("use", ["both_sums", "new_h_only", "new_cell_only"])
def test_gradients_of_sums_and_unused_outputs(device, use):
    """sum()'s gradient is expanded (stride 0) and an unused output's gradient is None: the
    backward must read any strides and treat a missing gradient as zero."""
    args = lltm_args(device, torch.float32, True, 5, 3, 19)
    ref_args = _leaves(args)
    pick = {"both_sums": lambda h, c: h.sum() + 2 * c.sum(), "new_h_only": lambda h, c: h.sum(),
            "new_cell_only": lambda h, c: (c * c).sum()}[use]
    pick(*lltm(*args)).backward()
    pick(*reference.lltm(*ref_args)).backward()
    for a, r in zip(args, ref_args):
        torch.testing.assert_close(a.grad, r.grad)


def test_saturated_gates_are_finite(device):
    """Pre-activations of +-100: sigmoid/tanh saturate, elu -> -1; no inf/nan anywhere."""
    for dtype in (torch.float32, torch.float64):
        args = [a * 100 if i in (1, 2) else a for i, a in enumerate(lltm_args(device, dtype, False, 4, 3, 21))]
        args = [a.detach().requires_grad_() for a in args]
        ref_args = _leaves(args)
        out, ref = lltm(*args), reference.lltm(*ref_args)
        for o, r in zip(out, ref):
            assert torch.isfinite(o).all()
            torch.testing.assert_close(o, r)
        torch.autograd.backward(out, [torch.ones_like(o) for o in out])
        torch.autograd.backward(ref, [torch.ones_like(o) for o in ref])
        for a, r in zip(args, ref_args):
            assert torch.isfinite(a.grad).all()
            torch.testing.assert_close(a.grad, r.grad)


def test_results_do_not_depend_on_thread_count():
    args = lltm_args("cpu", torch.float32, True, 64, 32, 512)
    grads = [torch.randn(64, 512), torch.randn(64, 512)]
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, max(threads, 2)):
            torch.set_num_threads(n)
            out = lltm(*args)
            gates = torch.ops.myops.lltm_forward(*[a.detach() for a in args])
            results.append([*out, *gates, *torch.autograd.grad(out, args, grads)])
    finally:
        torch.set_num_threads(threads)
    # The gate passes work per element: bitwise equal. The products and sums are ATen's (BLAS).
    for a, b in zip(results[0][:6], results[1][:6]):
        assert torch.equal(a, b)
    for a, b in zip(results[0][6:], results[1][6:]):
        torch.testing.assert_close(a, b)


# ------------------------------------------------------------------ the internal pieces

def _pieces(device, dtype=torch.float32, requires_grad=False):
    args = lltm_args(device, dtype, requires_grad, 3, 4, 5)
    new_h, new_cell, gates, X = torch.ops.myops.lltm_forward(*[a.detach() for a in args])
    grads = (torch.randn_like(new_h), torch.randn_like(new_cell))
    return args, (*grads, new_cell, gates, X, args[1].detach())


def test_lltm_forward_returns_what_backward_needs(device):
    args, (_, _, new_cell, gates, X, _) = _pieces(device)
    input, weights, bias, old_h, old_cell = [a.detach() for a in args]
    torch.testing.assert_close(X, torch.cat([old_h, input], 1))
    pre = torch.addmm(bias, X, weights.t()).chunk(3, 1)
    torch.testing.assert_close(gates, torch.cat([pre[0].sigmoid(), pre[1].sigmoid(), torch.nn.functional.elu(pre[2])], 1))
    torch.testing.assert_close(new_cell, reference.lltm(input, weights, bias, old_h, old_cell)[1])


@pytest.mark.parametrize("name", ["lltm_forward", "lltm_backward"])
def test_internal_ops_pass_opcheck(device, name):
    args, backward_args = _pieces(device)
    op = getattr(torch.ops.myops, name).default
    torch.library.opcheck(op, tuple(a.detach() for a in args) if name == "lltm_forward" else backward_args)


def test_internal_ops_refuse_to_record_a_graph(device):
    """They have no derivative of their own: asked for one, they raise (never a zero gradient)."""
    args, backward_args = _pieces(device)
    with pytest.raises(RuntimeError, match="myops.lltm_forward is not differentiable"):
        torch.ops.myops.lltm_forward(*[a.detach().requires_grad_() for a in args])
    grad_h = backward_args[0].requires_grad_()
    with pytest.raises(RuntimeError, match="myops.lltm_backward is not differentiable"):
        torch.ops.myops.lltm_backward(grad_h, *backward_args[1:])


def test_lltm_backward_errors_name_the_argument(device):
    _, (grad_h, grad_cell, new_cell, gates, X, weights) = _pieces(device)
    with pytest.raises(RuntimeError, match=r"myops.lltm_backward: gates must have shape \[batch, 3 \* state\] = \[3, 15\]"):
        torch.ops.myops.lltm_backward(grad_h, grad_cell, new_cell, gates[:, :-1], X, weights)
    with pytest.raises(TypeError, match="myops.lltm_backward: grad_h must have new_cell's dtype Float, got Double"):
        torch.ops.myops.lltm_backward(grad_h.double(), grad_cell, new_cell, gates, X, weights)


# ------------------------------------------------------------------ TorchScript, export, inductor

def step_twice(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
    h, c = torch.ops.myops.lltm(x, w, b, h, c)
    return torch.ops.myops.lltm(x, w, b, h, c)


def reference_step_twice(x, w, b, h, c):
    h, c = reference.lltm(x, w, b, h, c)
    return reference.lltm(x, w, b, h, c)


def test_torchscript_script_save_load(device):
    scripted = torch.jit.script(step_twice)
    assert "myops::lltm" in str(scripted.graph)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    args = lltm_args(device, torch.float32, False, 3, 4, 5)
    torch.testing.assert_close(loaded(*args), reference_step_twice(*args))


class Cell(torch.nn.Module):
    def __init__(self, features, state):
        super().__init__()
        self.weights = torch.nn.Parameter(torch.randn(3 * state, state + features) / (state + features) ** 0.5)
        self.bias = torch.nn.Parameter(torch.zeros(3 * state))

    def forward(self, x, h, c):
        return torch.ops.myops.lltm(x, self.weights, self.bias, h, c)


def test_export_dynamic_batch(device):
    cell = Cell(4, 6).to(device)
    x, h, c = (torch.randn(3, n, device=device) for n in (4, 6, 6))
    batch = Dim("batch")
    program = export(cell, (x, h, c), dynamic_shapes=({0: batch}, {0: batch}, {0: batch}))
    assert "torch.ops.myops.lltm.default" in program.graph_module.code
    for n in (1, 5, 12):
        x, h, c = (torch.randn(n, k, device=device) for k in (4, 6, 6))
        torch.testing.assert_close(program.module()(x, h, c), reference.lltm(x, cell.weights, cell.bias, h, c))


def test_inductor_forward_backward(device):
    args = lltm_args(device, torch.float32, True, 6, 4, 10)
    ref_args = _leaves(args)
    compiled = torch.compile(lambda *a: [o.tanh().sum() for o in step_twice(*a)], backend="inductor",
                             fullgraph=True, dynamic=True)
    sum(compiled(*args)).backward()
    sum(o.tanh().sum() for o in reference_step_twice(*ref_args)).backward()
    for a, r in zip(args, ref_args):
        torch.testing.assert_close(a.grad, r.grad)
