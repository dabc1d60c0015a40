"""The build: the CPU-only build (a machine without nvcc builds libmyops.so against the default
CUDA-enabled torch wheel, and it works; nvcc is hidden from PATH for it), and the build's
hygiene: what it reads from torch, when it builds CUDA kernels, compile_commands.json, RPATH,
the package metadata, `make install` on a failed build, and `make gpu-check` without a GPU.

Only one real build (the CPU-only one, build/test-cpu-only); the other CMake checks configure
against fake torch folders and never compile."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import myops

ROOT = Path(__file__).resolve().parents[1]
TORCH_DIR = Path(torch.__file__).resolve().parent


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


# ---------------------------------------------------------------------------- compile_commands.json

def test_compile_commands_lists_the_real_per_isa_kernel_sources(cpu_only_build):
    """Editors and clang-tidy see ops/<op>/*_cpu_kernel.cpp with each ISA's flags, not wrappers."""
    entries = json.loads((cpu_only_build / "compile_commands.json").read_text())
    kernels = sorted(ROOT.glob("ops/*/*_cpu_kernel.cpp"))
    assert kernels
    isas = ["DEFAULT", "AVX2", "AVX512"] if os.uname().machine in ("x86_64", "AMD64") else ["DEFAULT"]
    for kernel in kernels:
        commands = [e["command"] if "command" in e else " ".join(e["arguments"])
                    for e in entries if Path(e["directory"], e["file"]).resolve() == kernel.resolve()]
        found = sorted(re.search(r"-DCPU_CAPABILITY=(\w+)", c).group(1) for c in commands)
        assert found == sorted(isas), f"{kernel.relative_to(ROOT)}: {found}"
        for c in commands:
            if "CPU_CAPABILITY=AVX2" in c:
                assert "-mavx2" in c and "-DCPU_CAPABILITY_AVX2" in c
    assert not [e["file"] for e in entries if "cpu_isa" in Path(e["file"]).parts]


# ---------------------------------------------------------------------------- RPATH

def _rpath_entries(lib: Path) -> list:
    dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    lines = [line for line in dynamic.splitlines() if "(RUNPATH)" in line or "(RPATH)" in line]
    assert lines, f"{lib} has no RPATH/RUNPATH"
    return [entry for line in lines for entry in line.split("[", 1)[1].rstrip("]").split(":")]


def test_rpath_holds_only_origin_and_torch_folders(cpu_only_build):
    """No folder of the build machine in the RPATH except torch's own (lib/) and the CUDA
    runtime folders of the torch wheel (site-packages/nvidia/...)."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    allowed = [TORCH_DIR, TORCH_DIR.parent / "nvidia"]
    libs = {cpu_only_build / "libmyops.so", myops.library_path()}
    fastcall = myops._library.fastcall_path()  # (the Python extension, where built)
    libs |= {p for p in (cpu_only_build / fastcall.name, fastcall) if p.is_file()}
    for lib in libs:
        entries = _rpath_entries(lib)
        assert any(e.startswith("$ORIGIN/") for e in entries), entries
        for entry in entries:
            if entry.startswith("$ORIGIN/"):
                continue
            real = Path(os.path.realpath(entry))
            assert any(real == a.resolve() or a.resolve() in real.parents for a in allowed), \
                f"{lib}: RPATH entry {entry} is outside torch's folders {allowed}"


# ---------------------------------------------------------------------------- torch detection (configure only)

def _fake_torch(root: Path, *, version: str, cuda, abi: bool, cxx_standard: int, cuda_libs: bool,
                cxx_standard_as_feature: bool = False) -> Path:
    """A torch package folder that CMake can configure against: the real headers (symlinked), a
    version.py, a TorchConfig.cmake naming the C++ standard (as torch <= 2.11 writes it, or with
    cxx_standard_as_feature as 2.15 does), and lib/ with only the libraries a CPU (or, with
    cuda_libs, a CUDA) wheel has. `import torch` from its parent gives the attributes
    MyopsTorch.cmake asks for."""
    pkg = root / "site-packages" / "torch"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "include").symlink_to(TORCH_DIR / "include")
    (pkg / "version.py").write_text(f"__version__ = {version!r}\ncuda: Optional[str] = {cuda!r}\n")
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        import os, types
        __version__ = {version!r}
        utils = types.SimpleNamespace(cmake_prefix_path=os.path.join(os.path.dirname(__file__), "share", "cmake"))
        _C = types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI={abi!r})
    """))
    config = pkg / "share" / "cmake" / "Torch" / "TorchConfig.cmake"
    config.parent.mkdir(parents=True)
    config.write_text(f"target_compile_features(torch INTERFACE cxx_std_{cxx_standard})\n"
                      if cxx_standard_as_feature else
                      f"set_target_properties(torch PROPERTIES CXX_STANDARD {cxx_standard})\n")
    names = ["libc10.so", "libtorch_cpu.so", "libtorch.so"] + (["libc10_cuda.so", "libtorch_cuda.so"] if cuda_libs else [])
    for name in names:
        (pkg / "lib" / name).symlink_to(TORCH_DIR / "lib" / name)
    python = root / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={pkg.parent} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return python


