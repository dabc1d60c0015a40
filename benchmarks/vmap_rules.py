"""torch.vmap through myops' batching rules vs functorch's per-sample fallback, batch 64, small
inputs, CPU; writes benchmarks/results/vmap-cpu.{json,md}.

    python benchmarks/vmap_rules.py [--quick] [--only TEXT]

Three variants of each case, timed side by side in one process, one thread, in process CPU
time (medians of torch.utils.benchmark's blocked runs, interleaved rounds; only the ratios mean
something on a shared machine):
- rule: torch.vmap(torch.ops.myops.<op>) -- the C++ FuncTorchBatched kernel;
- fallback: torch.vmap over a copy of the op without a batching rule, so functorch's for-loop
  fallback runs (slice each sample, call, stack). The copy is an op of namespace myops_nobatch
  with the same schema whose CPU kernel calls torch.ops.myops.<op> (a Python call per sample:
  a few microseconds that the real fallback on myops' ops, before the rules, did not pay);
- loop: a Python loop over the samples + torch.stack (what users write without vmap).
The case "per-sample filters" batches upfirdn2d's filter, which the op takes once for the whole
tensor: its rule calls upfirdn2d_stacked (x [V, N, C, H, W], f [V, ...]; the checks, output and
filters once, the kernel per sample). Until 2026-12-03 the rule looped over the samples (one op
call each): 1.7x the fallback. One grouped ATen convolution over the samples' channels instead
(tried 2026-12-03: at::convolution in the op-math type on the zero-stuffed, padded
[N, V*C, H, W]) ran that case no faster (1.4-1.6x the Python loop, 1.7-2.2x the fallback;
oneDNN's depthwise convolution took ~150-300 us of it), and on large images it would trade the
op's kernels for a convolution 3-5x slower than them (benchmarks/bench_upfirdn2d.py).
filtered_lrelu's per-sample filters run the op's composition on the stack of samples, each
resampling step one upfirdn2d_stacked call (1.4x the fallback while the rule looped over the
samples, until 2026-12-03; the fused kernel taking a stack would save the intermediates). lltm's batched weights (model
ensembles) are one baddbmm for the pre-activations, then lltm_cell (the cell alone) on the
folded rows (ops/lltm/lltm_batching.cpp); lltm_backward's rule calls the gate pass alone
(lltm_gates_backward) on the folded rows and computes the per-sample products itself.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
import sys
from pathlib import Path

import torch
import torch.utils.benchmark as tbench

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
import myops  # noqa: E402
from common import cpu_model  # noqa: E402

V = 64
ROUNDS = 5
_nobatch = torch.library.Library("myops_nobatch", "DEF")


def without_rule(name):
    """myops_nobatch::<name>: the op's schema, no batching rule (so vmap takes the fallback)."""
    op = getattr(torch.ops.myops, name).default
    schema = str(op._schema).replace("myops::", "", 1)
    _nobatch.define(schema)
    _nobatch.impl(name, lambda *args, **kwargs: op(*args, **kwargs), "CPU")
    return getattr(torch.ops.myops_nobatch, name).default


