"""Per-call cost of the ops whose kernels view their own inputs (bias_act's b along x, lltm's
gate columns: ops/common/operand_view.h), on tiny tensors, one thread, thread CPU time.

The library is whichever `import myops` finds, so an A/B runs this twice, once per build
(MYOPS_LIBRARY / PYTHONPATH), alternately. Each op's time is divided by F.leaky_relu's on a
tensor of the same size, timed in the same rounds (interleaved), so a slow phase of a shared
machine hits both: compare the ratios across builds, not the microseconds.

    python benchmarks/per_call_views.py --tag after --out benchmarks/results
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

import myops
from common import cpu_model, median_ratio, rotating_thread_us, write_tagged_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--calls", type=int, default=20000, help="calls per block")
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", type=Path, default=None, help="folder for per-call-views[-TAG].json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    x, g, b = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4), torch.randn(8)
    batch, state = 4, 16
    pre_gates, old_cell = torch.randn(batch, 3 * state), torch.randn(batch, state)
    grad_h, grad_cell = torch.randn(batch, state), torch.randn(batch, state)
    ops = torch.ops.myops
    cases = {
        "F.leaky_relu": lambda: F.leaky_relu(x, 0.2),  # the yardstick
        "myops.bias_act(x, b)": lambda: myops.bias_act(x, b, act="lrelu"),
        "bias_act_backward(grad, x, b)": lambda: ops.bias_act_backward(g, x, b, 1, "lrelu", None, None, None, 1),
        "lltm_cell": lambda: ops.lltm_cell(pre_gates, old_cell),
        "lltm_cell_backward": lambda: ops.lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell),
    }
    times = rotating_thread_us(cases, args.rounds, args.calls)
    rows = [{"case": name, "us": statistics.median(t),
             "over_leaky_relu": median_ratio(times, name, "F.leaky_relu")} for name, t in times.items()]
    for row in rows:
        print(f"{row['case']:32} {row['us']:6.2f} us  {row['over_leaky_relu']:.3f}x F.leaky_relu")
    if args.out is not None:
        result = {"command": "python benchmarks/per_call_views.py" + (f" --tag {args.tag}" if args.tag else ""),
                  "cpu": cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(), "threads": 1,
                  "torch": torch.__version__, "myops_library": str(myops.library_path()), "rounds": args.rounds,
                  "calls_per_block": args.calls, "rows": rows}
        print(f"wrote {write_tagged_json(args.out, 'per-call-views', args.tag, result)}")


if __name__ == "__main__":
    main()
