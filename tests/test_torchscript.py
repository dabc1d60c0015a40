"""TorchScript for every op in the table: a function calling torch.ops.myops.<name> with every
argument of its schema (Optional, str, float?, int[], a mutated out, tuple results) is
generated from the schema, scripted and run on every float32 sample against the reference;
then all of them are saved, loaded and run in ONE fresh process that only calls
torch.ops.load_library (no `import myops`)."""

import pytest
import torch

from helpers import assert_close_to_reference, reference_result, run_scripts_in_fresh_process
from op_db import samples, without
from opinfo import clone_args

OPS = without("torchscript")


def script_source(op) -> str:
    """def fn(<schema args, typed, with defaults>): calls the op; returns its result, or the
    argument it writes for a mutating op."""
    schema = op.op._schema
    params = [f"{a.name}: {a.type.annotation_str}" + (f" = {a.default_value!r}" if a.has_default_value() else "")
              for a in schema.arguments]
    call = f"torch.ops.myops.{schema.name.split('::')[1]}({', '.join(a.name for a in schema.arguments)})"
    body = f"    return {call}" if op.out_arg is None else f"    {call}\n    return {schema.arguments[op.out_arg].name}"
    return f"def fn({', '.join(params)}):\n{body}\n"


def scripted(op):
    return torch.jit.CompilationUnit(script_source(op)).fn


def _check(op, sample, result):
    expected, pytorch_result = reference_result(op, sample.args)
    assert_close_to_reference(op, result, expected, pytorch_result)


@pytest.mark.parametrize("op", OPS, ids=str)
def test_script_runs_in_process(op):
    fn = scripted(op)
    assert f"myops::{op.name}" in str(fn.graph)
    for sample in samples(op, "cpu", torch.float32):
        _check(op, sample, fn(*clone_args(sample.args), **sample.kwargs))


def test_scripts_of_every_op_save_load_in_one_fresh_process(tmp_path):
    cases, checks = [], []
    for op in OPS:
        fn = scripted(op)
        for sample in samples(op, "cpu", torch.float32):
            assert not sample.kwargs, "positional samples only: the loaded functions are called with *args"
            cases.append((fn, clone_args(sample.args)))
            checks.append((op, sample))
    assert {op.name for op, _ in checks} == {op.name for op in OPS}
    outputs = run_scripts_in_fresh_process(tmp_path, cases)
    assert len(outputs) == len(checks)
    for (op, sample), (result, _) in zip(checks, outputs):
        _check(op, sample, result)

