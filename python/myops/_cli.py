"""What `python -m myops info` and `python -m myops demo` print."""

from __future__ import annotations

import ctypes
import time

import torch

from . import _library, functional, reference

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
    print("\nops:")
    for name in sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("myops::")):
        schema = torch._C._get_schema(name, "")
        print(f"  {schema}")
        print(f"      kernels: {', '.join(dispatch_keys(name))}")


# ---------------------------------------------------------------------------------- demo

def _demo_cases(device: str):
    g = torch.Generator(device="cpu").manual_seed(0)
    n = 1 << 22
    a = torch.randn(n, generator=g).to(device)
    b = torch.randn(n, generator=g).to(device)
    out = torch.empty_like(a)
    return [
        ("muladd", functional.muladd, reference.muladd, (a, b, 0.5)),
        ("mul", functional.mul, reference.mul, (a, b)),
        ("add", functional.add, reference.add, (a, b)),
        ("add_out", functional.add_out, reference.add_out, (a, b, out)),
    ]


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
    print(f"\nops vs reference on {device}, 4M float32 elements (median time; ratio > 1: myops faster)")
    header = f"{'op':10} {'max |diff|':>11} {'myops':>10} {'eager':>10} {'vs eager':>9}"
    if compile_reference:
        header += f" {'compiled':>10} {'vs compiled':>12}"
    print(header)
    for name, op, ref, args in _demo_cases(device):
        ours = op(*args).clone()
        expected = ref(*args).clone()
        diff = (ours - expected).abs().max().item()
        t_ours = _median_seconds(op, args)
        t_eager = _median_seconds(ref, args)
        line = f"{name:10} {diff:11.2e} {t_ours * 1e3:8.3f}ms {t_eager * 1e3:8.3f}ms {t_eager / t_ours:8.2f}x"
        if compile_reference:
            compiled = torch.compile(ref, fullgraph=True)
            t_comp = _median_seconds(compiled, args)
            line += f" {t_comp * 1e3:8.3f}ms {t_comp / t_ours:11.2f}x"
        print(line)
