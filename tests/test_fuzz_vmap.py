"""Property-based fuzzing of the vmap batching rules (ops/<family>/<family>_batching.cpp) over
the fuzz strategies of the table (OpInfo.fuzz): each example is a drawn case of an op (random
shapes, strides, dtypes, values and arguments, invalid ones included), a random subset of its
tensor arguments batched (filters, biases and weights too) at random in_dims, negative ones
included, with a batch of 0 to 3 samples. torch.vmap of the op with functorch's fallback
disabled (so the rule itself runs) must equal the op called once per sample, stacked; or raise
an error of the same type as that loop; for an empty batch, give an empty result of the
per-sample shape and dtype. test_vmap.py covers the table's hand-picked samples, nested vmap
and the vmap over backward ops; this covers what those samples do not reach: per-sample
filters with odd shapes, padding and up/down factors, strided and expanded batched arguments,
broadcasting between batched and shared arguments of different ranks.

Profiles as tests/test_fuzz.py (HYPOTHESIS_PROFILE, MYOPS_FUZZ_EXAMPLES): bounded and
derandomized in `make test`, random in `make fuzz`; the counts per op are printed at the end of
the run.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from hypothesis import given, note, settings
from hypothesis import strategies as st

from helpers import stack_batched
from op_db import as_tuple, clone_args
from test_fuzz import ERRORS, FUZZ_OPS, PROFILE

# add_out writes into `out`, which vmap requires batched whenever a or b is (test_vmap covers
# that rule and its errors): its strategy's cases would mostly test that precondition.
VMAP_FUZZ_OPS = [op for op in FUZZ_OPS if op.out_arg is None]


pytestmark = pytest.mark.usefixtures("no_vmap_fallback")  # the rules themselves run (conftest.py)


def _outcome(fn):
    try:
        return as_tuple(fn()), None
    except ERRORS as e:
        return None, e


def _sample_values(batch, gen):
    """The per-sample values of a batched argument: the drawn tensor first (its layout lost in
    the stack, its values kept), then values uniform in [-2, 2) of its shape and dtype, from
    `gen` (so the derandomized profile replays the same examples)."""
    def values(t):
        rest = [(torch.rand(t.shape, generator=gen, dtype=torch.float64) * 4 - 2).to(t.dtype)
                for _ in range(batch - 1)]
        return [t] + rest
    return values


def check_vmap_case(op, case, batched, dims, batch) -> str:
    note(repr(case))
    positions = [i for i, a in enumerate(case.args) if isinstance(a, torch.Tensor)]
    chosen = {p: d for p, d in zip(positions, dims) if p in batched} or {positions[0]: dims[0]}
    gen = torch.Generator().manual_seed(len(chosen) * 7 + batch)
    args, in_dims = stack_batched(case.args, chosen, _sample_values(max(batch, 1), gen))
    if batch == 0:  # (torch.stack needs a sample: one, then none of it)
        args = [a.narrow(d, 0, 0) if d is not None else a for a, d in zip(args, in_dims)]
    note(f"in_dims={in_dims}, batch={batch}")
    got, error = _outcome(lambda: torch.vmap(op.op, in_dims=in_dims)(*args))

    if batch == 0:
        # One sample's result (the drawn arguments themselves) gives the shape and dtype.
        want, want_error = _outcome(lambda: op.op(*clone_args(case.args)))
        if want_error is not None:
            # The rules check one sample's arguments (a stand-in of its shape for an empty
            # batch) or fold an empty batch: they raise the op's error, or return nothing at all.
            assert error is None or type(error) is type(want_error), f"vmap raised {error!r}, the op {want_error!r}"
            return "error"
        assert error is None, f"vmap over an empty batch raised {error!r}"
        for g, w in zip(got, want):
            assert g.shape == (0, *w.shape) and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        return "empty"

    per_sample = []
    for i in range(batch):
        sample = [a.select(d, i) if d is not None else a for a, d in zip(clone_args(args), in_dims)]
        result, sample_error = _outcome(lambda: op.op(*sample))
        if sample_error is not None:
            assert error is not None, f"vmap returned a result where sample {i} raises {sample_error!r}"
            assert type(error) is type(sample_error), f"vmap raised {error!r}, sample {i} {sample_error!r}"
            return "error"
        per_sample.append(result)
    assert error is None, f"vmap raised {error!r} where every sample runs"
    for k, g in enumerate(got):
        w = torch.stack([r[k] for r in per_sample])
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        atol, rtol = op.tolerances[g.dtype]
        torch.testing.assert_close(g, w, atol=atol, rtol=rtol, equal_nan=True)
    return "value"


@pytest.mark.parametrize("op", VMAP_FUZZ_OPS, ids=str)
def test_fuzz_vmap(op, record_property):
    counts = Counter()

    @settings(PROFILE)
    @given(case=op.fuzz("cpu"), batched=st.sets(st.integers(0, 8)), dims=st.lists(st.integers(-6, 5), min_size=9,
                                                                                   max_size=9),
           batch=st.sampled_from((2, 3, 1, 0)))
    def run(case, batched, dims, batch):
        # An in_dim within each tensor's range (rank + 1 places, negative ones too).
        tensors = [a for a in case.args if isinstance(a, torch.Tensor)]
        dims = [d % (t.dim() + 1) - (t.dim() + 1) * (d < 0) for d, t in zip(dims, tensors)]
        counts[check_vmap_case(op, case, batched, dims, batch)] += 1

    run()
    record_property("fuzz_counts", (f"vmap {op.name}", dict(counts)))
