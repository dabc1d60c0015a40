"""The CPU-only build: a machine without nvcc builds libmyops.so against the default
(CUDA-enabled) torch wheel, and it works. nvcc is hidden from PATH for this build."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _path_without_nvcc() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not (Path(d) / "nvcc").exists())


@pytest.fixture(scope="module")
def cpu_only_build():
    if shutil.which("cmake") is None or shutil.which("ninja") is None:
        pytest.skip("cmake/ninja not available")
    # Inside the clone's build/ folder: rebuilds are incremental, and ccache (CI sets
    # CCACHE_BASEDIR to the clone) hits across clones.
    build = ROOT / "build" / "test-cpu-only"
    env = {**os.environ, "PATH": _path_without_nvcc()}
    env.pop("CUDACXX", None)
    env.pop("CUDA_HOME", None)
    assert shutil.which("nvcc", path=env["PATH"]) is None
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DMYOPS_CUDA=OFF",
                    f"-DPython3_EXECUTABLE={sys.executable}"], env=env, check=True, capture_output=True)
    result = subprocess.run(["cmake", "--build", str(build)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build


def test_cpu_only_build_works_without_nvcc(cpu_only_build):
    lib = cpu_only_build / "libmyops.so"
    program = textwrap.dedent("""
        import torch, myops
        assert myops.build_info()["cuda_version"] is None
        assert not torch._C._dispatch_has_kernel_for_dispatch_key("myops::muladd", "CUDA")
        a, b = torch.randn(5, 3), torch.randn(3)
        torch.testing.assert_close(myops.muladd(a, b, 1.0), a * b + 1.0)
        print("ok")
    """)
    env = {**os.environ, "MYOPS_LIBRARY": str(lib)}
    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    info = subprocess.run([sys.executable, "-m", "myops", "info"], env=env, capture_output=True, text=True, check=True)
    assert "CUDA kernels: not compiled" in info.stdout