def _configure(build: Path, *args, env=None) -> subprocess.CompletedProcess:
    if shutil.which("cmake") is None or shutil.which("ninja") is None:
        pytest.skip("cmake/ninja not available")
    return subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", *args],
                          capture_output=True, text=True, env=env or os.environ)


def _cache(build: Path, name: str) -> str:
    text = (build / "CMakeCache.txt").read_text()
    return re.search(rf"^{name}:\w+=(.*)$", text, re.M).group(1)


@pytest.fixture(scope="module")
def fake_cpu_torch(tmp_path_factory):
    return _fake_torch(tmp_path_factory.mktemp("cpu_torch"), version="2.11.0+cpu", cuda=None, abi=False,
                       cxx_standard=20, cuda_libs=False)


def test_switching_python_detects_torch_again(tmp_path, fake_cpu_torch):
    """A reused build folder never keeps the torch of another Python; -DMYOPS_TORCH_ROOT wins."""
    build = tmp_path / "build"
    fake_root = str(fake_cpu_torch.parent / "site-packages" / "torch")
    r = _configure(build, "-DMYOPS_CUDA=OFF", f"-DPython3_EXECUTABLE={fake_cpu_torch}")
    assert r.returncode == 0, r.stderr
    assert _cache(build, "MYOPS_TORCH_ROOT") == fake_root
    assert "myops: torch 2.11.0+cpu" in r.stdout

    r = _configure(build, f"-DPython3_EXECUTABLE={sys.executable}")
    assert r.returncode == 0, r.stderr
    assert "torch detected again" in r.stdout
    assert Path(_cache(build, "MYOPS_TORCH_ROOT")).resolve() == TORCH_DIR
    assert f"myops: torch {torch.__version__}" in r.stdout

    r = _configure(build, f"-DMYOPS_TORCH_ROOT={fake_root}")  # explicit: kept, also on the next run
    assert r.returncode == 0, r.stderr
    r = _configure(build)
    assert _cache(build, "MYOPS_TORCH_ROOT") == fake_root and "myops: torch 2.11.0+cpu" in r.stdout

    r = _configure(build, "-DMYOPS_TORCH_ROOT=")  # empty: ask Python again
    assert Path(_cache(build, "MYOPS_TORCH_ROOT")).resolve() == TORCH_DIR


