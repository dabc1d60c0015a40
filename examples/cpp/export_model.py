"""Exports a small model that uses every myops op family for the C++ programs in this folder,
with no Python needed to run it afterwards:

    python export_model.py OUT_DIR          (with torch and myops importable)

writes to OUT_DIR
    model.ts.pt   TorchScript (torch.jit.script + save)      -> run_torchscript.cpp (legacy path)
    model.pt2     AOTInductor package (torch.export with a dynamic batch and dynamic image
                  height and width + torch._inductor.aoti_compile_and_package, compiled for the
                  CPU)                                          -> run_aoti.cpp
    data.pt       the test cases: a TorchScript module (torch::jit::load reads it in C++; see
                  example_data.h) with buffers input_<case>_<i> and output_<case>_<i>, case 0, 1,
                  ... (batch 3 with 8 x 8 images, batch 7 with 12 x 10 images). The expected
                  outputs come from myops.reference (pure PyTorch), never from the ops.

The C++ programs read the number of cases, inputs and outputs from data.pt: change the model
here and they need no change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F

import myops

FEATURES, STATE = 8, 16             # the LLTM part: x [B, FEATURES], h and c [B, STATE]
IMG_IN, IMG_CH = 3, 4               # the image part: img [B, IMG_IN, H, W] -> [B, IMG_CH, H, W]
CASES = ((3, 8, 8), (7, 12, 10))    # (batch, height, width) of each saved test case
CLAMP = 256.0


def _upsample_padding(taps: int, up: int = 2) -> List[int]:
    """What myops.upsample2d passes to upfirdn2d (output = input * up)."""
    return [(taps + up - 1) // 2, (taps - up) // 2] * 2


def _downsample_padding(taps: int, down: int = 2) -> List[int]:
    """What myops.downsample2d passes to upfirdn2d (output = input / down)."""
    return [(taps - down + 1) // 2, (taps - down) // 2] * 2


class Demo(torch.nn.Module):
    """Two parts, one per kind of data:
    - features: an affine transform with the elementwise ops (muladd, mul, add), then one LLTM step;
    - images: a StyleGAN-style block, conv2d -> bias_act (lrelu, clamp) -> upsample2d x2
      (upfirdn2d) -> filtered_lrelu (up 2, down 2, the size kept) -> downsample2d x2 (upfirdn2d).

    forward calls the ops by their dispatcher names (torch.ops.myops.*), so the same code is
    TorchScript, torch.export and eager; the paddings are computed here, once, as the myops
    Python helpers would.
    """

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.gain = torch.nn.Parameter(torch.rand(FEATURES, generator=g) + 0.5)
        self.shift = torch.nn.Parameter(torch.randn(FEATURES, generator=g) * 0.1)
        k = STATE + FEATURES
        self.weights = torch.nn.Parameter(torch.randn(3 * STATE, k, generator=g) / k ** 0.5)
        self.bias = torch.nn.Parameter(torch.randn(3 * STATE, generator=g) * 0.1)

        self.conv_w = torch.nn.Parameter(torch.randn(IMG_CH, IMG_IN, 3, 3, generator=g) / (9 * IMG_IN) ** 0.5)
        self.conv_b = torch.nn.Parameter(torch.randn(IMG_CH, generator=g) * 0.1)
        self.flrelu_b = torch.nn.Parameter(torch.randn(IMG_CH, generator=g) * 0.1)
        f = myops.setup_filter([1, 3, 3, 1])        # 2-D 4 x 4, unit DC gain
        self.register_buffer("f", f)
        taps = f.shape[-1]
        self.up_padding = _upsample_padding(taps)
        self.down_padding = _downsample_padding(taps)
        # filtered_lrelu up 2, down 2, output = input: in*2 + p0 + p1 - 2*(taps-1) + 1 = 2*in + 1
        total = 2 * (taps - 1) - 1
        self.flrelu_padding = [(total + 1) // 2, total // 2] * 2
        self.clamp = CLAMP

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, img: torch.Tensor):
        # (muladd first: load_without_myops checks that it is the op named in the error)
        y = torch.ops.myops.muladd(x, self.gain, 0.5)             # x * gain + 0.5
        y = torch.ops.myops.add(torch.ops.myops.mul(y, y), self.shift)
        new_h, new_cell = torch.ops.myops.lltm(y, self.weights, self.bias, h, c)

        z = F.conv2d(img, self.conv_w, padding=1)
        z = torch.ops.myops.bias_act(z, self.conv_b, 1, "lrelu", None, None, self.clamp)
        z = torch.ops.myops.upfirdn2d(z, self.f, [2, 2], [1, 1], self.up_padding, False, 4.0)
        z = torch.ops.myops.filtered_lrelu(z, self.f, self.f, self.flrelu_b, 2, 2, self.flrelu_padding,
                                           2.0 ** 0.5, 0.2, self.clamp, False)
        z = torch.ops.myops.upfirdn2d(z, self.f, [1, 1], [2, 2], self.down_padding, False, 1.0)
        return new_h, new_cell, z


def reference(model: Demo, x, h, c, img):
    """The model's outputs from myops.reference (pure PyTorch), not from the ops."""
    ref = myops.reference
    y = ref.add(ref.mul(ref.muladd(x, model.gain, 0.5), ref.muladd(x, model.gain, 0.5)), model.shift)
    new_h, new_cell = ref.lltm(y, model.weights, model.bias, h, c)
    z = F.conv2d(img, model.conv_w, padding=1)
    z = ref.bias_act(z, model.conv_b, 1, "lrelu", None, None, CLAMP)
    z = ref.upfirdn2d(z, model.f, up=2, padding=model.up_padding, gain=4.0)
    z = ref.filtered_lrelu(z, model.f, model.f, model.flrelu_b, 2, 2, model.flrelu_padding,
                           2.0 ** 0.5, 0.2, CLAMP)
    z = ref.upfirdn2d(z, model.f, down=2, padding=model.down_padding)
    return new_h, new_cell, z


def example_inputs(batch: int, height: int, width: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, FEATURES, generator=g), torch.randn(batch, STATE, generator=g),
            torch.randn(batch, STATE, generator=g), torch.randn(batch, IMG_IN, height, width, generator=g))


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
        for case, (batch, height, width) in enumerate(CASES):
            inputs = example_inputs(batch, height, width, seed=case + 1)
            expected = reference(model, *inputs)
            # the model itself agrees with the pure-PyTorch reference before anything is saved
            torch.testing.assert_close(model(*inputs), expected)
            data.update({f"input_{case}_{i}": t for i, t in enumerate(inputs)})
            data.update({f"output_{case}_{i}": t for i, t in enumerate(expected)})
    torch.jit.script(Tensors(data)).save(str(out_dir / "data.pt"))

    torch.jit.script(model).save(str(out_dir / "model.ts.pt"))

    batch = torch.export.Dim("batch", min=1)
    height, width = torch.export.Dim("height", min=2), torch.export.Dim("width", min=2)
    program = torch.export.export(model, example_inputs(2, 6, 5, seed=0),
                                  dynamic_shapes=({0: batch}, {0: batch}, {0: batch},
                                                  {0: batch, 2: height, 3: width}))
    torch._inductor.aoti_compile_and_package(program, package_path=str(out_dir / "model.pt2"))
    print(f"wrote {out_dir}/model.ts.pt, model.pt2, data.pt")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    main(Path(sys.argv[1]))
