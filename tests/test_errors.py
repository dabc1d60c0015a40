"""Bad input raises the exception PyTorch would raise, with a message naming op and argument."""

import pytest

from op_db import OPS


def _error_params():
    params = []
    for op in OPS:
        for case in op.errors("cpu"):
            params.append(pytest.param(op, case.name, id=f"{op.name}-{case.name}"))
    return params


@pytest.mark.parametrize("op, case_name", _error_params())
def test_error(device, op, case_name):
    case = next(c for c in op.errors(device) if c.name == case_name)
    with pytest.raises(case.exc_type, match=case.match):
        op.op(*case.args, **case.kwargs)
