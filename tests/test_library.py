"""The shipped library itself: loading with torch.ops.load_library alone, what it links,
what it contains, the loader's errors and the CLI (the per-ISA CPU kernels: test_cpu_isa.py)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import myops
from helpers import run_python

LIB = myops.library_path()


def test_load_library_alone_is_enough_for_eager_compile_and_opcheck():
    """No `import myops`: the C++ Meta kernels and autograd make the ops complete."""
    result = run_python(f"""
        import sys, torch
        torch.ops.load_library({str(LIB)!r})
        a = torch.randn(4, 3, requires_grad=True); b = torch.randn(3, requires_grad=True)
        torch.testing.assert_close(torch.ops.myops.muladd(a, b, 2.0), a * b + 2.0)
        fn = torch.compile(lambda a, b: torch.ops.myops.mul(a, b).sum(), backend="aot_eager",
                           fullgraph=True, dynamic=True)
        fn(a, b).backward()
        torch.testing.assert_close(a.grad, b.detach().expand(4, 3))
        for op, args in [(torch.ops.myops.muladd.default, (a, b, 1.0)),
                         (torch.ops.myops.add_out.default, (a, b, torch.empty(4, 3)))]:
            torch.library.opcheck(op, args)
        assert "myops" not in sys.modules, "the Python package was imported"
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_plain_ctypes_load_after_import_torch():
    result = run_python(f"""
        import ctypes, torch
        lib = ctypes.CDLL({str(LIB)!r})
        lib.myops_built_with_torch.restype = ctypes.c_char_p
        print(lib.myops_built_with_torch().decode())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == torch.__version__


def _readelf_dynamic() -> str:
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    return subprocess.run(["readelf", "-d", str(LIB)], capture_output=True, text=True, check=True).stdout


def test_no_libpython_and_no_torch_python():
    dynamic = _readelf_dynamic()
    needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert any("libtorch_cpu.so" in line for line in needed)
    assert not any("libpython" in line or "torch_python" in line for line in needed), needed


def test_rpath_points_at_torch_lib():
    dynamic = _readelf_dynamic()
    rpath = next(line for line in dynamic.splitlines() if "RUNPATH" in line or "RPATH" in line)
    assert str(Path(torch.__file__).parent / "lib") in rpath or "$ORIGIN/../../torch/lib" in rpath


def _cuobjdump():
    candidates = [shutil.which("cuobjdump"),
                  *[str(p) for p in Path(sys.prefix).glob("lib/python3*/site-packages/nvidia/cu*/bin/cuobjdump")]]
    return next((c for c in candidates if c), None)


def test_cuda_build_contains_real_gpu_code():
    archs = myops.build_info().get("cuda_archs") or []
    if not archs:
        pytest.skip("CPU-only build")
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("cuobjdump not found")
    elfs = subprocess.run([tool, "--list-elf", str(LIB)], capture_output=True, text=True, check=True).stdout
    for arch in archs:
        sm = "sm_" + arch.split("+")[0].replace(".", "")
        assert f".{sm}.cubin" in elfs, (arch, elfs)


def test_torch_version_mismatch_is_one_clear_import_error(tmp_path):
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    shutil.copy2(LIB, lib_dir / "libmyops.so")
    info = dict(myops.build_info(), torch_version="1.0.0")
    (lib_dir / "myops_build_info.json").write_text(json.dumps(info))
    result = run_python("import myops", env={"MYOPS_LIBRARY": str(lib_dir / "libmyops.so")})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:")
    assert "built against torch 1.0.0" in last and torch.__version__ in last and "pip install" in last


def test_missing_library_is_a_clear_import_error(tmp_path):
    result = run_python("import myops", env={"MYOPS_LIBRARY": str(tmp_path / "nope.so")})
    assert "ImportError: myops:" in result.stderr and "does not exist" in result.stderr


def test_cli_info_lists_every_op_with_its_kernels():
    result = subprocess.run([sys.executable, "-m", "myops", "info"], capture_output=True, text=True, check=True)
    text = result.stdout
    assert f"built against torch {torch.__version__}" in text
    assert "selected on this CPU:" in text
    for name in ("muladd", "mul", "add", "add_out"):
        assert f"myops::{name}(" in text
    assert "kernels: CPU, CUDA, Meta, Autograd" in text or "kernels: CPU, Meta, Autograd" in text


def test_cli_demo_shows_every_family_without_warnings():
    from myops._families import family_modules, family_name

    result = subprocess.run([sys.executable, "-m", "myops", "demo", "--no-compile"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("vs its reference", 1)[1]
    for module in family_modules():
        rows = [line for line in table.splitlines() if line.startswith(family_name(module) + " ")]
        assert len(rows) == len(module.demo_cases("cpu")), (family_name(module), table)
    assert "Warning" not in result.stdout + result.stderr, result.stderr
