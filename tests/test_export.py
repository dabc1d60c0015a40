"""torch.export of a module using the ops: static and with a dynamic batch dimension."""

import torch
from torch.export import Dim, export


class UsesMyops(torch.nn.Module):
    def forward(self, x, w):
        out = torch.empty_like(x)
        torch.ops.myops.add_out(x, w, out)
        return torch.ops.myops.muladd(torch.ops.myops.mul(out, w), torch.ops.myops.add(x, w), 2.0)


def reference(x, w):
    return ((x + w) * w) * (x + w) + 2.0


def test_export_runs_and_keeps_ops(device):
    x, w = torch.randn(3, 8, device=device), torch.randn(8, device=device)
    program = export(UsesMyops(), (x, w))
    code = program.graph_module.code
    for name in ("muladd", "mul", "add"):
        assert f"torch.ops.myops.{name}.default" in code
    torch.testing.assert_close(program.module()(x, w), reference(x, w))


def test_export_dynamic_batch(device):
    x, w = torch.randn(3, 8, device=device), torch.randn(8, device=device)
    program = export(UsesMyops(), (x, w), dynamic_shapes={"x": {0: Dim("batch")}, "w": None})
    for n in (1, 5, 12):
        x = torch.randn(n, 8, device=device)
        torch.testing.assert_close(program.module()(x, w), reference(x, w))
