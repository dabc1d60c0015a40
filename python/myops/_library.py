"""Finding and loading libmyops.so, with clear errors instead of linker errors."""

from __future__ import annotations

import importlib.util
import json
import os
import sysconfig
import warnings
from pathlib import Path

import torch

_PACKAGE_DIR = Path(__file__).resolve().parent
_REBUILD = "pip install --no-build-isolation --force-reinstall .  (or: make install)"
_loaded_path: Path | None = None
_fastcall = False  # not looked for yet (None: looked for, not used)


def library_path() -> Path:
    """The libmyops.so this package uses: $MYOPS_LIBRARY if set, else the one shipped inside."""
    override = os.environ.get("MYOPS_LIBRARY")
    return Path(override).resolve() if override else _PACKAGE_DIR / "lib" / "libmyops.so"


def build_info(path: Path | None = None) -> dict:
    """What the library was built as: read from myops_build_info.json, written next to it by CMake."""
    path = path or library_path()
    info_file = path.parent / "myops_build_info.json"
    if not info_file.is_file():
        return {}
    return json.loads(info_file.read_text())


def check_torch_version(info: dict) -> None:
    built = info.get("torch_version")
    if built and built != torch.__version__:
        raise ImportError(
            f"myops: {library_path()} was built against torch {built}, but this Python runs "
            f"torch {torch.__version__}. A C++ op library only works with the torch it was "
            f"compiled for; rebuild it with: {_REBUILD}"
        )


def load() -> Path:
    """Loads libmyops.so once (torch.ops.load_library), after checking the torch version."""
    global _loaded_path
    if _loaded_path is not None:
        return _loaded_path
    path = library_path()
    if not path.is_file():
        raise ImportError(
            f"myops: {path} does not exist. Build it with: {_REBUILD} "
            "(or point MYOPS_LIBRARY at a libmyops.so)"
        )
    check_torch_version(build_info(path))
    try:
        torch.ops.load_library(str(path))
    except OSError as error:  # e.g. an undefined symbol from a different torch build
        raise ImportError(f"myops: could not load {path}: {error}. Rebuild it with: {_REBUILD}") from error
    _loaded_path = path
    return path


def fastcall_path() -> Path:
    """Where myops._fastcall (python/csrc/fastcall.cpp) is for this Python: next to libmyops.so."""
    return library_path().parent / ("_fastcall" + sysconfig.get_config_var("EXT_SUFFIX"))


def fastcall_module():
    """The extension module myops._fastcall (the wrappers' fast eager entries), or None: turned off
    (MYOPS_FASTCALL=0), not built for this Python (CMake found no Python headers, or another
    Python built it), or not loadable (warned). The package works without it, only slower per
    call. Call after load()."""
    global _fastcall
    if _fastcall is not False:
        return _fastcall
    _fastcall = None
    path = fastcall_path()
    if os.environ.get("MYOPS_FASTCALL", "1") == "0" or not path.is_file():
        return None
    try:
        spec = importlib.util.spec_from_file_location("myops._fastcall", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as error:
        warnings.warn(f"myops: {path} could not be loaded ({error}); the ops are called through "
                      f"torch's generic binding instead (slower per call). Rebuild with: {_REBUILD}")
        return None
    _fastcall = module
    return module
