"""Past 2^31 elements (issue 12, item 4): every op with a CPU path on a tensor with more than
2^31 elements, float16, spot-checked against myops.reference on slices only (the first, the
last, and the one that crosses flat index 2^31), never on the whole tensor.

Slow and memory-hungry (up to ~11 GiB per test: the float32 upfirdn2d and lltm;
filtered_lrelu, fused, needs ~6 to ~10 GiB): marked `large` and skipped unless
MYOPS_LARGE=1 (`make test-large` sets it and runs only these). Each test first checks
MemAvailable and skips, with the reason, when less than its need + 2 GiB is free. Run them one
at a time (never under pytest-xdist). Each test reports its elapsed time and its peak RSS
(VmHWM, reset through /proc/self/clear_refs at the start of the test) in the summary.

MYOPS_LARGE_ELEMS (default 2^31 + 7) shrinks the sizes, to try the tests' logic quickly.
"""

from __future__ import annotations

import gc
import os
import time

import pytest
import torch

import myops
import myops.reference as ref

pytestmark = [
    pytest.mark.large,
    pytest.mark.skipif(os.environ.get("MYOPS_LARGE") != "1",
                       reason="large-tensor test: set MYOPS_LARGE=1 (make test-large)"),
]

TWO31 = 2 ** 31
ELEMS = int(os.environ.get("MYOPS_LARGE_ELEMS", TWO31 + 7))
GiB = 2 ** 30
F16 = torch.float16
TOL = dict(rtol=1e-2, atol=1e-2)
# No test allocates more than this (default 12 GiB): one that would needs a bigger machine and
# skips here, saying how much it needs.
MAX_BYTES = int(float(os.environ.get("MYOPS_LARGE_MAX_GIB", "12")) * 2 ** 30)


def _proc_bytes(path: str, field: str) -> int:
    """A "<field>: N kB" line of a /proc file (meminfo, self/status), in bytes; 0 if absent."""
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _mem_available() -> int:
    return _proc_bytes("/proc/meminfo", "MemAvailable")


def _vmhwm() -> int:
    return _proc_bytes("/proc/self/status", "VmHWM")


@pytest.fixture
def budget(request):
    """budget(need_bytes): skips unless need + 2 GiB is available; records time and peak RSS."""
    gc.collect()
    state = {}

    def check(need: int):
        if need > MAX_BYTES:
            pytest.skip(f"needs {need / GiB:.1f} GiB, over the {MAX_BYTES / GiB:.0f} GiB per-test bound "
                        f"(MYOPS_LARGE_MAX_GIB)")
        avail = _mem_available()
        if avail < need + 2 * GiB:
            pytest.skip(f"needs {need / GiB:.1f} GiB + 2 GiB free, MemAvailable is {avail / GiB:.1f} GiB")
        state["need"] = need

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    base = _vmhwm()
    t0 = time.perf_counter()
    yield check
    gc.collect()
    elapsed = time.perf_counter() - t0
    peak = _vmhwm()
    request.node.user_properties.append(
        ("large_stats", (request.node.name, elapsed, peak / GiB, (peak - base) / GiB, ELEMS)))


def _rand(shape, dtype=F16):
    return torch.empty(shape, dtype=dtype).uniform_(-2, 2)


