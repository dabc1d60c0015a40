"""Per-ISA CPU kernels: libmyops.so holds each CPU kernel file compiled once per ISA (DEFAULT,
AVX2, AVX512) and picks one at load time as ATen does (ATEN_CPU_CAPABILITY lowers the choice).
For each ISA this CPU can run, one fresh process checks that its copy was picked, then runs
every op's value test from the table (all samples, the large ones included, all dtypes) and,
for differentiable ops, the gradients, against the reference evaluated in float64."""

from pathlib import Path

import pytest
import torch

import myops
from helpers import run_python
from op_db import without

# ATEN_CPU_CAPABILITY -> (myops_cpu_isa() name, /proc/cpuinfo flags ATen requires for it)
ISAS = {
    "default": ("DEFAULT", ()),
    "avx2": ("AVX2", ("avx2", "fma")),
    "avx512": ("AVX512", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
}


def _cpu_flags() -> set:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return set()
    return {flag for line in cpuinfo.read_text().splitlines() if line.startswith("flags")
            for flag in line.split(":", 1)[1].split()}


def _skip_unless_runnable(isa: str, flags: tuple):
    order = ["DEFAULT", "AVX2", "AVX512"]
    best = torch.backends.cpu.get_cpu_capability()  # what ATen picks here, unlowered
    if best in order and order.index(isa) > order.index(best):
        pytest.skip(f"this CPU runs ATen's {best} kernels at most, not {isa}")
    missing = [f for f in flags if f not in _cpu_flags()]
    if missing:
        pytest.skip(f"this CPU lacks {', '.join(missing)}")
    if isa not in myops.build_info().get("cpu_isas", [isa]):
        pytest.skip(f"libmyops.so was built without the {isa} copy")


# The program each subprocess runs: every op, sample, dtype; failures listed, not just the first.
PROGRAM = """
    import ctypes, torch, myops
    from helpers import check_grads, check_values
    from op_db import without

    lib = ctypes.CDLL(str(myops.library_path())); lib.myops_cpu_isa.restype = ctypes.c_char_p
    print("isa", lib.myops_cpu_isa().decode())
    torch.manual_seed(0)
    failures, checked = [], 0
    for op in without("cpu_isa"):
        for dtype in op.dtypes:
            for requires_grad in (False, True) if op.differentiable else (False,):
                for sample in [*op.samples("cpu", dtype, requires_grad), *op.large_samples("cpu", dtype, requires_grad)]:
                    try:
                        if requires_grad:  # the reference in float64: one tolerance for every dtype
                            check_grads(op, sample, wide=True, scale=GRAD_SCALE)
                        else:
                            check_values(op, sample)
                        checked += 1
                    except Exception as error:  # noqa: BLE001  (report every failing case)
                        kind = "grad" if requires_grad else "value"
                        failures.append(f"{op.name} {kind} {str(dtype)[6:]} {sample.name}: {str(error).splitlines()[0:4]}")
    print("checked", checked)
    print("\\n".join(failures))
    assert not failures, f"{len(failures)} failures"
"""

# Gradients vs the float64 reference: 4x the table's tolerance (what the old per-family ISA
# tests allowed): products and sums of rounded inputs round once more than values do.
GRAD_SCALE = 4


@pytest.mark.parametrize("aten_isa", list(ISAS))
def test_every_op_in_each_isa_copy(aten_isa):
    isa, flags = ISAS[aten_isa]
    _skip_unless_runnable(isa, flags)
    assert without("cpu_isa"), "no op runs the per-ISA test"
    result = run_python(PROGRAM.replace("GRAD_SCALE", str(GRAD_SCALE)),
                        env={"ATEN_CPU_CAPABILITY": aten_isa, "OMP_NUM_THREADS": "1"}, timeout=1200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    lines = result.stdout.splitlines()
    assert lines[0] == f"isa {isa}", f"ATEN_CPU_CAPABILITY={aten_isa} picked {lines[0]}"


# muladd is a * b + c with two roundings on every ISA (never contracted into an FMA, which GCC
# does by default where the ISA has one): bit for bit what PyTorch's a * b + c gives. Probes:
# (1 + 2^-k)^2 - 1, where an FMA keeps the 2^-2k that the rounded product loses, and an
# overflowing product (-inf + inf: NaN, where an FMA gives inf), at lengths that run each loop's
# vector body and scalar tail.
MULADD_PROGRAM = """
    import torch, myops
    for dtype, k in ((torch.float32, 12), (torch.float64, 30)):
        for n in (1, 7, 64, 1000):
            x = torch.full((n,), 1 + 2.0 ** -k, dtype=dtype)
            assert torch.equal(myops.muladd(x, x, -1.0), x * x - 1.0), (dtype, n)
            big = torch.full((n,), torch.finfo(dtype).max / 2, dtype=dtype)
            got, want = myops.muladd(big, torch.tensor(4.0, dtype=dtype), float("-inf")), big * 4.0 + float("-inf")
            assert want.isnan().all() and got.isnan().all(), (dtype, n, got[:3])
    print("ok")
"""


@pytest.mark.parametrize("aten_isa", list(ISAS))
def test_muladd_rounds_like_pytorch_in_each_isa_copy(aten_isa):
    isa, flags = ISAS[aten_isa]
    _skip_unless_runnable(isa, flags)
    result = run_python(MULADD_PROGRAM, env={"ATEN_CPU_CAPABILITY": aten_isa})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout[-3000:] + result.stderr[-3000:]


# Rows shorter than a vector (ops/common/cpu_loops.h). An operand broadcast along an outer
# dimension (b on an NCHW tensor) makes every plane a row of its own; a row's last elements run
# through a partial vector (masked load and store). For every row length 1..70 (each remainder
# of 4, 8, 16 and 32 lanes, alone and after whole vectors) and each float dtype, the short
# rows give the same bits as the same elements inside long rows (whole vectors) and inside a
# strided view (the scalar lambda), values match the reference, and nothing past a row's end
# is written (add_out into a view whose rows are followed by sentinels). (float64's scalar lambda
# uses the C library's exp, its vector lambda SLEEF's: their bits differ, see cpu_vec.h.)
ROW_TAIL_PROGRAM = """
    import torch, myops
    from myops import reference

    torch.manual_seed(0)
    LONG = 1024
    BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}  # element size -> integer dtype
    def same_bits(a, b):
        return a.shape == b.shape and torch.equal(a.view(BITS[a.element_size()]), b.view(BITS[b.element_size()]))
    failures, checked = [], 0
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        for n in range(1, 71):
            wide = torch.randn(2, 3, 1, LONG, dtype=dtype) * 3
            x, g, b = wide[..., :n].contiguous(), torch.randn(2, 3, 1, n, dtype=dtype), torch.randn(3, dtype=dtype)
            g_wide = torch.randn(2, 3, 1, LONG, dtype=dtype)
            g_wide[..., :n] = g
            strided = torch.randn(2, 3, 1, 2 * n, dtype=dtype)[..., ::2]
            strided[...] = x
            g_strided = torch.randn(2, 3, 1, 2 * n, dtype=dtype)[..., ::2]
            g_strided[...] = g
            for act in ("lrelu", "elu", "swish"):
                kw = dict(act=act, gain=1.5, clamp=2.0)
                y = myops.bias_act(x, b, **kw)
                ref = reference.bias_act(x.double(), b.double(), **kw).to(dtype)
                grad = torch.ops.myops.bias_act_backward(g, x, b, 1, act, None, 1.5, 2.0, 1)
                checks = {
                    "forward vs whole vectors": same_bits(y, myops.bias_act(wide, b, **kw)[..., :n]),
                    "forward vs scalar lambda": same_bits(y, myops.bias_act(strided, b, **kw)),
                    "forward vs reference": torch.allclose(y.double(), ref.double(), rtol=2e-2, atol=2e-2),
                    "backward vs whole vectors": same_bits(
                        grad, torch.ops.myops.bias_act_backward(g_wide, wide, b, 1, act, None, 1.5, 2.0, 1)[..., :n]),
                    "backward vs scalar lambda": same_bits(
                        grad, torch.ops.myops.bias_act_backward(g_strided, strided, b, 1, act, None, 1.5, 2.0, 1)),
                }
                if dtype == torch.float64 and act != "lrelu":  # see above
                    del checks["forward vs scalar lambda"], checks["backward vs scalar lambda"]
                failures += [f"{dtype} n={n} {act}: {name}" for name, ok in checks.items() if not ok]
                checked += 1
            scale = torch.randn(1, 3, 1, 1, dtype=dtype)
            if not torch.equal(myops.mul(x, scale), x * scale):
                failures.append(f"{dtype} n={n}: mul")
            buffer = torch.full((2, 3, 1, n + 5), 7.0, dtype=dtype)
            torch.ops.myops.add_out(x, scale, buffer[..., :n])
            if not torch.equal(buffer[..., :n], x + scale) or not (buffer[..., n:] == 7).all():
                failures.append(f"{dtype} n={n}: add_out")
    print("checked", checked)
    print("\\n".join(failures[:40]))
    assert not failures, f"{len(failures)} failures"
"""


@pytest.mark.parametrize("aten_isa", list(ISAS))
def test_rows_shorter_than_a_vector_in_each_isa_copy(aten_isa):
    isa, flags = ISAS[aten_isa]
    _skip_unless_runnable(isa, flags)
    result = run_python(ROW_TAIL_PROGRAM, env={"ATEN_CPU_CAPABILITY": aten_isa, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


# MYOPS_CPU_CAPABILITY lowers myops' choice alone: ATen's stays, myops never goes above ATen's,
# an unknown value is ignored with a warning naming the variable, and the ops still match the
# reference in the copy it picks.
KNOB_PROGRAM = """
    import ctypes, torch, myops
    from myops import reference
    lib = ctypes.CDLL(str(myops.library_path())); lib.myops_cpu_isa.restype = ctypes.c_char_p
    print("isa", lib.myops_cpu_isa().decode(), "aten", torch.backends.cpu.get_cpu_capability())
    torch.manual_seed(0)
    x, b, f = torch.randn(2, 5, 9, 11), torch.randn(5), torch.tensor([1.0, 3.0, 3.0, 1.0])
    y = myops.bias_act(x, b, act="swish", gain=1.5)
    assert torch.allclose(y, reference.bias_act(x, b, act="swish", gain=1.5), rtol=1e-5, atol=1e-5)
    y = myops.upfirdn2d(x, f / 8, up=2, padding=[2, 1, 2, 1], gain=4)
    assert torch.allclose(y, reference.upfirdn2d(x, f / 8, up=2, padding=[2, 1, 2, 1], gain=4), rtol=1e-5, atol=1e-5)
    print("ok")
"""


def _knob_run(myops_isa: str, aten_isa):
    env = {"MYOPS_CPU_CAPABILITY": myops_isa}  # ("": unset)
    if aten_isa:
        env["ATEN_CPU_CAPABILITY"] = aten_isa
    result = run_python(KNOB_PROGRAM, env=env)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout[-3000:] + result.stderr[-3000:]
    words = result.stdout.split()
    return words[1], words[3], result.stderr  # myops' ISA, ATen's, the warnings


@pytest.mark.parametrize("myops_isa, aten_isa, expect", [
    ("default", None, "DEFAULT"),
    ("AVX2", None, "AVX2"),            # (case does not matter)
    ("avx512", "default", "DEFAULT"),  # never above ATen's choice
    ("sse9", None, None),              # unknown: ignored (None: the choice without the variable)
])
def test_myops_cpu_capability_lowers_myops_alone(myops_isa, aten_isa, expect):
    if expect == "AVX2":
        _skip_unless_runnable("AVX2", ISAS["avx2"][1])
    base_isa, base_aten, _ = _knob_run("", aten_isa)
    isa, aten, stderr = _knob_run(myops_isa, aten_isa)
    assert isa == (expect or base_isa)
    assert aten == base_aten, "MYOPS_CPU_CAPABILITY moved ATen's choice"
    assert ("ignoring MYOPS_CPU_CAPABILITY=sse9" in stderr) == (myops_isa == "sse9"), stderr[-2000:]
