"""torch.export for every op in the table: each compile sample exported (the op stays one node,
torch.ops.myops.<name>.default), run through .module() and through a torch.export.save/load
round trip, against the reference; and each op's resizable args exported with a dynamic
batch dimension, run at three sizes."""

import io

import pytest
import torch
from torch.export import Dim, export

from helpers import assert_close_to_reference, reference_result
from op_db import get_sample, without
from opinfo import clone_args


class CallOp(torch.nn.Module):
    """forward(*tensors) calls the op with the sample's other arguments (ints, lists, str, None,
    floats) fixed, as a model's code would; returns the op's result (or the `out` it writes)."""

    def __init__(self, op, args):
        super().__init__()
        self.op = op
        self.tensor_at = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
        self.args = [None if i in self.tensor_at else a for i, a in enumerate(args)]

    def forward(self, *tensors):
        args = list(self.args)
        for i, t in zip(self.tensor_at, tensors):
            args[i] = t
        result = self.op.op(*args)
        return args[self.op.out_arg] if self.op.out_arg is not None else result


def _tensors(args):
    return tuple(a for a in args if isinstance(a, torch.Tensor))


def _params(prop):
    return [pytest.param(op, s, id=f"{op.name}-{s}") for op in without(prop) for s in op.compile_samples]


def _export(op, args, **kw):
    program = export(CallOp(op, args), _tensors(args), **kw)
    assert f"torch.ops.myops.{op.name}.default" in program.graph_module.code
    return program


def _check(op, args, program):
    # copies: the export keeps no tensor of ours, and add_out's `out` is written by the call
    expected, pytorch_result = reference_result(op, args)
    result = program.module()(*_tensors(clone_args(args)))
    assert_close_to_reference(op, result, expected, pytorch_result)


@pytest.mark.parametrize("op, sample_name", _params("export"))
def test_export_runs_and_keeps_the_op(device, op, sample_name):
    args = get_sample(op, device, torch.float32, sample_name).args
    _check(op, args, _export(op, clone_args(args)))


@pytest.mark.parametrize("op, sample_name", _params("export_save_load"))
def test_export_save_load_round_trip(device, op, sample_name):
    args = get_sample(op, device, torch.float32, sample_name).args
    buffer = io.BytesIO()
    torch.export.save(_export(op, clone_args(args)), buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    assert f"torch.ops.myops.{op.name}.default" in loaded.graph_module.code
    _check(op, args, loaded)


@pytest.mark.parametrize("op", [op for op in without("export_dynamic") if op.resizable_args], ids=str)
def test_export_dynamic_batch(device, op):
    """Dim 0 of every tensor whose leading size is the batch n is one dynamic Dim."""
    def args_of(n):
        return tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in op.resizable_args(device, n))

    n = 5  # a size no other leading dim of the resizable args has
    args = args_of(n)
    batch = Dim("batch")
    dynamic = tuple({0: batch} if t.dim() and t.shape[0] == n else None for t in _tensors(args))
    assert any(dynamic), "no tensor has the batch as its leading size"
    program = _export(op, args, dynamic_shapes=(dynamic,))
    for n in (2, 3, 7):
        _check(op, args_of(n), program)


def test_a_model_of_several_ops(device):
    """Ops composed in one exported model (an out= op feeding the others) and a dynamic batch."""
    class UsesMyops(torch.nn.Module):
        def forward(self, x, w):
            out = torch.empty_like(x)
            torch.ops.myops.add_out(x, w, out)
            return torch.ops.myops.muladd(torch.ops.myops.mul(out, w), torch.ops.myops.add(x, w), 2.0)

    def reference(x, w):  # independent of myops
        return ((x + w) * w) * (x + w) + 2.0

    x, w = torch.randn(3, 8, device=device), torch.randn(8, device=device)
    program = export(UsesMyops(), (x, w), dynamic_shapes={"x": {0: Dim("batch")}, "w": None})
    for name in ("add_out", "muladd", "mul", "add"):
        assert f"torch.ops.myops.{name}.default" in program.graph_module.code
    for n in (1, 5, 12):
        x = torch.randn(n, 8, device=device)
        torch.testing.assert_close(program.module()(x, w), reference(x, w))