def _rows(rows: int, row_len: int):
    """Row ranges [first, the one holding flat index 2^31 (if any), last] of a [rows, row_len]
    view, each a few rows wide."""
    cross = min(TWO31 // row_len, rows - 1)
    picks = [(0, min(2, rows)), (max(cross - 1, 0), min(cross + 2, rows)), (max(rows - 2, 0), rows)]
    return picks


def _check_rows(out2d, expect_fn, rows, row_len, what):
    for r0, r1 in _rows(rows, row_len):
        got = out2d[r0:r1]
        torch.testing.assert_close(got, expect_fn(r0, r1), **TOL,
                                   msg=lambda m: f"{what}: rows {r0}:{r1} of [{rows}, {row_len}] "
                                                 f"(flat {r0 * row_len}..{r1 * row_len}): {m}")


# ----------------------------------------------------------------------------------------------
# elementwise: a is [R, K] with R*K = ELEMS (2^31 + 7 = 9*5*131*364289), b is [K], broadcast.

def _elementwise_shape():
    k = 655 if ELEMS % 655 == 0 else 1
    return ELEMS // k, k


@pytest.mark.parametrize("op", ["mul", "add", "muladd", "add_out", "mul_b_first"])
def test_elementwise(op, budget):
    rows, k = _elementwise_shape()
    budget(2 * rows * k * 2 + GiB // 2)  # a and the output
    a = _rand([rows, k])
    b = _rand([k])
    if op == "mul":
        out = torch.ops.myops.mul(a, b)
        expect = lambda r0, r1: ref.mul(a[r0:r1], b)
    elif op == "mul_b_first":  # the broadcast operand first
        out = torch.ops.myops.mul(b, a)
        expect = lambda r0, r1: ref.mul(b, a[r0:r1])
    elif op == "add":
        out = torch.ops.myops.add(a, b)
        expect = lambda r0, r1: ref.add(a[r0:r1], b)
    elif op == "muladd":
        out = torch.ops.myops.muladd(a, b, 0.75)
        expect = lambda r0, r1: ref.muladd(a[r0:r1], b, 0.75)
    else:
        out = torch.full([rows, k], float("nan"), dtype=F16)
        torch.ops.myops.add_out(a, b, out)
        expect = lambda r0, r1: ref.add(a[r0:r1], b)
    assert out.shape == (rows, k) and out.dtype == F16
    _check_rows(out, expect, rows, k, f"myops.{op}")
    # Also the very last element and the first ones past 2^31, by flat index.
    flat, aflat = out.view(-1), a.view(-1)
    for i in (TWO31 - 1, TWO31, TWO31 + 1, ELEMS - 1):
        if i < ELEMS:
            bi = b[i % k]
            x = aflat[i]
            e = {"mul": x * bi, "mul_b_first": bi * x, "add": x + bi, "add_out": x + bi,
                 "muladd": x * bi + 0.75}[op]
            torch.testing.assert_close(flat[i], e.to(F16), **TOL, msg=f"myops.{op}: flat index {i}")
    del a, b, out, flat, aflat
    gc.collect()


# ----------------------------------------------------------------------------------------------
# bias_act: x [45, 131, 364289] (C = 131 along dim 1), lrelu, forward; backward with grad = x
# (the same tensor, so only x and the result are big).

def _bias_act_shape():
    if ELEMS == TWO31 + 7:
        return 45, 131, 364289
    return 1, 131, ELEMS // 131


def test_bias_act_forward(budget):
    n, c, h = _bias_act_shape()
    budget(2 * n * c * h * 2 + GiB // 2)
    x = _rand([n, c, h])
    b = _rand([c])
    y = torch.ops.myops.bias_act(x, b, 1, "lrelu", None, None, 1.5)
    assert y.shape == x.shape
    y2, x2 = y.view(n * c, h), x.view(n * c, h)
    bias = b.repeat(n)
    _check_rows(y2, lambda r0, r1: ref.bias_act(x2[r0:r1], bias[r0:r1], 0, "lrelu", None, None, 1.5),
                n * c, h, "myops.bias_act")
    del x, b, y, y2, x2
    gc.collect()


def test_bias_act_backward(budget):
    n, c, h = _bias_act_shape()
    budget(2 * n * c * h * 2 + GiB // 2)
    x = _rand([n, c, h])
    b = _rand([c])
    g = torch.ops.myops.bias_act_backward(x, x, b, 1, "lrelu", None, None, 1.5, 1)
    assert g.shape == x.shape
    g2, x2 = g.view(n * c, h), x.view(n * c, h)
    bias = b.repeat(n)
    _check_rows(g2, lambda r0, r1: ref.bias_act_backward(x2[r0:r1], x2[r0:r1], bias[r0:r1], 0, "lrelu",
                                                         None, None, 1.5, 1),
                n * c, h, "myops.bias_act_backward")
    del x, b, g, g2, x2
    gc.collect()


# ----------------------------------------------------------------------------------------------
# upfirdn2d / filtered_lrelu: x [N, C, H, W] float16 with N*C*H*W > 2^31, down 2 (output 1/4).
# The ops are per plane, so the reference on x[n, c] alone is exact for output plane [n, c].

def _image_shape():
    if ELEMS == TWO31 + 7:
        return 4, 129, 2048, 2033  # 2,148,409,344 elements; plane 515 (the last) crosses 2^31
    hw = 128 * 125
    return 4, max(ELEMS // (4 * hw) + 1, 1), 128, 125


def _planes(n, c, h, w):
    cross = TWO31 // (h * w)
    flat = [0, max(cross - 1, 0), min(cross, n * c - 1), n * c - 1]
    return sorted({(p // c, p % c) for p in flat})


# float32 too (8 GiB in, 2 GiB out).
@pytest.mark.parametrize("filt,dtype", [("1d", F16), ("2d", F16), ("2d", torch.float32)],
                         ids=["1d-float16", "2d-float16", "2d-float32"])
def test_upfirdn2d(filt, dtype, budget):
    n, c, h, w = _image_shape()
    assert n * c * h * w > min(TWO31, ELEMS) or ELEMS < TWO31
    budget(n * c * h * w * dtype.itemsize * 5 // 4 + GiB // 2)
    x = _rand([n, c, h, w], dtype)
    f = myops.setup_filter([1, 3, 3, 1]) if filt == "1d" else myops.setup_filter(torch.outer(
        torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 2, 1])))
    y = torch.ops.myops.upfirdn2d(x, f, [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0)
    for (i, j) in _planes(n, c, h, w):
        e = ref.upfirdn2d(x[i:i + 1, j:j + 1], f, 1, 2, [1, 1, 1, 1])
        torch.testing.assert_close(y[i:i + 1, j:j + 1], e, **TOL,
                                   msg=lambda m: f"myops.upfirdn2d {filt}: plane n={i} c={j} of {list(x.shape)}: {m}")
    del x, y
    gc.collect()


# The CPU filtered_lrelu is fused (filtered_lrelu_cpu_kernel.cpp): nothing up^2-sized is held,
# only x, the output (1/4 of x's elements for up 1, as many for up 2, down 2 both) and per-thread
# tile scratch. The backward (up 1) holds x, grad (1/4) and dx.
_FLRELU_FACTOR = {1: 1.5, 2: 2.5}


@pytest.mark.parametrize("up", [1, 2])
def test_filtered_lrelu(up, budget):
    n, c, h, w = _image_shape()
    budget(int(n * c * h * w * 2 * _FLRELU_FACTOR[up]) + GiB // 2)
    x = _rand([n, c, h, w])
    b = _rand([c])
    fd = myops.setup_filter([1, 3, 3, 1])
    fu = myops.setup_filter([1, 3, 3, 1], gain=up ** 2) if up > 1 else None
    pad = [1, 1, 1, 1]
    y = torch.ops.myops.filtered_lrelu(x, fu, fd, b, up, 2, pad, 2 ** 0.5, 0.2, 4.0, False)
    for (i, j) in _planes(n, c, h, w):
        e = ref.filtered_lrelu(x[i:i + 1, j:j + 1], fu, fd, b[j:j + 1], up, 2, pad, 2 ** 0.5, 0.2, 4.0)
        torch.testing.assert_close(y[i:i + 1, j:j + 1], e, **TOL,
                                   msg=lambda m: f"myops.filtered_lrelu up={up}: plane n={i} c={j} of {list(x.shape)}: {m}")
    del x, y
    gc.collect()


def test_filtered_lrelu_backward(budget):
    n, c, h, w = _image_shape()
    budget(int(n * c * h * w * 2 * 2.5) + GiB // 2)  # x, dx and grad (1/4 of x)
    x = _rand([n, c, h, w])
    b = _rand([c])
    fd = myops.setup_filter([1, 3, 3, 1])
    pad = [1, 1, 1, 1]
    args = (None, fd, b, 1, 2, pad, 2 ** 0.5, 0.2, 4.0, False)
    g = _rand([n, c, (h + 2 - 4) // 2 + 1, (w + 2 - 4) // 2 + 1])
    dx = torch.ops.myops.filtered_lrelu_backward(g, x, *args)
    assert dx.shape == x.shape
    for (i, j) in _planes(n, c, h, w):
        e = ref.filtered_lrelu_backward(g[i:i + 1, j:j + 1], x[i:i + 1, j:j + 1], None, fd, b[j:j + 1], *args[3:])
        torch.testing.assert_close(dx[i:i + 1, j:j + 1], e, **TOL,
                                   msg=lambda m: f"myops.filtered_lrelu_backward: plane n={i} c={j} of {list(x.shape)}: {m}")
    del x, g, dx
    gc.collect()


# ----------------------------------------------------------------------------------------------
# lltm: the gate pass on gates [B, 3S] with B*3S > 2^31 (S = 16, F = 1; weights [48, 17] stay
# tiny): old_h, old_cell, new_h, new_cell [B, S] 1.33 GiB each, gates 4 GiB, X [B, S+F] 1.4 GiB.

def test_lltm(budget):
    s, feat = 16, 1
    bsz = ELEMS // (3 * s) + 1
    need = (4 * bsz * s + bsz * 3 * s + bsz * (s + feat) + bsz * feat) * 2
    budget(need + GiB)
    x = _rand([bsz, feat])
    w = _rand([3 * s, s + feat]) * 0.25
    bias = _rand([3 * s])
    old_h = _rand([bsz, s])
    old_c = _rand([bsz, s])
    new_h, new_c = torch.ops.myops.lltm(x, w, bias, old_h, old_c)
    cross = TWO31 // (3 * s)
    for r0, r1 in [(0, 2), (cross - 1, min(cross + 2, bsz)), (bsz - 2, bsz)]:
        eh, ec = ref.lltm(x[r0:r1].float(), w.float(), bias.float(), old_h[r0:r1].float(),
                          old_c[r0:r1].float())
        torch.testing.assert_close(new_h[r0:r1].float(), eh, rtol=2e-2, atol=2e-2,
                                   msg=lambda m: f"myops.lltm new_h rows {r0}:{r1} of B={bsz}, S={s}: {m}")
        torch.testing.assert_close(new_c[r0:r1].float(), ec, rtol=2e-2, atol=2e-2,
                                   msg=lambda m: f"myops.lltm new_cell rows {r0}:{r1} of B={bsz}, S={s}: {m}")
    del x, old_h, old_c, new_h, new_c
    gc.collect()
