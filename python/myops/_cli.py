"""What `python -m myops info` and `python -m myops demo` print."""

from __future__ import annotations

import ctypes
import os
import time

import torch

from . import _library
from ._families import family_modules, family_name

# Keys worth showing: where an op has a kernel, and what that means for the user.
_KEYS = ("CPU", "CUDA", "Meta", "Autograd", "CompositeImplicitAutograd")


def dispatch_keys(qualified_name: str) -> list:
    return [key for key in _KEYS if torch._C._dispatch_has_kernel_for_dispatch_key(qualified_name, key)]


def selected_cpu_isa() -> str:
    lib = ctypes.CDLL(str(_library.library_path()))
    lib.myops_cpu_isa.restype = ctypes.c_char_p
    return lib.myops_cpu_isa().decode()


def print_info() -> None:
    info = _library.build_info()
    cuda = info.get("cuda_version")
    print(f"myops {info.get('myops_version', '?')}  ({_library.library_path()})")
    print(f"built against torch {info.get('torch_version', '?')}; running torch {torch.__version__}")
    if cuda:
        print(f"CUDA kernels: compiled with CUDA {cuda} for {', '.join(info.get('cuda_archs', []))}; "
              f"GPU available now: {torch.cuda.is_available()}")
    else:
        print("CUDA kernels: not compiled (CPU-only build)")
    print(f"CPU kernels: compiled for {', '.join(info.get('cpu_isas', []))}; "
          f"selected on this CPU: {selected_cpu_isa()} (ATen: {torch.backends.cpu.get_cpu_capability()})")
    fastcall = _library.fastcall_module()
    if fastcall is not None:
        print(f"Python wrappers: myops._fastcall ({fastcall.__file__})")
    else:
        print(f"Python wrappers: torch's generic op binding (myops._fastcall built: "
              f"{info.get('python_extension') or 'none'}; MYOPS_FASTCALL={os.environ.get('MYOPS_FASTCALL', 'unset')})")
    print("\nops:")
    for name in sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("myops::")):
        schema = torch._C._get_schema(name, "")
        print(f"  {schema}")
        print(f"      kernels: {', '.join(dispatch_keys(name))}")


# ---------------------------------------------------------------------------------- demo

def _demo_cases(device: str):
    """(family, label, op, reference, args): each family module's demo_cases(device)."""
    return [(family_name(module), *case) for module in family_modules() for case in module.demo_cases(device)]


def _outputs(result) -> tuple:
    """The result as a tuple of copies (add_out's op and reference write the same `out`)."""
    return tuple(r.clone() for r in (result if isinstance(result, (tuple, list)) else (result,)))


def _max_diff(ours: tuple, expected: tuple) -> float:
    return max(((o - e).abs().max().item() if o.numel() else 0.0) for o, e in zip(ours, expected))


def _median_seconds(fn, args, repeats: int = 15) -> float:
    fn(*args)
    times = []
    for _ in range(repeats):
        if args[0].is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*args)
        if args[0].is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def run_demo(compile_reference: bool = True) -> None:
    print_info()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cases = _demo_cases(device)
    print(f"\none call per op family ({', '.join(dict.fromkeys(c[0] for c in cases))}) vs its reference "
          f"on {device}, float32 (median time; ratio > 1: myops faster)")
    fw = max(len("family"), *(len(c[0]) for c in cases))  # column widths from the cases shown
    cw = max(len("call"), *(len(c[1]) for c in cases))
    header = f"{'family':{fw}} {'call':{cw}} {'max |diff|':>11} {'myops':>10} {'eager':>10} {'vs eager':>9}"
    if compile_reference:
        header += f" {'compiled':>10} {'vs compiled':>12}"
    print(header)
    for family, label, op, ref, args in cases:
        ours = _outputs(op(*args))
        diff = _max_diff(ours, _outputs(ref(*args)))
        t_ours = _median_seconds(op, args)
        t_eager = _median_seconds(ref, args)
        line = (f"{family:{fw}} {label:{cw}} {diff:11.2e} {t_ours * 1e3:8.3f}ms {t_eager * 1e3:8.3f}ms "
                f"{t_eager / t_ours:8.2f}x")
        if compile_reference:
            compiled = torch.compile(ref, fullgraph=True)
            t_comp = _median_seconds(compiled, args)
            line += f" {t_comp * 1e3:8.3f}ms {t_comp / t_ours:11.2f}x"
        print(line, flush=True)
