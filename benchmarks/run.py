"""Runs the benchmarks and writes CSV + JSON + a PNG plot under benchmarks/results/.

    python benchmarks/run.py                      # every family, CPU (and CUDA when present)
    python benchmarks/run.py --family elementwise --quick
    python benchmarks/run.py --thp                # huge pages for large CPU tensors (see below)

--thp sets THP_MEM_ALLOC_ENABLE=1 before torch is imported: PyTorch's own switch that makes its
CPU allocator ask for transparent huge pages. Without it, every out-of-place op on a tensor of
tens of MB gets fresh pages from the kernel and pays one page fault per 4 KiB on first touch,
which costs more than the arithmetic for myops, eager PyTorch and torch.compile alike. Both
settings are reported; results carry the setting in their file names.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from inductor_cache import use_per_isa_cache  # noqa: E402

torch = None  # imported in main(), after --thp had its say

FAMILIES = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine() -> dict:
    from common import cpu_model  # imports torch: only once main() has

    info = {"THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE", ""), "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_model(),
            "threads": torch.get_num_threads(), "date": datetime.date.today().isoformat(),
            "cpu_isa": torch.backends.cpu.get_cpu_capability()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def plot(rows: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['case']} [{r['device']}]" for r in rows]
    series = [("vs eager", "speedup_vs_eager"), ("vs torch.compile", "speedup_vs_compiled"),
              ("fraction of copy_ bandwidth", "fraction_of_copy_bandwidth")]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.5))
    height = 0.8 / len(series)
    for i, (label, key) in enumerate(series):
        values = [r.get(key, 0) or 0 for r in rows]
        ax.barh([y + i * height for y in range(len(rows))], values, height=height, label=label)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([y + height for y in range(len(rows))])
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio (> 1: myops faster; bandwidth: fraction of copy_)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(rows: list) -> str:
    lines = ["| case | device | myops | vs eager | vs compile | GB/s | of copy_ |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        fmt = lambda k, f: (f % r[k]) if r.get(k) is not None else "–"  # noqa: E731
        lines.append(f"| {r['case']} | {r['device']} | {r['ours_s'] * 1e6:.1f} µs | {fmt('speedup_vs_eager', '%.2fx')} | "
                     f"{fmt('speedup_vs_compiled', '%.2fx')} | {fmt('ours_GBps', '%.1f')} | {fmt('fraction_of_copy_bandwidth', '%.2f')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=FAMILIES, action="append", help="default: all")
    parser.add_argument("--device", choices=["cpu", "cuda"], action="append", help="default: cpu (+ cuda if present)")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings (smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--thp", action="store_true", help="THP_MEM_ALLOC_ENABLE=1 (huge pages for CPU tensors)")
    args = parser.parse_args(argv)

    if args.thp:
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1"  # read by c10's CPU allocator: before torch loads
    use_per_isa_cache()  # with ATEN_CPU_CAPABILITY set (inductor_cache.py: why); before torch loads
    global torch
    import torch

    import myops  # noqa: F401  (loads the library)
    from common import measure

    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    rows = []
    for family in args.family or FAMILIES:
        module = importlib.import_module(f"bench_{family}")
        for device in devices:
            for case in module.cases(device, quick=args.quick):
                row = measure(case, min_run_time=0.2 if args.quick else 1.0)
                rows.append(row)
                print(f"{row['case']:45} {row['device']:5} {row['ours_s'] * 1e6:10.1f} us  "
                      f"eager x{row['speedup_vs_eager']:.2f}  "
                      + (f"compiled x{row['speedup_vs_compiled']:.2f}  " if "speedup_vs_compiled" in row else "")
                      + (f"copy-bw {row['fraction_of_copy_bandwidth']:.2f}" if "fraction_of_copy_bandwidth" in row else ""),
                      flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    tag = "-".join(args.family or ["all"]) + "-" + "-".join(devices) + ("-thp" if args.thp else "") + ("-quick" if args.quick else "")
    keys = sorted({k for r in rows for k in r})
    with open(args.out / f"{tag}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / f"{tag}.json").write_text(json.dumps({"machine": machine(), "command": " ".join(sys.argv), "rows": rows}, indent=1))
    (args.out / f"{tag}.md").write_text(markdown(rows) + "\n")
    plot(rows, args.out / f"{tag}.png")
    print(f"\nwrote {args.out}/{tag}.{{csv,json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
