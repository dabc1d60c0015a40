"""bias_act with every activation of StyleGAN's table, forward and backward, against the eager
reference (x + b, the activation's torch op, * gain), torch.compile of that reference and the
activation's single ATen op alone (no bias, no gain: a lower bound no composition reaches):

    python benchmarks/bias_act_activations.py [--quick] [--threads 1]
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/bias_act_activations.py --tag avx2

The other bias_act benchmarks (bench_bias_act.py, sweep_pointwise.py) time lrelu only, the
activation StyleGAN uses; this one covers the exp/tanh-based ones too. x = [4, 512, 16, 16]
float32 (524K elements), b = [512] along dim 1, default alpha and gain, no clamp. Backward: x's
and b's gradients (autograd: myops' bias_act_backward op and a sum for b, against autograd
through the reference). Timer: the process's CPU time (one thread by default: the machine is
shared), each variant's median of blocked runs, the variants interleaved over rounds, ratios
the median over rounds. Writes benchmarks/results/bias_act-activations[-TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from inductor_cache import use_per_isa_cache

use_per_isa_cache()  # before torch is imported (inductor_cache.py: why)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import myops  # noqa: E402
from myops import reference  # noqa: E402

from common import cpu_run_meta, cpu_run_sentence, interleaved_cpu_seconds, median_ratio  # noqa: E402

HERE = Path(__file__).resolve().parent
ACTS = ["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish"]
# The activation's own ATen op (swish: F.silu, the same function).
ATEN = {"linear": lambda x: x.clone(), "relu": torch.relu, "lrelu": lambda x: F.leaky_relu(x, 0.2),
        "tanh": torch.tanh, "sigmoid": torch.sigmoid, "elu": F.elu, "selu": F.selu, "softplus": F.softplus,
        "swish": F.silu}


def backward_of(fn, x, b, grad):
    def run():
        return torch.autograd.grad(fn(x, b), (x, b), grad)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="0.2 s per variant and round, 3 rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", help="results go to bias_act-activations-TAG.{json,md}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # One compiled reference per activation and mode: more graphs of the same code than the
    # default recompile limit allows.
    torch._dynamo.config.recompile_limit = 64
    rounds, min_run_time = (3, 0.2) if args.quick else (5, 0.4)
    torch.manual_seed(0)
    x = torch.randn(4, 512, 16, 16)
    b = torch.randn(512)
    xg, bg = x.clone().requires_grad_(), b.clone().requires_grad_()
    grad = torch.randn_like(x)
    rows = []
    for act in ACTS:
        ref = lambda x, b, act=act: reference.bias_act(x, b, 1, act)  # noqa: E731
        compiled = torch.compile(ref, fullgraph=True)
        ours = lambda x, b, act=act: myops.bias_act(x, b, 1, act)  # noqa: E731
        variants = {
            "fwd myops": lambda: ours(x, b), "fwd eager": lambda: ref(x, b), "fwd compiled": lambda: compiled(x, b),
            "fwd aten op alone": lambda: ATEN[act](x),
            "bwd myops": backward_of(ours, xg, bg, grad), "bwd eager": backward_of(ref, xg, bg, grad),
            "bwd compiled": backward_of(compiled, xg, bg, grad),
        }
        for fn in variants.values():
            fn()  # compile, warm up
        samples = interleaved_cpu_seconds(variants, rounds, min_run_time)
        ratio = lambda base, mode: median_ratio(samples, f"{mode} {base}", f"{mode} myops")  # noqa: E731
        row = {"act": act, **{k: statistics.median(v) for k, v in samples.items()},
               "fwd eager / myops": ratio("eager", "fwd"), "fwd compiled / myops": ratio("compiled", "fwd"),
               "fwd aten op alone / myops": ratio("aten op alone", "fwd"),
               "bwd eager / myops": ratio("eager", "bwd"), "bwd compiled / myops": ratio("compiled", "bwd")}
        rows.append(row)
        print(f"{act:<9} fwd {row['fwd myops'] * 1e6:7.0f} us: eager {row['fwd eager / myops']:5.2f}x, compiled "
              f"{row['fwd compiled / myops']:5.2f}x, ATen op alone {row['fwd aten op alone / myops']:5.2f}x | bwd "
              f"{row['bwd myops'] * 1e6:7.0f} us: eager {row['bwd eager / myops']:5.2f}x, compiled "
              f"{row['bwd compiled / myops']:5.2f}x", flush=True)
    # (GLIBC_TUNABLES: e.g. malloc reusing freed memory, no first-touch page faults per call)
    meta = cpu_run_meta("bias_act_activations.py", args, ("GLIBC_TUNABLES", "ATEN_CPU_CAPABILITY"),
                        shape=list(x.shape), rounds=rounds)
    name = "bias_act-activations" + (f"-{args.tag}" if args.tag else "")
    out = HERE / "results"
    (out / f"{name}.json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
    lines = [f"# bias_act per activation (x {list(x.shape)} float32, b along dim 1; CPU)", "",
             cpu_run_sentence(meta) + " \"ATen op alone\": the activation's own op on x, no bias, no gain.", "",
             "| act | fwd myops | vs eager | vs compiled | vs ATen op alone | fwd+bwd myops | vs eager | vs compiled |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['act']} | {r['fwd myops'] * 1e6:.0f} µs | {r['fwd eager / myops']:.2f}x | "
              f"{r['fwd compiled / myops']:.2f}x | {r['fwd aten op alone / myops']:.2f}x | {r['bwd myops'] * 1e6:.0f} µs | "
              f"{r['bwd eager / myops']:.2f}x | {r['bwd compiled / myops']:.2f}x |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
