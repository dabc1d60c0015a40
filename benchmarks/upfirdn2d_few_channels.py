"""upfirdn2d on images of 2-7 channels (RGB, RGBA: StyleGAN's toRGB / skip images) in both memory
formats, NCHW and channels_last, float32, bfloat16 and float16, against NCHW and against the best
eager composition in channels_last (oneDNN's depthwise convolutions):

    python benchmarks/upfirdn2d_few_channels.py [--quick] [--threads 1] [--dtypes float32,...] [--compile] [--tag TAG]
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/upfirdn2d_few_channels.py --tag avx2
    MYOPS_LIBRARY=/path/to/an/older/libmyops.so python benchmarks/upfirdn2d_few_channels.py --tag before

Why: a channels_last image of a few channels runs the row path on strided rows, its values C
apart, each channel's rows read (and, but for float32 on AVX-512 / AVX2's 2 and 4 channels,
written: there whole pixels are stored) one channel at a time, or, where the ISA moves neither,
through planar copies (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h); how much that costs
against the same image in NCHW is the question (channels_last is the layout PyTorch
recommends for CPU convolutions, so the one the conv before the op hands it).

Calls (benchmarks/upfirdn2d_speed.py's): up 2 (upsample2d), down 2 (downsample2d) and a blur
(padding 2) with StyleGAN2's 4x4 [1, 3, 3, 1] filter, and the blur with the separable filter, on
x = [4, C, 128, 128]. Variants per call: myops NCHW, myops channels_last, and the best eager
composition on the channels_last x (upfirdn2d_speed.py's eager_calls; the up's best is
conv_transpose2d); with --compile also torch.compile of myops.reference's formula on the
channels_last x (upfirdn2d_speed.py's compiled_reference: one static graph per shape, dtype and
call, compiled before timing: Inductor compiles C++ for each, the whole run ~2.5 minutes
longer). Timer: process CPU time (one thread by default: the machine is shared), each
variant's median of blocked runs, variants interleaved over rounds; ratios the median over
rounds. Writes benchmarks/results/upfirdn2d-few-channels[-compile][-TAG].{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import inductor_cache

inductor_cache.use_per_isa_cache()  # before torch is imported (AVX2 runs get their own cache)

import torch  # noqa: E402

import myops  # noqa: E402
from common import cpu_run_meta, cpu_run_sentence, interleaved_cpu_seconds, median_ratio  # noqa: E402
from upfirdn2d_speed import F1, F2, compiled_reference, eager_calls, myops_call  # noqa: E402

HERE = Path(__file__).resolve().parent
CHANNELS = (2, 3, 4, 5, 6, 7)
CALLS = [("up", "2d", F2), ("down", "2d", F2), ("blur", "2d", F2), ("blur", "sep", F1)]


def plot(rows: list, path: Path, title: str) -> None:
    """channels_last's time over NCHW's per call and channel count, one panel per dtype."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    fig, axes = plt.subplots(1, len(dtypes), figsize=(4 * len(dtypes), 3.4), sharey=True, squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        for call in dict.fromkeys(r["call"] for r in rows):
            mine = [r for r in rows if r["dtype"] == dtype and r["call"] == call]
            ax.plot([r["channels"] for r in mine], [1 / r["nchw / cl"] for r in mine], marker="o", label=call)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_title(dtype, fontsize=9)
        ax.set_xlabel("channels C of [4, C, 128, 128]")
    axes[0][0].set_ylabel("channels_last time / NCHW time")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="float32 only, 0.05 s per variant and round, 3 rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtypes", default="float32,bfloat16,float16", help="comma-separated (--quick: float32)")
    parser.add_argument("--compile", action="store_true",
                        help="also torch.compile of the reference formula on the channels_last x")
    parser.add_argument("--tag", help="results go to upfirdn2d-few-channels-TAG.{json,md}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, min_run_time = (3, 0.05) if args.quick else (5, 0.1)
    dtypes = [torch.float32] if args.quick else [getattr(torch, name) for name in args.dtypes.split(",")]
    rows = []
    for dtype in dtypes:
        for channels in CHANNELS:
            x = torch.randn(4, channels, 128, 128, generator=torch.Generator().manual_seed(0)).to(dtype)
            x_cl = x.contiguous(memory_format=torch.channels_last)
            for kind, form, f in CALLS:
                ours = myops_call(kind, f)
                # What the timings rely on: channels_last gives the NCHW result, in channels_last.
                y_cl = ours(x_cl)
                assert y_cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(y_cl, ours(x))
                eager_name, eager = next(iter(eager_calls(kind, f, channels, dtype).items()))
                variants = {"nchw": lambda: ours(x), "cl": lambda: ours(x_cl), "eager cl": lambda: eager(x_cl)}
                if args.compile:
                    compiled = compiled_reference(kind, f)
                    variants["compile cl"] = lambda: compiled(x_cl)
                for fn in variants.values():
                    fn()  # warm up
                samples = interleaved_cpu_seconds(variants, rounds, min_run_time)
                row = {"dtype": str(dtype).replace("torch.", ""), "channels": channels, "call": f"{kind} {form}",
                       "eager": eager_name, **{k: statistics.median(v) for k, v in samples.items()},
                       "nchw / cl": median_ratio(samples, "nchw", "cl"),
                       "eager cl / cl": median_ratio(samples, "eager cl", "cl")}
                if args.compile:
                    row["compile cl / cl"] = median_ratio(samples, "compile cl", "cl")
                    torch._dynamo.reset()  # (each graph is used for one row: free it, and the recompile limit)
                rows.append(row)
                print(f"{row['dtype']:8} C={channels} {row['call']:9} NCHW {row['nchw'] * 1e3:6.3f} ms, channels_last "
                      f"{row['cl'] * 1e3:6.3f} ms (NCHW / cl {row['nchw / cl']:4.2f}, {eager_name} "
                      f"{row['eager cl / cl']:5.2f}x"
                      + (f", torch.compile {row['compile cl / cl']:5.2f}x" if args.compile else "") + ")", flush=True)
    meta = cpu_run_meta("upfirdn2d_few_channels.py", args, ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MYOPS_LIBRARY"),
                        rounds=rounds)
    name = "upfirdn2d-few-channels" + ("-compile" if args.compile else "") + (f"-{args.tag}" if args.tag else "")
    out = HERE / "results"
    (out / f"{name}.json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
    lines = ["# upfirdn2d on [4, C, 128, 128] with 2-7 channels, NCHW and channels_last (CPU)", "",
             cpu_run_sentence(meta) + " NCHW / cl: myops' NCHW time over its channels_last time (< 1: "
             "channels_last slower); eager cl / cl: the best eager composition on the channels_last x over "
             "myops' channels_last time." + (" compile cl / cl: torch.compile of myops.reference's formula on "
             "the channels_last x over myops' channels_last time." if args.compile else ""), "",
             "| dtype | C | call | NCHW (ms) | channels_last (ms) | NCHW / cl | eager composition | eager cl / cl |"
             + (" torch.compile (ms) | compile cl / cl |" if args.compile else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|---|" if args.compile else "")]
    lines += [f"| {r['dtype']} | {r['channels']} | {r['call']} | {r['nchw'] * 1e3:.3f} | {r['cl'] * 1e3:.3f} | "
              f"{r['nchw / cl']:.2f} | {r['eager']} | {r['eager cl / cl']:.2f} |"
              + (f" {r['compile cl'] * 1e3:.3f} | {r['compile cl / cl']:.2f} |" if args.compile else "") for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    plot(rows, out / f"{name}.png", f"{meta['command']} ({meta['cpu']}, myops {meta['isa']['myops']})")
    print(f"wrote {out / name}.json, .md and .png")


if __name__ == "__main__":
    main()
