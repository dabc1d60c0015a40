"""filtered_lrelu on StyleGAN3-like layers in both memory formats, NCHW and channels_last, forward
and the backward op, float32 and bfloat16, each against the eager reference composition in the
same layout:

    python benchmarks/filtered_lrelu_layouts.py [--quick] [--threads 1] [--few-channels] [--tag TAG]
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/filtered_lrelu_layouts.py --tag avx2
    MYOPS_LIBRARY=/path/to/an/older/libmyops.so python benchmarks/filtered_lrelu_layouts.py --tag before

Why: a channels_last x (the layout PyTorch recommends for CPU convolutions, so the one a conv
before the op hands it) may take other kernel paths than NCHW, and only NCHW was benchmarked;
and the layers' shapes decide between the CPU kernel's paths (row path, band path).

Layers: up 2, down 2, 12-tap separable Kaiser filters, StyleGAN3's padding (the output is the
input less 4 pixels), clamp 256, a bias; x = [N, C, S, S] with S = 36 .. 148 and the channels
shrinking as the images grow. Variants, per layer, dtype and layout: myops and the eager
reference composition (bench_filtered_lrelu.py's stylegan3_reference; backward:
myops.reference.filtered_lrelu_backward). Timer: process CPU time (one thread by default: the
machine is shared), each variant's median of blocked runs, variants interleaved over rounds;
ratios the median over rounds (> 1: myops faster). Writes benchmarks/results/filtered_lrelu-layouts[-TAG].{json,md}.

--few-channels: x = [4, C, 96, 96] with C = 3, 5, 7 instead (RGB-like images, too few planes
for the band path: the row path, whose channels_last input takes the strided rows up to 7
channels and planar copies beyond; filtered_lrelu_cpu_kernel.cpp's kStridedRowsMaxChannels).
Writes filtered_lrelu-layouts-few-channels[-TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

import myops
from bench_filtered_lrelu import stylegan3_reference
from common import cpu_run_meta, cpu_run_sentence, interleaved_cpu_seconds, median_ratio
from myops import reference
from myops.ops_filtered_lrelu import stylegan3_padding

HERE = Path(__file__).resolve().parent
SHAPES = [[4, 256, 36, 36], [4, 128, 52, 52], [4, 64, 84, 84], [4, 32, 148, 148]]
QUICK_SHAPES = [[2, 128, 36, 36], [1, 32, 84, 84]]
FEW_CHANNEL_SHAPES = [[4, 3, 96, 96], [4, 5, 96, 96], [4, 7, 96, 96]]
UP = DOWN = 2
TAPS = 12
CLAMP = 256.0


def layer(shape, dtype):
    """x, dy (NCHW) and the op's other arguments for a layer of `shape`."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(dtype)
    b = torch.randn(shape[1], generator=g).to(dtype)
    f = torch.kaiser_window(TAPS, periodic=False, beta=6.0)
    f = f / f.sum()
    pad = stylegan3_padding(shape[-1], shape[-1] - 4, UP, DOWN, TAPS, TAPS)
    args = (f, f, b, UP, DOWN, pad, math.sqrt(2), 0.2, CLAMP, False)  # (flip_filter: the ops' schema)
    y = myops.filtered_lrelu(x, *args)
    return x, torch.randn(y.shape, generator=g).to(dtype), args


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small layers, 0.1 s per variant and round, 3 rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--few-channels", action="store_true", help="[4, C, 96, 96], C = 3, 5, 7 (see above)")
    parser.add_argument("--tag", help="results go to filtered_lrelu-layouts[-few-channels]-TAG.{json,md}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, min_run_time = (3, 0.1) if args.quick else (5, 0.3)
    cl = torch.channels_last
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for shape in FEW_CHANNEL_SHAPES if args.few_channels else QUICK_SHAPES if args.quick else SHAPES:
            x, dy, a = layer(shape, dtype)
            x_cl, dy_cl = x.contiguous(memory_format=cl), dy.contiguous(memory_format=cl)
            # What the timings rely on: channels_last gives the NCHW result, in channels_last.
            y_cl = myops.filtered_lrelu(x_cl, *a)
            assert y_cl.is_contiguous(memory_format=cl) and torch.equal(y_cl, myops.filtered_lrelu(x, *a))
            tol = {} if dtype == torch.float32 else {"atol": 0.1, "rtol": 0.05}
            torch.testing.assert_close(stylegan3_reference(x_cl, *a[:-1]), y_cl, **tol)
            bwd = torch.ops.myops.filtered_lrelu_backward
            variants = {}
            for fmt, xs, dys in (("nchw", x, dy), ("cl", x_cl, dy_cl)):
                variants |= {
                    f"fwd {fmt}": lambda xs=xs: myops.filtered_lrelu(xs, *a),
                    f"fwd eager {fmt}": lambda xs=xs: stylegan3_reference(xs, *a[:-1]),
                    f"bwd {fmt}": lambda xs=xs, dys=dys: bwd(dys, xs, *a),
                    f"bwd eager {fmt}": lambda xs=xs, dys=dys: reference.filtered_lrelu_backward(dys, xs, *a),
                }
            for fn in variants.values():
                fn()  # warm up
            samples = interleaved_cpu_seconds(variants, rounds, min_run_time)
            row = {"dtype": str(dtype).replace("torch.", ""), "shape": shape,
                   **{k: statistics.median(v) for k, v in samples.items()},
                   **{f"{mode} eager {fmt} / {fmt}": median_ratio(samples, f"{mode} eager {fmt}", f"{mode} {fmt}")
                      for mode in ("fwd", "bwd") for fmt in ("nchw", "cl")}}
            rows.append(row)
            print(f"{row['dtype']:8} {str(shape):18} " + " | ".join(
                f"{mode} {fmt} {row[f'{mode} {fmt}'] * 1e3:6.2f} ms (eager {row[f'{mode} eager {fmt} / {fmt}']:5.2f}x)"
                for mode in ("fwd", "bwd") for fmt in ("nchw", "cl")), flush=True)
    script = "filtered_lrelu_layouts.py" + (" --few-channels" if args.few_channels else "")
    meta = cpu_run_meta(script, args, ("ATEN_CPU_CAPABILITY", "MYOPS_LIBRARY"), rounds=rounds)
    name = "filtered_lrelu-layouts" + ("-few-channels" if args.few_channels else "") + (f"-{args.tag}" if args.tag else "")
    out = HERE / "results"
    (out / f"{name}.json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
    lines = ["# filtered_lrelu in NCHW and channels_last (up 2, down 2, 12-tap separable filters, clamp 256, "
             "a bias; CPU)", "",
             cpu_run_sentence(meta) + " Ratios: the eager reference composition's time in the same layout / "
             "myops' (> 1: myops faster).", "",
             "| dtype | x | fwd NCHW (ms) | vs eager | fwd channels_last (ms) | vs eager | bwd NCHW (ms) | vs eager "
             "| bwd channels_last (ms) | vs eager |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dtype']} | {r['shape']} | " + " | ".join(
        f"{r[f'{mode} {fmt}'] * 1e3:.2f} | {r[f'{mode} eager {fmt} / {fmt}']:.2f}"
        for mode in ("fwd", "bwd") for fmt in ("nchw", "cl")) + " |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / name}.json and .md")


if __name__ == "__main__":
    main()