def test_abi_and_cxx_standard_come_from_torch(tmp_path, fake_cpu_torch):
    """_GLIBCXX_USE_CXX11_ABI from torch._C, the C++ standard from TorchConfig.cmake/ATen.h."""
    build = tmp_path / "build"
    r = _configure(build, "-DMYOPS_CUDA=OFF", f"-DPython3_EXECUTABLE={fake_cpu_torch}")
    assert r.returncode == 0, r.stderr
    commands = [e["command"] for e in json.loads((build / "compile_commands.json").read_text())]
    assert commands and all("-D_GLIBCXX_USE_CXX11_ABI=0" in c for c in commands)
    assert all(re.search(r"-std=(gnu|c)\+\+20", c) for c in commands)
    # and from the real torch: the ABI torch._C reports, the standard ATen/ATen.h demands (C++17
    # for torch 2.11, C++20 for 2.15)
    r = _configure(build, f"-DPython3_EXECUTABLE={sys.executable}")
    commands = [e["command"] for e in json.loads((build / "compile_commands.json").read_text())]
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    assert all(f"-D_GLIBCXX_USE_CXX11_ABI={abi}" in c for c in commands)
    std = re.search(r"C\+\+(\d+) or later", (TORCH_DIR / "include" / "ATen" / "ATen.h").read_text()).group(1)
    assert all(re.search(rf"-std=(gnu|c)\+\+{std}\b", c) for c in commands), commands[0]
    assert f"(C++{std}, _GLIBCXX_USE_CXX11_ABI={abi})" in r.stdout


def test_cxx_standard_from_torchconfig_compile_features(tmp_path):
    """torch 2.15's TorchConfig.cmake says `target_compile_features(torch INTERFACE cxx_std_20)`
    instead of CXX_STANDARD: read too (23 here, above what any ATen.h demands, so only that
    line can have set it)."""
    python = _fake_torch(tmp_path / "t", version="2.99.0+cpu", cuda=None, abi=True, cxx_standard=23,
                         cuda_libs=False, cxx_standard_as_feature=True)
    build = tmp_path / "build"
    r = _configure(build, "-DMYOPS_CUDA=OFF", f"-DPython3_EXECUTABLE={python}")
    assert r.returncode == 0, r.stderr
    commands = [e["command"] for e in json.loads((build / "compile_commands.json").read_text())]
    assert commands and all(re.search(r"-std=(gnu|c)\+\+23\b", c) for c in commands), commands[0]


def _nvcc_or_skip() -> str:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not on PATH: the CUDA AUTO/ON decision needs a CUDA compiler to decide against")
    return nvcc


def _cuda_lines(output: str) -> list:
    return [line for line in output.splitlines() if line.startswith("-- myops: CUDA")]


def test_cuda_auto_with_nvcc_and_a_matching_cuda_torch_builds_cuda(tmp_path):
    nvcc = _nvcc_or_skip()
    nvcc_major = re.search(r"release (\d+)\.", subprocess.run([nvcc, "--version"], capture_output=True,
                                                              text=True).stdout).group(1)
    if torch.version.cuda is None or torch.version.cuda.split(".")[0] != nvcc_major:
        pytest.skip(f"torch CUDA {torch.version.cuda} vs nvcc CUDA {nvcc_major}: not a matching pair")
    r = _configure(tmp_path / "build", "-DMYOPS_CUDA=AUTO", f"-DPython3_EXECUTABLE={sys.executable}")
    assert r.returncode == 0, r.stderr
    [line] = _cuda_lines(r.stdout)
    assert line.startswith(f"-- myops: CUDA kernels on: nvcc {nvcc_major}."), line


def test_cuda_auto_with_a_cpu_torch_builds_cpu_only_and_says_why(tmp_path, fake_cpu_torch):
    _nvcc_or_skip()
    r = _configure(tmp_path / "build", "-DMYOPS_CUDA=AUTO", f"-DPython3_EXECUTABLE={fake_cpu_torch}")
    assert r.returncode == 0, r.stderr
    assert _cuda_lines(r.stdout) == [
        f"-- myops: CUDA kernels off: torch 2.11.0+cpu at {fake_cpu_torch.parent}/site-packages/torch "
        "is a CPU-only build (torch.version.cuda is None)"]
    assert "MYOPS_WITH_CUDA" not in r.stdout
    info = json.loads((tmp_path / "build" / "myops_build_info.json").read_text())
    assert info["cuda_version"] is None


