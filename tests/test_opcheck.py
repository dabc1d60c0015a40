"""torch.library.opcheck with all its checks (schema, autograd registration, fake tensor,
AOT dispatch static and dynamic) on every sample."""

import pytest
import torch

from op_db import get_sample, sample_params

ALL_CHECKS = (
    "test_schema",
    "test_autograd_registration",
    "test_faketensor",
    "test_aot_dispatch_static",
    "test_aot_dispatch_dynamic",
)


# float32 and float64 carry requires_grad=True inputs (the autograd checks need them), unless the
# op opts out of "opcheck_grad" (a gradient that raises by design); float16/bfloat16 go through
# the same C++ paths and are opchecked without grads.
@pytest.mark.parametrize("op, dtype, sample_name", sample_params(dtypes=(torch.float32, torch.float64, torch.float16, torch.bfloat16)))
def test_opcheck(device, op, dtype, sample_name):
    requires_grad = dtype in (torch.float32, torch.float64) and "opcheck_grad" not in op.skips
    sample = get_sample(op, device, dtype, sample_name, requires_grad=requires_grad)
    checks = ALL_CHECKS if any(t.requires_grad for t in sample.tensors()) else tuple(
        c for c in ALL_CHECKS if c != "test_autograd_registration")
    torch.library.opcheck(op.op, sample.args, sample.kwargs, test_utils=checks)