def cases():
    torch.manual_seed(0)
    r = lambda *shape: torch.randn(*shape)  # noqa: E731
    f4 = myops.setup_filter([1, 3, 3, 1])
    fs = myops.setup_filter([1, 3, 3, 1], separable=True)
    B, F, S = 8, 16, 32
    weights, bias = r(3 * S, S + F) / 7, r(3 * S)
    _, new_cell, gates, X = torch.ops.myops.lltm_forward(r(V * B, F), weights, bias, r(V * B, S), r(V * B, S))
    split = lambda t: t.view(V, B, -1)  # noqa: E731
    fl = (fs, fs, None, 2, 2, [2, 1, 2, 1], 2 ** 0.5, 0.2, None, False)
    x_img = r(V, 1, 4, 8, 8)
    fl_out = torch.ops.myops.filtered_lrelu(x_img[0], *fl).shape
    # (label, op name, args, in_dims)
    return [
        ("muladd [64] x [16, 16] + [16]", "muladd", (r(V, 16, 16), r(16), 0.5), (0, None, None)),
        ("mul [16, 16] x batched [16]", "mul", (r(16, 16), r(V, 16)), (None, 0)),
        ("add [64] x [16, 16] in_dim 1", "add", (r(16, V, 16), r(16, 16)), (1, None)),
        ("add_out [64] x [16, 16]", "add_out", (r(V, 16, 16), r(16), torch.empty(V, 16, 16)), (0, None, 0)),
        ("bias_act lrelu x [64] x [4, 8, 8, 8]", "bias_act", (r(V, 4, 8, 8, 8), r(8), 1, "lrelu", None, None, 256.0),
         (0, None, None, None, None, None, None)),
        ("bias_act x and b batched", "bias_act", (r(V, 4, 8, 8, 8), r(V, 8), 1, "swish"), (0, 0, None, None)),
        ("bias_act_backward order 1", "bias_act_backward",
         (r(V, 4, 8, 8, 8), r(V, 4, 8, 8, 8), r(8), 1, "lrelu", None, None, None, 1),
         (0, 0, None, None, None, None, None, None, None)),
        ("upfirdn2d up2 x [64] x [1, 4, 8, 8]", "upfirdn2d", (x_img, f4, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0),
         (0, None, None, None, None, None, None)),
        ("upfirdn2d per-sample filters (upfirdn2d_stacked)", "upfirdn2d",
         (x_img, f4.expand(V, 4, 4).contiguous(), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0),
         (0, 0, None, None, None, None, None)),
        ("filtered_lrelu up2 down2 x [64] x [1, 4, 8, 8]", "filtered_lrelu", (x_img, *fl),
         (0,) + (None,) * 10),
        ("filtered_lrelu x and b batched", "filtered_lrelu", (x_img, fs, fs, r(V, 4), *fl[3:]),
         (0, None, None, 0) + (None,) * 7),
        ("filtered_lrelu per-sample filters (upfirdn2d_stacked composition)", "filtered_lrelu",
         (x_img, fs.expand(V, *fs.shape).contiguous(), fs.expand(V, *fs.shape).contiguous(), *fl[2:]),
         (0, 0, 0) + (None,) * 8),
        ("filtered_lrelu_backward", "filtered_lrelu_backward", (r(V, *fl_out), x_img, *fl), (0, 0) + (None,) * 10),
        ("lltm rows [64] x [8, 16], S=32", "lltm", (r(V, B, F), weights, bias, r(V, B, S), r(V, B, S)),
         (0, None, None, 0, 0)),
        ("lltm batched weights (baddbmm + lltm_cell)", "lltm",
         (r(V, B, F), weights.expand(V, *weights.shape).contiguous(), bias, r(V, B, S), r(V, B, S)),
         (0, 0, None, 0, 0)),
        ("lltm_backward per-sample weight grads", "lltm_backward",
         (r(V, B, S), r(V, B, S), split(new_cell), split(gates), split(X), weights), (0, 0, 0, 0, 0, None)),
        ("lltm_gates_backward", "lltm_gates_backward",
         (r(V, B, S), r(V, B, S), split(new_cell), split(gates)), 0),
        ("lltm_cell_backward", "lltm_cell_backward", (r(V, B, S), r(V, B, S), r(V, B, 3 * S), r(V, B, S)), 0),
        ("lltm_cell_double_backward", "lltm_cell_double_backward",
         (r(V, B, 3 * S), r(V, B, S), r(V, B, S), r(V, B, S), r(V, B, 3 * S), r(V, B, S)), 0),
    ]


def returning_out(op, name):
    if name != "add_out":
        return op
    return lambda a, b, out: (op(a, b, out), out)[1]


def per_sample_loop(op, args, in_dims):
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)

    def run():
        outs = [op(*[a.select(d, i) if d is not None else a for a, d in zip(args, dims)]) for i in range(V)]
        if isinstance(outs[0], tuple):
            return tuple(torch.stack(o) for o in zip(*outs))
        return torch.stack(outs) if outs[0] is not None else None
    return run