def test_cuda_on_with_a_cpu_torch_is_an_error_that_says_why(tmp_path, fake_cpu_torch):
    _nvcc_or_skip()
    r = _configure(tmp_path / "build", "-DMYOPS_CUDA=ON", f"-DPython3_EXECUTABLE={fake_cpu_torch}")
    assert r.returncode != 0
    error = " ".join(r.stderr.split())  # CMake wraps its messages
    assert "MYOPS_CUDA=ON, but torch 2.11.0+cpu" in error and "is a CPU-only build" in error


def test_cuda_needs_the_same_cuda_major_as_torch(tmp_path):
    nvcc = _nvcc_or_skip()
    major = int(re.search(r"release (\d+)\.", subprocess.run([nvcc, "--version"], capture_output=True,
                                                             text=True).stdout).group(1))
    other = f"{major - 1}.8"
    python = _fake_torch(tmp_path / "t", version=f"2.11.0+cu{major - 1}8", cuda=other, abi=True,
                         cxx_standard=17, cuda_libs=True)
    r = _configure(tmp_path / "auto", "-DMYOPS_CUDA=AUTO", f"-DPython3_EXECUTABLE={python}")
    assert r.returncode == 0, r.stderr
    [line] = _cuda_lines(r.stdout)
    assert f"was built with CUDA {other} (the major versions must match)" in line, line
    r = _configure(tmp_path / "on", "-DMYOPS_CUDA=ON", f"-DPython3_EXECUTABLE={python}")
    assert r.returncode != 0 and f"built with CUDA {other}" in " ".join(r.stderr.split())


# ---------------------------------------------------------------------------- package metadata

