"""Builds libmyops.so through CMake (+ ninja) and ships it inside the `myops` Python package.

    pip install --no-build-isolation .      # or -e . ; uses the torch already installed
    MYOPS_CUDA=OFF pip install ...          # CPU-only (default: CUDA when nvcc is found)
    TORCH_CUDA_ARCH_LIST="8.0;9.0+PTX"      # GPU architectures to compile for (the default)

--no-build-isolation matters: the library must be compiled against the torch that will load it.
The CMake build folder (build/setup, or $MYOPS_BUILD_DIR) is kept between builds, and ccache is
used when present, so rebuilding after a change recompiles only what changed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def cmake_version() -> str:
    text = (ROOT / "CMakeLists.txt").read_text()
    return text.split("project(myops VERSION ", 1)[1].split()[0]


class CMakeLibrary(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])


class BuildWithCMake(build_ext):
    def build_extension(self, ext: Extension) -> None:
        build_dir = Path(os.environ.get("MYOPS_BUILD_DIR", ROOT / "build" / "setup")).resolve()
        lib_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent  # .../myops/lib
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DMYOPS_CUDA={os.environ.get('MYOPS_CUDA', 'AUTO')}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if os.environ.get("TORCH_CUDA_ARCH_LIST"):
            configure.append(f"-DTORCH_CUDA_ARCH_LIST={os.environ['TORCH_CUDA_ARCH_LIST']}")
        subprocess.run(configure, check=True)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs], check=True)
        lib_dir.mkdir(parents=True, exist_ok=True)
        for name in ("libmyops.so", "myops_build_info.json"):
            shutil.copy2(build_dir / name, lib_dir / name)


setup(
    name="myops",
    version=cmake_version(),
    description="PyTorch custom operators in C++/CUDA: bias_act, upfirdn2d, lltm, elementwise",
    packages=["myops"],
    package_dir={"": "python"},
    ext_modules=[CMakeLibrary("myops.lib.libmyops")],
    cmdclass={"build_ext": BuildWithCMake},
    python_requires=">=3.9",
    install_requires=["torch"],
    zip_safe=False,
)