def median(fn, min_run_time):
    # CPU time of this (one-threaded) process, not wall time: on the shared 2-core machine these
    # numbers were measured on (load ~12), wall time is mostly waiting for a CPU and its ratios
    # swung from 0.1x to 100x between runs; the CPU time a variant uses is what it costs.
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, timer=time.process_time)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="0.5 s per variant and case instead of 2 s")
    parser.add_argument("--only", metavar="TEXT", help="only the cases whose label contains TEXT; prints, "
                        "writes no results")
    parser.add_argument("--tag", help="results go to vmap-cpu-TAG.{json,md} (e.g. avx2, for a run with "
                        "ATEN_CPU_CAPABILITY=avx2) instead of vmap-cpu.{json,md}")
    args = parser.parse_args()
    min_run_time = 0.5 if args.quick else 2.0
    torch._C._functorch._set_vmap_fallback_warning_enabled(False)
    # One thread: the rule's single call could otherwise split over threads where the
    # per-sample calls are too small to, which would credit the rule with parallelism.
    torch.set_num_threads(1)
    slow = {}
    rows = []
    for label, name, call_args, in_dims in cases():
        if args.only and args.only not in label:
            continue
        op = getattr(torch.ops.myops, name).default
        if name not in slow:
            slow[name] = without_rule(name)
        rule = torch.vmap(returning_out(op, name), in_dims=in_dims)
        fallback = torch.vmap(returning_out(slow[name], name), in_dims=in_dims)
        # Same values both ways (and a rule, not the fallback: with the fallback disabled, an
        # op without a rule raises).
        torch._C._functorch._set_vmap_fallback_enabled(False)
        want = rule(*call_args)
        torch._C._functorch._set_vmap_fallback_enabled(True)
        try:
            got = fallback(*call_args)
        except RuntimeError as e:  # add_out: functorch has no fallback for out= ops at all
            got, fallback = None, None
            print(f"{label}: no fallback ({str(e).splitlines()[0]})")
        if got is not None:
            for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
                torch.testing.assert_close(w, g, atol=1e-4, rtol=1e-4)
        variants = {"rule": lambda: rule(*call_args), "fallback": (lambda: fallback(*call_args)) if fallback else None,
                    "loop": per_sample_loop(op, call_args, in_dims)}
        # ROUNDS rounds, the variants interleaved in each: a load spike on the shared machine
        # then hits one round of every variant rather than one variant; median over rounds.
        samples = {k: [] for k in variants}
        for _ in range(ROUNDS):
            for k, fn in variants.items():
                if fn is not None:
                    samples[k].append(median(fn, min_run_time / ROUNDS))
        times = {k: statistics.median(v) if v else None for k, v in samples.items()}
        row = {"case": label, "op": name, "batch": V, **{f"{k}_s": v for k, v in times.items()},
               "fallback_over_rule": times["fallback"] / times["rule"] if fallback else None,
               "loop_over_rule": times["loop"] / times["rule"]}
        rows.append(row)
        ratio = f"{row['fallback_over_rule']:6.2f}x" if fallback else "  none "
        print(f"{label:<48} rule {times['rule'] * 1e6:9.1f} us  fallback/rule {ratio}  "
              f"loop/rule {row['loop_over_rule']:6.2f}x", flush=True)
    if args.only:
        return
    cpu = cpu_model()
    from myops._cli import selected_cpu_isa

    command = ("ATEN_CPU_CAPABILITY=" + os.environ["ATEN_CPU_CAPABILITY"] + " "
               if "ATEN_CPU_CAPABILITY" in os.environ else "") + "python benchmarks/vmap_rules.py"
    command += (" --quick" if args.quick else "") + (f" --tag {args.tag}" if args.tag else "")
    meta = {"command": command, "cpu": cpu, "isa": {"aten": torch.backends.cpu.get_cpu_capability(),
                                                    "myops": selected_cpu_isa()},
            "threads": torch.get_num_threads(), "torch": torch.__version__, "date": datetime.date.today().isoformat(),
            "seconds_per_variant": min_run_time, "rounds": ROUNDS}
    out = HERE / "results"
    name = "vmap-cpu" + (f"-{args.tag}" if args.tag else "")
    (out / f"{name}.json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
    lines = [f"# vmap: batching rules vs functorch's fallback (batch {V}, CPU)", "",
             f"`{meta['command']}` on {cpu} (ATen ISA {meta['isa']['aten']}, myops {meta['isa']['myops']}), "
             f"{meta['threads']} threads, torch {meta['torch']}, {meta['date']}. "
             f"Process CPU time (one thread; wall time on the shared, overloaded machine was mostly waiting for a "
             f"CPU), median over {ROUNDS} interleaved rounds of torch.utils.benchmark blocked-run medians, side by "
             "side in one process: compare the ratios, not absolute times. See the script's docstring for what "
             "each variant is.", "",
             "| case | rule | fallback / rule | Python loop / rule |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['rule_s'] * 1e6:.1f} µs | "
              + (f"{r['fallback_over_rule']:.2f}x" if r["fallback_over_rule"] else "none (functorch raises for out= ops)")
              + f" | {r['loop_over_rule']:.2f}x |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
