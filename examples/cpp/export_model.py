"""Exports a small model that uses myops for the C++ programs in this folder, with no Python
needed to run it afterwards:

    python export_model.py OUT_DIR          (with torch and myops importable)

writes to OUT_DIR
    model.ts.pt   TorchScript (torch.jit.script + save)      -> run_torchscript.cpp
    model.pt2     AOTInductor package (torch.export with a dynamic batch dimension +
                  torch._inductor.aoti_compile_and_package, compiled for the CPU) -> run_aoti.cpp
    data.pt       inputs and expected outputs for batch sizes 3 and 7: a TorchScript module whose
                  buffers are named x_3, h_3, c_3, new_h_3, new_cell_3, ... (torch::jit::load
                  reads it in C++; see example_data.h)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import myops  # noqa: F401  (registers torch.ops.myops.*)

FEATURES, STATE = 8, 16
BATCH_SIZES = (3, 7)


class Demo(torch.nn.Module):
    """An affine feature transform with the elementwise ops, then one LLTM step."""

    def __init__(self, features: int = FEATURES, state: int = STATE):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.gain = torch.nn.Parameter(torch.rand(features, generator=g) + 0.5)
        self.shift = torch.nn.Parameter(torch.randn(features, generator=g) * 0.1)
        k = state + features
        self.weights = torch.nn.Parameter(torch.randn(3 * state, k, generator=g) / k ** 0.5)
        self.bias = torch.nn.Parameter(torch.randn(3 * state, generator=g) * 0.1)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        y = torch.ops.myops.muladd(x, self.gain, 0.5)             # x * gain + 0.5
        y = torch.ops.myops.add(torch.ops.myops.mul(y, y), self.shift)
        # ---- more myops ops go here (e.g. bias_act, upfirdn2d) as they land; keep y [B, FEATURES] ----
        new_h, new_cell = torch.ops.myops.lltm(y, self.weights, self.bias, h, c)
        return new_h, new_cell


def example_inputs(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, FEATURES, generator=g), torch.randn(batch, STATE, generator=g),
            torch.randn(batch, STATE, generator=g))


class Tensors(torch.nn.Module):
    """A container C++ can open with torch::jit::load: one buffer per named tensor."""

    def __init__(self, tensors: dict):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, t)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model = Demo().eval()

    data = {}
    with torch.no_grad():
        for batch in BATCH_SIZES:
            x, h, c = example_inputs(batch, seed=batch)
            new_h, new_cell = myops.reference.lltm(
                (x * model.gain + 0.5) ** 2 + model.shift, model.weights, model.bias, h, c)
            data.update({f"x_{batch}": x, f"h_{batch}": h, f"c_{batch}": c,
                         f"new_h_{batch}": new_h, f"new_cell_{batch}": new_cell})
            # the model itself agrees with the pure-PyTorch formula before anything is saved
            torch.testing.assert_close(model(x, h, c), (new_h, new_cell))
    torch.jit.script(Tensors(data)).save(str(out_dir / "data.pt"))

    torch.jit.script(model).save(str(out_dir / "model.ts.pt"))

    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, example_inputs(BATCH_SIZES[0], 0),
                                  dynamic_shapes=({0: batch}, {0: batch}, {0: batch}))
    torch._inductor.aoti_compile_and_package(program, package_path=str(out_dir / "model.pt2"))
    print(f"wrote {out_dir}/model.ts.pt, model.pt2, data.pt")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    main(Path(sys.argv[1]))
