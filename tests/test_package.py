"""The Python package's shape: one module per op family (myops/ops_<family>.py) with its
wrappers, references and demo calls, each found without a list to edit; and one table file
per family in tests/opinfo/."""

from pathlib import Path

import myops
import myops.functional
from myops._families import family_modules, family_name

import op_db


def test_every_family_module_has_its_parts():
    assert {family_name(m) for m in family_modules()} >= {"elementwise", "bias_act", "upfirdn2d", "lltm"}
    for module in family_modules():
        assert module.__all__ and module.REFERENCES and callable(module.demo_cases), module.__name__
        for name in module.__all__:
            assert getattr(module, name).__doc__, f"{module.__name__}.{name} has no docstring"


def test_all_is_complete_and_imported():
    """A family file without its import line in myops/__init__.py fails here."""
    for module in family_modules():
        for name in module.__all__:
            assert name in myops.__all__
            assert getattr(myops, name) is getattr(module, name), f"myops.{name}: the import line is missing"
            assert getattr(myops.functional, name) is getattr(module, name)
    namespace = {}
    exec("from myops import *", namespace)
    assert set(myops.__all__) <= set(namespace)


def test_reference_gathers_every_family():
    for module in family_modules():
        for name, ref in module.REFERENCES.items():
            assert getattr(myops.reference, name) is ref
    # what tests, benchmarks and examples/cpp/export_model.py use
    for name in ("muladd", "mul", "add", "add_out", "bias_act", "bias_act_backward", "BIAS_ACT_ACTIVATIONS",
                 "upfirdn2d", "lltm"):
        assert name in myops.reference.__all__


def test_every_family_has_a_table_file():
    table_dir = Path(op_db.__file__).parent / "opinfo"
    for module in family_modules():
        assert (table_dir / f"{family_name(module)}.py").is_file(), f"tests/opinfo/{family_name(module)}.py is missing"
    assert set(op_db.FAMILIES) == {family_name(m) for m in family_modules()}
