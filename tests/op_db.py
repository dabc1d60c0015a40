"""The table of myops operators: one OpInfo per op, with its samples, reference, tolerances,
differentiability and error cases. Every test module iterates this table (PyTorch's OpInfo
pattern), so an op in the table gets values, opcheck, gradcheck, compile, TorchScript, export,
per-ISA, thread-count and error tests.

The entries live in one file per op family, ``tests/opinfo/<family>.py`` (each defines
``OPS``), found here by listing that folder: adding a family is adding its file. The
machinery (Sample, OpInfo, tolerances, sample helpers) is ``tests/opinfo/__init__.py``.

A new op family, on the Python and test side:
  python/myops/ops_<family>.py   wrappers (``__all__``, docstrings), ``<op>_reference`` functions
                                 listed in ``REFERENCES``, ``demo_cases(device)``
  python/myops/__init__.py       its one import line: ``from .ops_<family> import *``
  tests/opinfo/<family>.py       ``OPS = [OpInfo(...)]``: samples, large_samples, errors,
                                 compile_samples, resizable_args, skips (with reasons)
  tests/test_<family>.py         only what the generic tests cannot say
"""

from __future__ import annotations

import importlib
import pkgutil

import opinfo
from opinfo import (DEFAULT_TOLERANCES, FLOAT_DTYPES, PROPERTIES, ErrorCase, OpInfo, Sample,  # noqa: F401
                    _layout, _t, as_tuple, clone_args)

FAMILIES = {m.name: importlib.import_module(f"opinfo.{m.name}")
            for m in sorted(pkgutil.iter_modules(opinfo.__path__), key=lambda m: m.name)
            if not m.name.startswith("_")}

OPS = [op for module in FAMILIES.values() for op in module.OPS]

OPS_BY_NAME = {op.name: op for op in OPS}
assert len(OPS_BY_NAME) == len(OPS), "two table entries share a name"


def samples(op: OpInfo, device, dtype, requires_grad=False):
    return list(op.samples(device, dtype, requires_grad))


def sample_params(ops=OPS, dtypes=None, requires_grad=False, device="cpu"):
    """pytest.param(op, dtype, sample_name) for every sample, with readable ids."""
    import pytest

    params = []
    for op in ops:
        for dtype in dtypes or op.dtypes:
            for s in samples(op, device, dtype, requires_grad):
                params.append(pytest.param(op, dtype, s.name, id=f"{op.name}-{str(dtype)[6:]}-{s.name}"))
    return params


def get_sample(op: OpInfo, device, dtype, name, requires_grad=False) -> Sample:
    for s in op.samples(device, dtype, requires_grad):
        if s.name == name:
            return s
    raise KeyError(name)


def without(prop: str, ops=None):
    """The ops that have not opted out of a generic property (their skips say why)."""
    assert prop in PROPERTIES, prop
    return [op for op in (OPS if ops is None else ops) if prop not in op.skips]
