"""Finds the op families: every module of this package named ``ops_<family>.py``.

Each family module holds its typed wrappers (``__all__``), its pure-PyTorch references
(``REFERENCES``: public name -> object, gathered into ``myops.reference``) and the calls
``python -m myops demo`` shows (``demo_cases(device)``). Found by name, so adding a family
is adding its file (plus its one import line in ``__init__.py``): nothing here lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

PREFIX = "ops_"


def family_modules() -> list[ModuleType]:
    """The family modules, imported, in name order (a stable order for the CLI and tests)."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith(PREFIX))
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def family_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1][len(PREFIX):]