def test_package_requires_the_torch_it_was_built_against(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    requires = next(tmp_path.glob("*.egg-info")).joinpath("requires.txt").read_text().split()
    assert requires == [f"torch=={torch.__version__.split('+')[0]}"]


# ---------------------------------------------------------------------------- make: a failed build; one torch per venv and build folder

def _pinned_torch() -> str:
    return re.search(r"^TORCH_PINNED := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def _make_env() -> dict:
    # Under `make test`, MAKEFLAGS carries the outer make's VENV=...: never let it through; nor
    # the knobs .ci/run exports (VENV, BUILD, TORCH_VERSION) and the Makefile's own export.
    dropped = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "BUILD", "TORCH_VERSION", "MYOPS_BUILD_DIR")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def _fake_venv(venv: Path, calls: Path, *, torch_version: str = "", pip_install_fails: bool = False) -> Path:
    """A fake venv whose Python records its calls, says torch `torch_version` is installed (if
    given) and, with pip_install_fails, fails `pip install` the way a compile error does."""
    (venv / "bin").mkdir(parents=True)
    torch_case = f"""*"m.version('torch')"*) echo "{torch_version}" ;;""" if torch_version else ""
    pip_case = ('*"pip install"*) echo "[1/2] compiling"; echo "error: pretend compile error"; exit 1 ;;'
                if pip_install_fails else "")
    (venv / "bin" / "python").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> {calls}
        case "$*" in
          {torch_case}
          {pip_case}
        esac
        exit 0
    """))
    (venv / "bin" / "python").chmod(0o755)
    return venv


def test_make_stops_when_the_build_fails(tmp_path):
    """`make install` (and so demo/test) stops when the build fails, and leaves no myops
    installed: a stale libmyops.so can't be tested. A fake venv Python whose pip build fails."""
    if shutil.which("make") is None:
        pytest.skip("make not available")
    calls = tmp_path / "calls.txt"
    venv = _fake_venv(tmp_path / "venv", calls, pip_install_fails=True)
    (venv / f".myops-deps-torch{_pinned_torch()}").touch()  # newer than Makefile and requirements-dev.txt: no venv step
    for target in ("install", "test", "demo"):
        calls.write_text("")
        r = subprocess.run(["make", "-C", str(ROOT), target, f"VENV={venv}", f"BUILD={tmp_path / 'build'}"],
                           capture_output=True, text=True, env=_make_env())
        assert r.returncode != 0, r.stdout
        assert "the build FAILED" in r.stderr and "error: pretend compile error" in r.stdout
        made = calls.read_text()
        assert "pip uninstall -y -q myops" in made
        assert "import myops" not in made and "pytest" not in made and "myops demo" not in made
    assert "error: pretend compile error" in (tmp_path / "build" / "install.log").read_text()


def test_make_never_reuses_a_venv_made_for_another_torch(tmp_path):
    """TORCH_VERSION=2.15.0 with a venv that holds torch 2.11.0: make stops before pip touches it."""
    if shutil.which("make") is None:
        pytest.skip("make not available")
    calls = tmp_path / "calls.txt"
    venv = _fake_venv(tmp_path / "venv", calls, torch_version="2.11.0+cu130")
    for target in ("venv", "install", "test"):
        calls.write_text("")
        r = subprocess.run(["make", "-C", str(ROOT), target, "TORCH_VERSION=2.15.0", f"VENV={venv}",
                            f"BUILD={tmp_path / 'build'}"], capture_output=True, text=True, env=_make_env())
        assert r.returncode != 0, r.stdout
        assert f"{venv} holds torch 2.11.0+cu130, not TORCH_VERSION=2.15.0" in r.stderr, r.stderr
        assert "pip" not in calls.read_text()


def test_make_never_mixes_two_torch_versions_in_a_build_folder(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not available")
    calls = tmp_path / "calls.txt"
    venv = _fake_venv(tmp_path / "venv", calls, torch_version="2.15.0+cu132")
    (venv / ".myops-deps-torch2.15.0").touch()
    build = tmp_path / "build"
    build.mkdir()
    (build / "torch-version").write_text("2.11.0+cu130\n")
    r = subprocess.run(["make", "-C", str(ROOT), "install", "TORCH_VERSION=2.15.0", f"VENV={venv}", f"BUILD={build}"],
                       capture_output=True, text=True, env=_make_env())
    assert r.returncode != 0, r.stdout
    assert f"{build} was built against torch 2.11.0+cu130, {venv} has torch 2.15.0+cu132" in r.stderr, r.stderr
    assert "pip" not in calls.read_text()


def test_make_defaults_give_each_torch_version_its_own_venv_and_build_folder():
    if shutil.which("make") is None:
        pytest.skip("make not available")
    def dry_run(*args):
        # -B: every recipe shown, whether or not a venv of that name exists already here.
        return subprocess.run(["make", "-C", str(ROOT), "-n", "-B", "install", *args], capture_output=True,
                              text=True, env=_make_env()).stdout
    pinned = dry_run()
    assert f"torch=={_pinned_torch()}" in pinned and "test -x .venv/bin/python " in pinned
    assert f"{ROOT}/build/setup" in pinned
    other = dry_run("TORCH_VERSION=2.15.0")
    assert "torch==2.15.0" in other and "test -x .venv-torch2.15.0/bin/python " in other
    assert "build-torch2.15.0/torch-version" in other and f"{ROOT}/build/" not in other


# ---------------------------------------------------------------------------- make gpu-check without a GPU

def test_gpu_check_without_a_gpu_says_so_and_exits_2(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: `make gpu-check` would run for real")
    script = ROOT / "scripts" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    out = tmp_path / "out"
    env = {**os.environ, "MYOPS_PYTHON": sys.executable, "OUT": str(out)}
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no CUDA device: nothing to check" in r.stdout
    assert not out.exists()


def test_gpu_smoke_script_runs_every_op(tmp_path):
    """scripts/gpu_smoke.py's own logic, on the CPU (on a GPU machine: gpu_check.sh runs it on CUDA)."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_smoke.py"), "--device", "cpu",
                        "--dtype", "float32", "--dtype", "bfloat16"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for family in ("elementwise", "bias_act", "upfirdn2d", "lltm", "filtered_lrelu"):
        assert re.search(rf"{family} +bfloat16 .* ok", r.stdout), r.stdout
    assert "gpu_smoke: all ok" in r.stdout
