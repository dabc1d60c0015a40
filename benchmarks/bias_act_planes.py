"""bias_act as StyleGAN2's networks call it (lrelu, gain sqrt(2), clamp 256, b along dim 1 of an
NCHW tensor) on each plane size the networks have, 4x4 to 64x64, forward and the backward op,
against the eager reference composition and torch.compile of it:

    python benchmarks/bias_act_planes.py [--quick] [--threads 1] [--tag TAG]
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/bias_act_planes.py --tag avx2

Why a benchmark of its own: with b broadcast along the channels each (n, c) plane is one row of
the elementwise loop, so the plane size decides how the loop splits a row (whole vector pairs,
then a tail). The other bias_act benchmarks time one large plane size only; ATen's loop sent
every 4x4 plane through its scalar lambda and no benchmark showed it (docs/performance.md: "The
broadcast bias on small planes").

Shapes: [4, C, R, R] float32 with StyleGAN2's channels per resolution (R = 4..64: C = 512, 512,
256, 128, 64). Backward: the op myops' autograd calls (bias_act_backward: x's gradient) against
the reference's x-gradient (the same formula written with torch ops: where, mul) eager and
compiled. Timer: process CPU time (one thread by default: the machine is shared), each
variant's median of blocked runs, variants interleaved over rounds, ratios the median over
rounds (> 1: myops faster). Writes benchmarks/results/bias_act-planes[-TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from inductor_cache import use_per_isa_cache

use_per_isa_cache()  # before torch is imported (inductor_cache.py: why)

import torch  # noqa: E402

import myops  # noqa: E402
from myops import reference  # noqa: E402

from common import cpu_run_meta, cpu_run_sentence, interleaved_cpu_seconds, median_ratio  # noqa: E402

HERE = Path(__file__).resolve().parent
CHANNELS = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64}  # StyleGAN2's channels per resolution
GAIN, CLAMP, ALPHA = math.sqrt(2), 256.0, 0.2


def forward_reference(x, b):
    return reference.bias_act(x, b, 1, "lrelu", ALPHA, GAIN, CLAMP)


def backward_reference(grad, x, b):
    """x's gradient of forward_reference, written out: gain * lrelu'(x + b), zero where clamped."""
    v = x + b.view(1, -1, 1, 1)
    y = torch.where(v > 0, v, v * ALPHA) * GAIN
    return torch.where(y.abs() > CLAMP, 0.0, grad * torch.where(v > 0, GAIN, GAIN * ALPHA))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="0.2 s per variant and round, 3 rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", help="results go to bias_act-planes-TAG.{json,md}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch._dynamo.config.recompile_limit = 64  # one graph per shape and mode
    rounds, min_run_time = (3, 0.2) if args.quick else (5, 0.4)
    torch.manual_seed(0)
    fwd_compiled = torch.compile(forward_reference, fullgraph=True, dynamic=False)
    bwd_compiled = torch.compile(backward_reference, fullgraph=True, dynamic=False)
    rows = []
    for res, channels in CHANNELS.items():
        x = torch.randn(4, channels, res, res) * 100  # some values past the clamp
        b = torch.randn(channels)
        grad = torch.randn_like(x)
        # The check the timings rely on: the three compute the same thing.
        torch.testing.assert_close(myops.bias_act(x, b, 1, "lrelu", ALPHA, GAIN, CLAMP), forward_reference(x, b))
        torch.testing.assert_close(torch.ops.myops.bias_act_backward(grad, x, b, 1, "lrelu", ALPHA, GAIN, CLAMP, 1),
                                   backward_reference(grad, x, b))
        variants = {
            "fwd myops": lambda: myops.bias_act(x, b, 1, "lrelu", ALPHA, GAIN, CLAMP),
            "fwd eager": lambda: forward_reference(x, b),
            "fwd compiled": lambda: fwd_compiled(x, b),
            "bwd myops": lambda: torch.ops.myops.bias_act_backward(grad, x, b, 1, "lrelu", ALPHA, GAIN, CLAMP, 1),
            "bwd eager": lambda: backward_reference(grad, x, b),
            "bwd compiled": lambda: bwd_compiled(grad, x, b),
        }
        for fn in variants.values():
            fn()  # compile, warm up
        samples = interleaved_cpu_seconds(variants, rounds, min_run_time)
        row = {"shape": list(x.shape), **{k: statistics.median(v) for k, v in samples.items()},
               **{f"{mode} {base} / myops": median_ratio(samples, f"{mode} {base}", f"{mode} myops")
                  for mode in ("fwd", "bwd") for base in ("eager", "compiled")}}
        rows.append(row)
        print(f"{str(list(x.shape)):<18} fwd {row['fwd myops'] * 1e6:7.1f} us: eager {row['fwd eager / myops']:5.2f}x, "
              f"compiled {row['fwd compiled / myops']:5.2f}x | bwd {row['bwd myops'] * 1e6:7.1f} us: eager "
              f"{row['bwd eager / myops']:5.2f}x, compiled {row['bwd compiled / myops']:5.2f}x", flush=True)
    meta = cpu_run_meta("bias_act_planes.py", args, ("ATEN_CPU_CAPABILITY", "MYOPS_LIBRARY"), rounds=rounds)
    name = "bias_act-planes" + (f"-{args.tag}" if args.tag else "")
    out = HERE / "results"
    (out / f"{name}.json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
    lines = ["# bias_act on StyleGAN2's planes (lrelu, gain sqrt(2), clamp 256, b along dim 1; CPU)", "",
             cpu_run_sentence(meta) + " bwd: x's gradient (the bias_act_backward op against the same formula "
             "in torch ops).", "",
             "| x | fwd myops (µs) | vs eager | vs compiled | bwd myops (µs) | vs eager | vs compiled |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['shape']} | {r['fwd myops'] * 1e6:.1f} | {r['fwd eager / myops']:.2f} | "
              f"{r['fwd compiled / myops']:.2f} | {r['bwd myops'] * 1e6:.1f} | {r['bwd eager / myops']:.2f} | "
              f"{r['bwd compiled / myops']:.2f} |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / name}.json and .md")


if __name__ == "__main__":
    main()
