"""Building blocks of the per-family fuzz strategies (OpInfo.fuzz, tests/test_fuzz.py).

A family's strategy draws a FuzzCase: the op's positional args (tensors with random shapes,
layouts, dtypes and values, NaN/Inf/denormals among them) and, when the strategy knows the
arguments are invalid in a way the reference does not check (negative gain, an empty output,
...), the exception type the op must raise. Tensor data comes from a torch.Generator seeded by
a drawn integer: hypothesis draws the structure, torch fills it (fast, and still replayable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from opinfo import FLOAT_DTYPES

dtypes = st.sampled_from(FLOAT_DTYPES)

LAYOUTS = ("contiguous", "transposed", "sliced", "offset", "expanded", "channels_last")


@dataclass
class FuzzCase:
    args: tuple
    # The exception type the op must raise for these args (invalid in a way the reference does
    # not check); None: the op must equal the reference, or raise what the reference raises.
    error: type | None = None
    # Whether the values have NaN/Inf/denormal/zero specials (no gradient check then: a
    # special sits at a kink or gives inf - inf in one formula and not in the other).
    specials: bool = False

    def __repr__(self):
        def show(a):
            if isinstance(a, torch.Tensor):
                return (f"tensor(shape={list(a.shape)}, stride={list(a.stride())}, offset={a.storage_offset()}, "
                        f"dtype={a.dtype})")
            return repr(a)
        return f"FuzzCase(args=({', '.join(show(a) for a in self.args)}), error={self.error})"


def sizes(max_side=4):
    """A dimension's size, 0 and 1 drawn often."""
    return st.one_of(st.sampled_from((0, 1)), st.integers(0, max_side))


def shapes(min_dims=0, max_dims=5, max_side=4, min_side=0):
    side = st.integers(min_side, max_side) if min_side > 0 else sizes(max_side)
    return st.lists(side, min_size=min_dims, max_size=max_dims).map(tuple)


SPECIALS = (math.nan, math.inf, -math.inf, 0.0, -0.0, "tiny", "huge")


@st.composite
def tensors(draw, shape, dtype, device="cpu", *, low=-3.0, high=3.0, layouts=LAYOUTS, specials=True):
    """(tensor, has_specials): shape and dtype as given, a drawn layout (strides, storage offset,
    expanded dims, channels_last) and values uniform in [low, high) with a few specials."""
    shape = tuple(shape)
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    layout = draw(st.sampled_from(layouts))
    n = len(shape)

    def fill(base_shape):
        v = torch.rand(base_shape, dtype=torch.float64, generator=gen) * (high - low) + low
        return v

    if layout == "transposed" and n >= 2:
        perm = draw(st.permutations(range(n)))
        base = fill([shape[p] for p in perm])
        inv = [perm.index(i) for i in range(n)]
        t = base.permute(inv)
    elif layout == "sliced" and n >= 1:
        d = draw(st.integers(0, n - 1))
        step = draw(st.integers(2, 3))
        start = draw(st.integers(0, step - 1))
        big = list(shape)
        big[d] = shape[d] * step + start
        t = fill(big).narrow(d, start, big[d] - start)[(slice(None),) * d + (slice(None, None, step),)]
        t = t[(slice(None),) * d + (slice(0, shape[d]),)]
    elif layout == "offset":
        k = draw(st.integers(1, 7))
        numel = math.prod(shape)
        t = fill([numel + k])[k:].view(shape)
    elif layout == "expanded" and any(s > 1 for s in shape):
        ones = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        small = [1 if (o and s > 1) else s for o, s in zip(ones, shape)]
        t = fill(small).expand(shape)
    elif layout == "channels_last" and n in (4, 5):
        fmt = torch.channels_last if n == 4 else torch.channels_last_3d
        t = fill(shape).contiguous(memory_format=fmt)
    else:
        t = fill(shape)

    has_specials = False
    if specials and t.numel() > 0 and draw(st.integers(0, 3)) == 0:
        base = t.as_strided((t.untyped_storage().nbytes() // 8,), (1,), 0)  # the whole storage
        k = draw(st.integers(1, min(3, base.numel())))
        for _ in range(k):
            i = draw(st.integers(0, base.numel() - 1))
            v = draw(st.sampled_from(SPECIALS))
            if v == "tiny":  # a denormal of the dtype (float16/bfloat16/float32/float64)
                v = torch.finfo(dtype).tiny / 4
            elif v == "huge":
                v = torch.finfo(dtype).max / 2
            base[i] = v
        has_specials = True
    # Cast the whole storage, then the same view of it: strides, offset and expanded dims kept.
    storage = t.as_strided((t.untyped_storage().nbytes() // 8,), (1,), 0).to(dtype)
    out = storage.as_strided(t.shape, t.stride(), t.storage_offset())
    return out.to(device), has_specials


def scalars(*values, lo=None, hi=None):
    """One of the given values (edges), or a float in [lo, hi]."""
    opts = st.sampled_from(values)
    if lo is not None:
        opts = st.one_of(opts, st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    return opts
