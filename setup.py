"""Builds libmyops.so through CMake (+ ninja) and ships it inside the `myops` Python package.

    pip install --no-build-isolation .      # or -e . ; uses the torch already installed
    MYOPS_CUDA=OFF pip install ...          # CPU-only (default: CUDA when nvcc is found)
    MYOPS_BUILD_FASTCALL=ON pip install ... # require myops._fastcall (default AUTO: built when
                                            # this Python's headers are found; OFF: never)
    TORCH_CUDA_ARCH_LIST="8.0;9.0+PTX"      # GPU architectures to compile for (the default)

--no-build-isolation matters: the library must be compiled against the torch that will load it,
and the package requires exactly that torch version (torch==2.11.0 for a 2.11.0+cu130 build).
The CMake build folder (build/setup, or $MYOPS_BUILD_DIR) is kept between builds, and ccache is
used when present, so rebuilding after a change recompiles only what changed.
"""

import importlib.util
import json
import os
import re
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


def torch_requirement() -> str:
    """`torch==<version>` of the torch this build compiles against: the one CMake finds through
    this Python (torch/version.py, read without importing torch). The local label is dropped
    (2.11.0+cu130 -> torch==2.11.0, which PEP 440 matches by 2.11.0+cu130 and 2.11.0 alike)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        print("myops setup.py: torch is not importable here; the package will not pin torch "
              "(build with --no-build-isolation next to the torch it is for)", file=sys.stderr)
        return "torch"
    version_py = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", version_py.read_text(), re.M)
    if not match:
        raise RuntimeError(f"myops setup.py: cannot read __version__ from {version_py}")
    return "torch==" + match.group(1).split("+", 1)[0]


def fastcall_names(folder: Path) -> list:
    """Files of the extension module myops._fastcall (python/csrc/fastcall.cpp) in `folder`: CMake
    builds it beside libmyops.so when it finds this Python's headers, and the package loads it
    from beside the library (myops/_library.py)."""
    return [p.name for p in folder.glob("_fastcall.*.so")] if folder.is_dir() else []


def built_fastcall(build_dir: Path) -> list:
    """The one file of myops._fastcall that this build made (its build info names it), if any."""
    name = json.loads((build_dir / "myops_build_info.json").read_text()).get("python_extension")
    return [name] if name else []


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
            f"-DMYOPS_FASTCALL={os.environ.get('MYOPS_BUILD_FASTCALL', 'AUTO')}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if os.environ.get("TORCH_CUDA_ARCH_LIST"):
            configure.append(f"-DTORCH_CUDA_ARCH_LIST={os.environ['TORCH_CUDA_ARCH_LIST']}")
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 2))
        try:
            subprocess.run(configure, check=True)
            subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs], check=True)
        except subprocess.CalledProcessError:
            # No stale library may survive a failed build: neither the one in the build folder
            # (MYOPS_LIBRARY users, cmake --install) nor the one in myops/lib (editable installs).
            for folder in (build_dir, lib_dir):
                for name in ("libmyops.so", "myops_build_info.json", *fastcall_names(folder)):
                    (folder / name).unlink(missing_ok=True)
            raise
        lib_dir.mkdir(parents=True, exist_ok=True)
        for name in fastcall_names(lib_dir):  # (one built earlier, maybe for another Python)
            (lib_dir / name).unlink()
        for name in ("libmyops.so", "myops_build_info.json", *built_fastcall(build_dir)):
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
    install_requires=[torch_requirement()],
    zip_safe=False,
)
