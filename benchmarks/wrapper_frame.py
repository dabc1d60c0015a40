"""Where myops.mul's time goes against torch.mul, size by size (float32, one thread, thread CPU
time): torch.mul, the wrapper's C entry alone (myops._fastcall: the op through the dispatcher,
as torch.mul's generated binding calls aten::mul), and the wrapper `myops.mul` (the entry plus
its Python frame: the mode checks under TorchScript and Dynamo). Each size's three variants
alternate within every round; the differences are medians of the per-round differences.

    python benchmarks/wrapper_frame.py --out benchmarks/results --tag epyc
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

import myops
from myops import ops_elementwise

from common import cpu_model, median_ratio, rotating_thread_us, write_tagged_json

SIZES = [4, 256, 1024, 4096, 16384, 65536]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", type=Path, default=None, help="folder for wrapper-frame[-TAG].json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    entry = ops_elementwise._MUL  # the wrapper's eager entry (the overload itself without myops._fastcall)
    rows = []
    for n in SIZES:
        a, b = torch.randn(n), torch.randn(n)
        variants = {"torch.mul": lambda: torch.mul(a, b), "entry": lambda: entry(a, b), "myops.mul": lambda: myops.mul(a, b)}
        calls = max(2000, 2_000_000 // (n + 400))
        times = rotating_thread_us(variants, args.rounds, calls)
        row = {"numel": n, "torch_mul_us": statistics.median(times["torch.mul"]),
               "entry_minus_torch_us": statistics.median(e - t for e, t in zip(times["entry"], times["torch.mul"])),
               "wrapper_minus_entry_us": statistics.median(w - e for w, e in zip(times["myops.mul"], times["entry"])),
               "torch_over_wrapper": median_ratio(times, "torch.mul", "myops.mul")}
        rows.append(row)
        print(f"numel {n:6d}  torch.mul {row['torch_mul_us']:6.3f} us  entry - torch.mul {row['entry_minus_torch_us']:+.3f} us"
              f"  myops.mul - entry {row['wrapper_minus_entry_us']:+.3f} us  torch.mul / myops.mul {row['torch_over_wrapper']:.3f}",
              flush=True)
    if args.out is not None:
        result = {"command": "python benchmarks/wrapper_frame.py" + (f" --tag {args.tag}" if args.tag else ""),
                  "cpu": cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(), "threads": 1,
                  "torch": torch.__version__, "rounds": args.rounds, "rows": rows}
        print(f"wrote {write_tagged_json(args.out, 'wrapper-frame', args.tag, result)}")


if __name__ == "__main__":
    main()
