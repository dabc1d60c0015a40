"""upfirdn2d beyond the generic table tests: StyleGAN's resampling helpers, long filters, the
transposed gradient, a compiled resampling block, TorchScript (thread-count independence:
test_threads.py, with the table's large samples)."""

import itertools

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

import myops
from helpers import run_scripts_in_fresh_process
from myops import reference


def _x(shape, device, dtype=torch.float64, requires_grad=False):
    return torch.randn(shape, device=device, dtype=dtype, requires_grad=requires_grad)


# ------------------------------------------------------------------------------ setup_filter

def test_setup_filter_matches_stylegan_semantics():
    f = myops.setup_filter([1, 3, 3, 1])  # < 8 taps: made 2-D, normalized
    want = torch.tensor([1.0, 3, 3, 1]).outer(torch.tensor([1.0, 3, 3, 1])) / 64
    assert f.dtype == torch.float32 and f.shape == (4, 4)
    torch.testing.assert_close(f, want)
    sep = myops.setup_filter([1, 3, 3, 1], separable=True, gain=4)  # 1-D: scaled by gain ** 0.5
    torch.testing.assert_close(sep, torch.tensor([1.0, 3, 3, 1]) / 8 * 2)
    long = myops.setup_filter(list(range(1, 9)))  # >= 8 taps: stays separable
    assert long.shape == (8,)
    torch.testing.assert_close(long.sum(), torch.tensor(1.0))
    flipped = myops.setup_filter([[1, 2], [3, 4]], normalize=False, flip_filter=True, gain=2)
    torch.testing.assert_close(flipped, torch.tensor([[4.0, 3], [2, 1]]) * 2)
    torch.testing.assert_close(myops.setup_filter(None), torch.ones(1, 1))
    torch.testing.assert_close(myops.setup_filter(2.0, normalize=False), torch.full((1, 1), 4.0))  # [2] outer [2]
    user = torch.tensor([1.0, 3, 3, 1])
    myops.setup_filter(user, separable=True)
    torch.testing.assert_close(user, torch.tensor([1.0, 3, 3, 1]))  # the caller's tensor is untouched


# ----------------------------------------------- helpers: StyleGAN's padding and gain, by hand

@pytest.mark.parametrize("taps", [2, 4, 5, 8])
@pytest.mark.parametrize("separable", [False, True])
def test_upsample2d(device, taps, separable):
    f = myops.setup_filter(torch.rand(taps) + 0.5, separable=separable).to(device, torch.float64)
    x = _x((2, 3, 6, 9), device)
    got = myops.upsample2d(x, f, up=2)
    # upsample2d == upfirdn2d(up=2, padding [(fw+1)//2, (fw-2)//2, ...], gain * 4)
    p = [(taps + 1) // 2, (taps - 2) // 2] * 2
    want = reference.upfirdn2d(x, f, up=2, padding=[p[0], p[1], p[0], p[1]], gain=4)
    assert got.shape == (2, 3, 12, 18)
    torch.testing.assert_close(got, want)
    # anisotropic factor, extra padding, flip, gain
    got = myops.upsample2d(x, f, up=[4, 2], padding=[1, -1], flip_filter=True, gain=0.5)
    want = reference.upfirdn2d(x, f, up=[4, 2], flip_filter=True, gain=0.5 * 8,
                               padding=[1 + (taps + 3) // 2, 1 + (taps - 4) // 2, -1 + (taps + 1) // 2, -1 + (taps - 2) // 2])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("taps", [2, 3, 4, 8])
@pytest.mark.parametrize("separable", [False, True])
def test_downsample2d(device, taps, separable):
    f = myops.setup_filter(torch.rand(taps) + 0.5, separable=separable).to(device, torch.float64)
    x = _x((2, 3, 12, 8), device)
    got = myops.downsample2d(x, f, down=2)
    p0, p1 = (taps - 1) // 2, (taps - 2) // 2
    assert got.shape == (2, 3, 6, 4)
    torch.testing.assert_close(got, reference.upfirdn2d(x, f, down=2, padding=[p0, p1, p0, p1]))
    got = myops.downsample2d(x, f, down=[4, 2], padding=[2, 0, 1, 1], gain=3)
    want = reference.upfirdn2d(x, f, down=[4, 2], gain=3, padding=[
        2 + (taps - 3) // 2, (taps - 4) // 2, 1 + (taps - 1) // 2, 1 + (taps - 2) // 2])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (5,), (8,)])
def test_filter2d_keeps_the_size(device, shape):
    f = torch.rand(shape, device=device, dtype=torch.float64)
    x = _x((1, 2, 7, 10), device)
    got = myops.filter2d(x, f, gain=2)
    fw, fh = shape[-1], shape[0]
    want = reference.upfirdn2d(x, f, padding=[fw // 2, (fw - 1) // 2, fh // 2, (fh - 1) // 2], gain=2)
    assert got.shape == x.shape
    torch.testing.assert_close(got, want)
    got = myops.filter2d(x, f, padding=[1, 2, 0, -1], flip_filter=True)
    want = reference.upfirdn2d(x, f, flip_filter=True, padding=[1 + fw // 2, 2 + (fw - 1) // 2, fh // 2, -1 + (fh - 1) // 2])
    torch.testing.assert_close(got, want)


def test_helpers_accept_none_filter(device):
    x = _x((1, 2, 4, 6), device)
    torch.testing.assert_close(myops.filter2d(x, None), x)
    torch.testing.assert_close(myops.downsample2d(x, None), x[:, :, ::2, ::2])
    up = myops.upsample2d(x, None)  # zero insertion, gain 4, shifted by StyleGAN's padding [1, -1]
    assert up.shape == (1, 2, 8, 12)
    torch.testing.assert_close(up[:, :, 1::2, 1::2], 4 * x)
    assert up[:, :, ::2].abs().sum() == 0 and up[:, :, :, ::2].abs().sum() == 0


# ------------------------------------------------------------------------------ long filters

@pytest.mark.parametrize("up, down", [(1, 1), (2, 1), (1, 2), (4, 2), (3, 4)])
@pytest.mark.parametrize("shape", [(32,), (31,), (32, 32), (17, 32)])
def test_long_filters(device, shape, up, down):
    f = torch.randn(shape, device=device) / shape[0]
    x = _x((1, 2, 20, 23), device)
    pad = [15, 16, 14, 17]
    torch.testing.assert_close(myops.upfirdn2d(x, f, up, down, pad, gain=2.0),
                               reference.upfirdn2d(x, f, up, down, pad, gain=2.0))


# ------------------------------------------------------------------------------ the CPU flat path

# A 2-D filter without resampling (StyleGAN2's blur) on contiguous planes of moderate width
# takes the flat path (ops/upfirdn2d/upfirdn2d_cpu_flat.h: padded planes computed as flat rows
# across row ends, border rows one by one); the same call on rows with a pixel stride takes the
# row path. Both sum the same taps in the same order, so they must agree bit for bit, and the
# reference checks the values. Tall and short planes (no interior row at all: every row a
# border row), negative padding (a crop), odd filters; 9 and 33 outputs a row.
def _takes_flat_path(out_w: int, fw: int, dtype) -> bool:
    """use_flat_path's width rule for this CPU's selected kernels (few planes: no plane path)."""
    from myops._cli import selected_cpu_isa
    width = 64 if selected_cpu_isa() == "AVX512" else 32  # bytes of an at::vec::Vectorized
    lanes = width // (8 if dtype == torch.float64 else 4)  # (bfloat16 computes in float)
    return 4 * (out_w + fw - 1) <= 3 * (-(-out_w // lanes) * lanes)


@pytest.mark.parametrize("h", [30, 6, 2])
@pytest.mark.parametrize("out_w", [9, 33])
@pytest.mark.parametrize("fshape, pad", [((4, 4), [2, 2, 2, 2]), ((4, 4), [1, 1, 1, 1]), ((3, 5), [2, 1, -1, 3]),
                                         ((1, 2), [0, 1, 0, 0])])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_flat_path_equals_row_path(h, out_w, fshape, pad, dtype):
    fh, fw = fshape
    if not _takes_flat_path(out_w, fw, dtype):
        pytest.skip("this width takes the row path with this CPU's vectors")
    torch.manual_seed(0)
    w = out_w - pad[0] - pad[1] + fw - 1
    wide = torch.randn(2, 3, h, 2 * w, dtype=torch.float64).to(dtype)
    flat_x = wide[..., ::2].contiguous()      # pixel stride 1: the flat path
    row_x = wide[..., ::2]                     # pixel stride 2: the row path
    assert flat_x.stride(3) == 1 and row_x.stride(3) == 2
    f = torch.randn(fshape, dtype=torch.float64)
    f = f.to(torch.float32 if dtype == torch.bfloat16 else dtype)
    got = myops.upfirdn2d(flat_x, f, 1, 1, pad)
    assert got.shape[3] == out_w
    assert torch.equal(got, myops.upfirdn2d(row_x, f, 1, 1, pad))
    want = reference.upfirdn2d(flat_x.double(), f.double(), 1, 1, pad)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype == torch.bfloat16 else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


# ------------------------------------------------------------------------------ the CPU row path

@pytest.mark.parametrize("shape", [(2, 3, 70, 37), (1, 2, 1100, 260)])  # odd widths; 2 tiles per plane
@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced"])
def test_row_path_runs_of_rows(device, shape, separable, dtype, layout):
    """The row path's runs of output rows with the same taps (one call per run, several rows'
    vectors together, whole-vector loads past a row's end), its prefetch of the next unit's rows
    (next plane, next tile; strided rows), its zero-padded, sub-row-aligned prepared rows: down 2
    (and 4x2) and up 2, against the reference."""
    x = torch.randn(shape, device=device, dtype=torch.float64)
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    elif layout == "sliced":
        x = torch.randn(shape[:3] + (shape[3] + 5,), device=device, dtype=torch.float64)[..., 2:-3]
    # (separable: 6 taps; a separable 4-tap filter resampled by 2 runs as its 2-D product,
    # test_separable_few_taps_run_as_2d_product)
    f = myops.setup_filter([1, 3, 5, 5, 3, 1] if separable else [1, 3, 3, 1], separable=separable)
    f = f.to(device, torch.float64)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype == torch.bfloat16 else {}
    for up, down, pad in [(1, 2, [1, 1, 1, 1]), (1, [4, 2], [2, 1, 0, 3]), (2, 1, [2, 1, 2, 1])]:
        if shape[2] > 500 and up == 2:
            continue  # (a large up: slow in float64 for nothing new)
        got = myops.upfirdn2d(x.to(dtype), f.to(dtype if dtype != torch.bfloat16 else torch.float32), up, down, pad)
        want = reference.upfirdn2d(x.to(dtype).double(), f.double(), up, down, pad)
        torch.testing.assert_close(got, want.to(dtype), **tol)  # (the reference rounded once)


@pytest.mark.parametrize("shape", [(1, 2, 4, 40), (2, 3, 11, 37), (1, 2, 70, 65)])  # runs of 1, 8 and 67+ rows
@pytest.mark.parametrize("down, pad", [(1, [2, 2, 2, 2]), (1, [1, 1, 0, 3]), (2, [1, 1, 1, 1]), ([1, 2], [2, 1, 2, 1]),
                                       ([2, 1], [1, 2, 0, 1])])
@pytest.mark.parametrize("fshape", [(4, 4), (4,)], ids=["2d", "separable"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_path_4x4_filter_down_the_rows(shape, down, pad, fshape, dtype):
    """A 4 x 4 filter on a run of output rows (the blur, down 2) walks the input rows once for
    all the output rows they feed (RowRun, ops/upfirdn2d/upfirdn2d_cpu_rows.h; a 1-D filter
    makes both passes in registers): an asymmetric filter (a tap or filter row taken in the
    wrong place shows), runs of rows not a multiple of 4, the last vector of a row partial,
    against the reference; and the same bits for a channels_last input (which runs on its
    strided rows, upfirdn2d_cpu_channels_last.h, or for the down 2 of 3 channels, and AVX2's of
    2, on pixel rows, upfirdn2d_cpu_pixel_rows.h)."""
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=dtype)
    f = torch.randn(fshape, dtype=dtype)
    got = myops.upfirdn2d(x, f, 1, down, pad)
    want = reference.upfirdn2d(x.double(), f.double(), 1, down, pad)
    torch.testing.assert_close(got, want.to(dtype))
    via_planes = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, 1, down, pad)
    assert via_planes.stride(1) == 1
    assert torch.equal(got, via_planes)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("separable", [False, True], ids=["2d", "separable"])
@pytest.mark.parametrize("up, down, pad", [(1, 1, [2, 2, 2, 2]), (1, 2, [1, 1, 1, 1]), (2, 1, [2, 1, 2, 1]),
                                           (1, [2, 1], [1, 2, 0, 1])])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_row_path_reduced_precision_is_float32_rounded_once(dtype, separable, up, down, pad, layout):
    """A float16/bfloat16 output is not written in place: each run of output rows is computed in
    float32 rows (RowRun, the runs of weighted_row_sums: the sums of float32's in-place run) and
    rounded once when stored. So the op on float16/bfloat16 values gives float32's result on the
    same values rounded once, bit for bit (and the reference's within rounding). (channels_last:
    the same on its routes, strided rows or pixel rows, upfirdn2d_cpu_channels_last.h.)"""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 70, 65).to(dtype)  # planes past the plane path's 32 x 32; odd width
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    f = torch.randn(4) if separable else torch.randn(4, 4)
    got = myops.upfirdn2d(x, f, up, down, pad)
    assert got.dtype == dtype
    assert torch.equal(got, myops.upfirdn2d(x.float().contiguous(), f, up, down, pad).to(dtype))
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad)
    torch.testing.assert_close(got, want.to(dtype), atol=0.05, rtol=0.02)


@pytest.mark.parametrize("shape", [(2, 3, 40, 50), (1, 2, 33, 48), (3, 4, 34, 34), (1, 6, 35, 40), (2, 7, 33, 36),
                                   (1, 5, 37, 45),    # 5 channels: 16 lanes repeat every 5 vectors
                                   (1, 5, 100, 150),  # several tiles of output rows
                                   (2, 3, 40, 3)])    # 3 pixels a row: output rows of 3-18 values
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64], ids=str)
@pytest.mark.parametrize("up, down, pad, fshape", [(1, 1, [2, 2, 2, 2], (4, 4)), (1, [2, 1], [1, 1, 1, 1], (4,)),
                                                   (1, [2, 3], [2, 2, 2, 2], (6,)), (2, 1, [2, 1, 2, 1], (4, 4)),
                                                   ([2, 1], [1, 3], [0, 1, 2, 3], (4, 4))])
def test_row_path_channels_last_few_channels(shape, dtype, up, down, pad, fshape):
    """channels_last with few channels, planes past the plane path's 32 x 32
    (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h): up to 4 channels (on AVX-512 up to 6 float32
    and 7 float16/bfloat16: strided_rows_max_channels) the row path reads the strided rows (a
    vector at a time where the ISA has the permutes and masks, ops/common/cpu_strided_lanes.h;
    a row's last values one at a time) and writes them so too, except float32 outputs of the
    channel counts the ISA interleaves (AVX-512 2-7, AVX2 2 and 4: each unit computes all
    channels of its tile and stores whole pixels, ops/common/cpu_interleaved_rows.h); the other
    channel counts up to half a vector's lanes (AVX2 float16/bfloat16 6 and 7, which it cannot
    mask) are transposed to planes, run there and transposed back, partial blocks of pixels x
    channels a value at a time; elsewhere they run in place (masked: float64 on AVX-512,
    float32 on AVX2; AVX2's float64, 4 lanes, with an overlapping block). (More channels run in
    place: test_channels_last_in_place and test_channels_last_in_place_any_channel_count
    below; the blur here runs on pixel rows, and so does the up of 3 channels or more, but for
    AVX-512's bfloat16 below 7, and so would a down by the same factor on both axes, hence the
    downs here differ between the axes: test_pixel_rows_channels_last.) The output is
    channels_last and has the same bits as the contiguous input's."""
    torch.manual_seed(0)
    x = torch.randn(shape).to(dtype)
    f = torch.randn(fshape)
    f = f.to(dtype) if dtype == torch.float64 else f
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert torch.equal(got, myops.upfirdn2d(x, f, up, down, pad))
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype in (torch.bfloat16, torch.float16) else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


@pytest.mark.parametrize("shape", [(1, 5, 37, 45), (2, 3, 40, 3),  # 3 pixels a row: 9-value rows
                                   (1, 7, 100, 200),  # 1,400-value rows: three bands of output rows
                                   (3, 2, 33, 34), (1, 6, 7, 70), (2, 12, 20, 37), (1, 23, 9, 50),
                                   (2, 4, 21, 19), (1, 9, 30, 33),
                                   (1, 27, 12, 40), (2, 60, 9, 21)])  # 2-D blurs of more channels
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64], ids=str)
@pytest.mark.parametrize("up, down, pad, fshape", [
    (1, 1, [2, 2, 2, 2], (4, 4)), (1, 1, [1, 2, 1, 2], (4,)), (1, 1, [0, 3, 2, 1], (3, 5)),
    (1, 1, [-1, 2, 0, -2], (4, 4)), (1, 1, [-1, 4, 3, -1], (6,)),
    (1, 1, [5, 6, 7, 8], (2, 2)), (1, 1, [9, 0, 8, 0], (3,)),  # rows of padding only
    (2, 1, [2, 1, 2, 1], (4, 4)), (2, 1, [3, 2, 3, 2], (6,)), (2, 1, [-1, 2, 0, -3], (3, 5)),
    (3, 1, [1, 4, 2, 0], (5,)), (4, 1, [4, 3, 5, 2], (8, 8)), (2, 1, [9, 0, 12, 0], (2, 2)),
    (1, 2, [1, 1, 1, 1], (4, 4)), (1, 2, [2, 1, 2, 1], (4,)), (1, 2, [-1, 3, 0, -3], (3, 5)),
    (1, 3, [1, 4, 2, 0], (5,)), (1, 4, [4, 3, 5, 2], (8, 8)), (1, 2, [0, 0, 0, 0], (1,)),
    (1, 2, [9, 0, 12, 0], (2, 2))])
def test_pixel_rows_channels_last(shape, dtype, up, down, pad, fshape):
    """Blurs (up 1, down 1) of channels_last images of 2 channels to one and a half vectors' lanes
    (AVX-512 float32: 23; 2-D filters: to five vectors' lanes, 80, AVX2 float32 to two, 15, but
    not AVX-512 bfloat16 multiples of 32), upsamplings (up 2-4 on both axes, down 1)
    of 3 channels to half a vector's lanes and one (AVX-512 float32: 9; AVX2 float16/bfloat16 up
    to 7), and downsamplings (down 2-4 on both axes, up 1) of 3 channels (AVX2: 2) to fewer than
    a vector's lanes, at most 8 float channels, run on pixel rows
    (ops/upfirdn2d/upfirdn2d_cpu_pixel_rows.h; but AVX-512 float16/bfloat16 blurs of 2-3
    channels and bfloat16 ups of fewer than 7): vectors along a whole row of W·C values (an up:
    of each phase's pixels, merged pixel by pixel into the output row; a down: of input rows
    split into phases of pixels, 3-pixel rows copied a value at a time; AVX-512's 2-D 4x4 blurs
    of 4 rows or more through RowRun; float32/float64 blurs and ups reading the columns away
    from the edges straight from x's rows, rows too narrow for that, 9-value rows, from the
    copies), horizontal taps C values apart, 2-D and separable
    filters, filters with fewer taps than the upsampling in a phase, bands of output rows,
    output rows whose taps all land in the padding. The same sums in the same order as the
    contiguous input's: the same bits, and a channels_last output equal to the reference."""
    torch.manual_seed(0)
    x = torch.randn(shape).to(dtype)
    f = torch.randn(fshape)
    f = f.to(dtype) if dtype == torch.float64 else f
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert torch.equal(got, myops.upfirdn2d(x, f, up, down, pad))
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype in (torch.bfloat16, torch.float16) else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


@pytest.mark.parametrize("channels", [3, 7, 12, 40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("up, pad, fshape", [(1, [2, 2, 2, 2], (4, 4)), (1, [1, 2, 1, 2], (4,)),
                                             (2, [2, 1, 2, 1], (4, 4)), (1, [0, 0, 0, 0], (3, 3))])
def test_pixel_rows_channels_last_crop(channels, dtype, up, pad, fshape):
    """A channels_last crop (x[..., 2:-3, 5:-4]: rows further apart than their pixels, the crop's
    first pixel not at the storage's start) on pixel rows: float32/float64 read the columns away
    from the edges straight from x's rows (whole vectors that end where the crop's row ends,
    not where the storage's row does), the edge columns and float16/bfloat16 from copies.
    The same bits as the contiguous crop's, and the reference's values."""
    torch.manual_seed(0)
    full = torch.randn(2, channels, 21, 47).to(dtype).contiguous(memory_format=torch.channels_last)
    full[:, :, :, -4:] = float("nan")  # (beyond the crop's rows: must not reach any output)
    full[:, :, :, :5] = float("inf")
    x = full[:, :, 2:-3, 5:-4]
    assert x.stride(1) == 1 and x.stride(3) == channels and x.stride(2) == 47 * channels
    f = torch.randn(fshape, dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    got = myops.upfirdn2d(x, f, up, 1, pad)
    assert torch.equal(got, myops.upfirdn2d(x.contiguous(), f, up, 1, pad))
    want = reference.upfirdn2d(x.double(), f.double(), up, 1, pad)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype in (torch.bfloat16, torch.float16) else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


@pytest.mark.parametrize("shape", [(1, 64, 40, 256),  # 64 KiB rows: many bands of output rows
                                   (2, 32, 70, 65),   # a few bands, odd width
                                   (3, 48, 16, 16),   # small planes (the plane path's size)
                                   (1, 16, 6, 40),    # border rows only
                                   (2, 96, 9, 14),    # 2-D blurs of float32/float16 (pixel rows take up to 80)
                                   (1, 112, 24, 96)])  # the same in several bands
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("up, down, pad, fshape", [(1, 1, [2, 2, 2, 2], (4, 4)), (1, 1, [1, 2, 1, 2], (4,)),
                                                   (1, 2, [1, 1, 1, 1], (4, 4)), (1, 2, [1, 1, 1, 1], (4,)),
                                                   (1, 2, [2, 3, 3, 2], (6,)), (2, 1, [2, 1, 2, 1], (4, 4)),
                                                   (2, 1, [3, 2, 3, 2], (6,)), ([2, 1], [1, 3], [0, 1, 2, 3], (4,)),
                                                   ([2, 1], [1, 3], [0, 1, 2, 3], (6,)), (1, 1, [-1, 2, 0, -2], (4, 4))])
def test_channels_last_in_place(shape, dtype, up, down, pad, fshape):
    """channels_last with whole vectors of channels (16, 32, 48, 64: AVX-512's 16 float lanes,
    AVX2's 8, double's 8 or 4) runs the plane path's step on the tensors in place (float16 and
    bfloat16 widened as the taps load them, rounded once as the outputs are stored), a band of
    output rows at a time, each pixel's blocks of L channels in turn, every band planned with
    its own border rows and scratch rows
    (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h). But for the 2-D blurs that run on pixel rows
    (test_pixel_rows_channels_last: up to 5 vectors' lanes, AVX2 float32 below 2, not AVX-512
    bfloat16 multiples of 32): 96 and 112 channels keep float32's and float16's 2-D blurs here.
    The same
    sums as a contiguous input's: the same bits, and a channels_last output."""
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=dtype)
    x[0, 1, 0, 0] = float("inf")  # (the sums must reach the same outputs: inf/nan spread alike)
    f = torch.randn(fshape)  # (1-D, 4 taps resampled: run as the 2-D product; 6 taps: separable)
    if dtype == torch.float64:
        f = f.double()
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad, gain=1.5)
    assert got.is_contiguous(memory_format=torch.channels_last)
    want_bits = myops.upfirdn2d(x, f, up, down, pad, gain=1.5)
    assert torch.equal(got.nan_to_num(), want_bits.nan_to_num()) and torch.equal(got.isnan(), want_bits.isnan())
    x[0, 1, 0, 0] = 0
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad, gain=1.5)
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad, gain=1.5)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype in (torch.bfloat16, torch.float16) else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


@pytest.mark.parametrize("channels", [5, 8, 12, 20, 37, 84])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("up, down, pad, fshape", [(1, 1, [2, 2, 2, 2], (4, 4)), (1, 2, [1, 1, 1, 1], (4, 4)),
                                                   (2, 1, [2, 1, 2, 1], (4, 4)), (1, 1, [3, 2, 3, 2], (6,)),
                                                   ([2, 1], [1, 3], [0, 1, 2, 3], (6,))])
def test_channels_last_in_place_any_channel_count(channels, dtype, up, down, pad, fshape):
    """channels_last whose channels do not fill whole vectors runs in place too
    (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h): past L channels (L lanes: 16 float on AVX-512,
    8 on AVX2; float64 half that) one more block on the last L channels, which overlaps the
    whole blocks' last ones; with fewer, from half the lanes up, one block with only its first
    `channels` lanes loaded and stored (masked: AVX-512 any dtype, AVX2 float); below
    that (and AVX2's bfloat16/float16), through planar copies (test_row_path_channels_last_few_channels
    has the strided rows of 4 channels or fewer). Blurs of fewer than one and a half vectors'
    lanes of channels run on pixel rows instead (test_pixel_rows_channels_last): here the
    up 1 / down 1 cases of 5-20 channels on AVX-512 (float64: 5 and 8), of 5 and 8 on AVX2
    (float64: 5), and 2-D ones of more (up to five vectors' lanes, AVX2 float32 below two: here
    up to 37 channels, AVX2 float32 12; 84 keeps them in place); so
    do ups of 3 to half a vector's lanes and one: here the up 2 of 5 and 8
    channels on AVX-512 (float64 5; bfloat16 8), of 5 on AVX2; and downs by the same factor
    on both axes of 3 (AVX2: 2) to fewer than a vector's lanes, pixels of at most 32 bytes: here
    the down 2 of 5 and 8 channels on AVX-512, of 5 on AVX2, float64 neither. Every case gives
    the contiguous input's bits (a masked store that wrote past a pixel's channels, or an overlapping block
    that summed differently, would change the neighbours' values) and the reference's values."""
    torch.manual_seed(0)
    x = torch.randn(2, channels, 21, 37, dtype=dtype)
    x[1, -1, 3, 5] = float("inf")  # (spreads to the same outputs, as inf or nan, in every path)
    f = torch.randn(fshape, dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad, gain=1.5)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    want_bits = myops.upfirdn2d(x, f, up, down, pad, gain=1.5)
    assert torch.equal(got.nan_to_num(), want_bits.nan_to_num()) and torch.equal(got.isnan(), want_bits.isnan())
    x[1, -1, 3, 5] = 0
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad, gain=1.5)
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad, gain=1.5)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype in (torch.bfloat16, torch.float16) else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


@pytest.mark.parametrize("channels", [256, 250])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_channels_last_in_place_separable_in_chunks(channels, dtype):
    """A separable step's scratch holds its band's horizontally filtered rows for every block of
    channels it computes. Here all of them would pass the 1M-value limit (5 input rows x 1038
    output columns x 256 channels), so each step takes a divisor of the blocks at a time
    (blocks_per_step in ops/upfirdn2d/upfirdn2d_cpu_channels_last.h) and the pixel's channels
    are covered in chunks (250 channels: the last chunk's last block overlaps the one before it):
    the same bits as the contiguous input's."""
    torch.manual_seed(0)
    x = torch.randn(1, channels, 6, 520, dtype=dtype)
    f = torch.randn(6, dtype=torch.float64 if dtype == torch.float64 else torch.float32)  # (separable up 2)
    got = myops.upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, 2, 1, [2, 1, 2, 1])
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got, myops.upfirdn2d(x, f, 2, 1, [2, 1, 2, 1]))
    want = reference.upfirdn2d(x[:, :, :, :42].double(), f.double(), 2, 1, [2, 0, 2, 1])  # (columns < 80)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype == torch.bfloat16 else {}
    torch.testing.assert_close(got[:, :, :, :80], want[:, :, :, :80].to(dtype), **tol)


@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (1, 16, 40, 72), (1, 5, 40, 72)])  # plane, rows / in place, copies
@pytest.mark.parametrize("up, down, pad", [(2, 1, [2, 1, 2, 1]), (1, 2, [1, 1, 1, 1]), (1, [4, 2], [2, 1, 0, 3])])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_separable_few_taps_run_as_2d_product(shape, up, down, pad, layout):
    """A separable filter whose 2-D outer product costs the CPU less (StyleGAN2's 4 taps resampled
    by 2: separable_runs_as_2d in ops/upfirdn2d/upfirdn2d_cpu_planes.h) runs as that product, in
    every layout and path: the bits of the 2-D filter f x f (gain 4 is 2 per factor, exact), and
    the reference's values."""
    torch.manual_seed(0)
    x = torch.randn(shape)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    f = torch.randn(4)
    got = myops.upfirdn2d(x, f, up, down, pad, gain=4)
    assert torch.equal(got, myops.upfirdn2d(x, f[:, None] * f[None, :], up, down, pad, gain=4))
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad, gain=4)
    torch.testing.assert_close(got, want.float())


# ------------------------------------------------------------------------------ the CPU plane path

# Planes up to 32 x 32, at least a vector's worth of them, take the plane path (L planes in the
# lanes of a vector, gathered and scattered by register transposes; contiguous planes written
# through a staging buffer, where planes of >= 256 outputs start on whole vectors); one
# plane alone takes the row path. Same sums in the same order: equal bits, plane by plane.
# 42 planes: two full groups of 16 (AVX-512) and a last group with empty lanes.
@pytest.mark.parametrize("hw, up, down, pad", [((16, 16), 1, 1, [2, 2, 2, 2]),  # 17 x 17 outputs
                                               ((8, 8), 1, 1, [2, 2, 2, 2]),    # 11 x 11
                                               ((32, 32), 1, 2, [1, 1, 1, 1]),  # 16 x 16
                                               ((8, 8), 2, 1, [2, 1, 2, 1])])   # 17 x 17
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced"])
def test_plane_path_equals_row_path(hw, up, down, pad, dtype, layout):
    torch.manual_seed(0)
    x = torch.randn(2, 21, *hw).to(dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":
        x = torch.randn(2, 21, hw[0], hw[1] + 3).to(dtype)[..., 1:-2]
    f = torch.randn(4, 4)
    got = myops.upfirdn2d(x, f, up, down, pad)
    for n, c in itertools.product(range(2), range(21)):
        one = myops.upfirdn2d(x[n:n + 1, c:c + 1], f, up, down, pad)
        assert torch.equal(got[n:n + 1, c:c + 1], one), (n, c)
    want = reference.upfirdn2d(x.double(), f.double(), up, down, pad)
    tol = {"atol": 0.05, "rtol": 0.02} if dtype == torch.bfloat16 else {}
    torch.testing.assert_close(got, want.to(dtype), **tol)


# ------------------------------------------------------------------------------ gradients

@pytest.mark.parametrize("up, down, padding, shape, flip", [
    ([2, 2], [1, 1], [2, 1, 2, 1], (4,), False),
    ([1, 1], [2, 2], [1, 1, 1, 1], (4, 4), True),
    ([1, 2], [3, 1], [-1, 4, 2, 0], (5,), False),
    ([4, 1], [2, 4], [3, -2, 0, 5], (3, 6), True),
    ([1, 1], [4, 3], [0, 0, 0, 0], None, False),
])
def test_gradient_is_the_transposed_resampling(device, up, down, padding, shape, flip):
    """x.grad equals StyleGAN's transposed call (up <-> down, padding transformed, flip
    inverted), evaluated here with the reference, and satisfies <A x, g> = <x, A^T g>."""
    f = None if shape is None else torch.randn(shape, device=device, dtype=torch.float64)
    x = _x((2, 2, 9, 11), device, requires_grad=True)
    y = myops.upfirdn2d(x, f, up, down, padding, flip, 3.0)
    g = torch.randn_like(y)
    y.backward(g)
    fw, fh = (1, 1) if f is None else (f.shape[-1], f.shape[0])
    (ih, iw), (oh, ow) = x.shape[2:], y.shape[2:]
    p = [fw - padding[0] - 1, iw * up[0] - ow * down[0] + padding[0] - up[0] + 1,
         fh - padding[2] - 1, ih * up[1] - oh * down[1] + padding[2] - up[1] + 1]
    transposed = reference.upfirdn2d(g, f, up=down, down=up, padding=p, flip_filter=not flip, gain=3.0)
    torch.testing.assert_close(x.grad, transposed)
    torch.testing.assert_close((y.detach() * g).sum(), (x.detach() * x.grad).sum())


def test_filter_requiring_grad_is_an_error(device):
    x = _x((1, 1, 4, 4), device, requires_grad=True)
    f = torch.ones(2, 2, device=device, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="myops.upfirdn2d: f requires grad, but the filter is not differentiable"):
        myops.upfirdn2d(x, f)
    with pytest.raises(RuntimeError, match="f requires grad"):
        myops.upfirdn2d(x.detach(), f)  # even when x does not require grad
    with torch.no_grad():  # no graph is recorded: nothing to get wrong
        torch.testing.assert_close(myops.upfirdn2d(x, f), reference.upfirdn2d(x.detach(), f.detach()))
    myops.upfirdn2d(x, f.detach()).sum().backward()  # the documented fix
    assert x.grad is not None


# ------------------------------------------------------------------------- upfirdn2d_stacked

@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "stack_inside"])
def test_stacked_output_keeps_each_entrys_memory_format(device, layout):
    """out[s] has the memory format upfirdn2d(x[s], f[s]) would give it (the table's generic
    memory-format check is for 4-D tensors), whatever the stack dim's stride, and the same bits:
    the CPU row path runs a whole stack in one go, each entry's sums as in a call of its own."""
    S, N = 3, 2
    x = _x((S * N, 5, 6, 7), device, torch.float32)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last).view(S, N, 5, 6, 7)
    elif layout == "stack_inside":  # the stack dim between N and C (a vmap dim moved to the front)
        x = x.view(N, S, 5, 6, 7).transpose(0, 1)
    else:
        x = x.view(S, N, 5, 6, 7)
    f = torch.randn(S, 4, 4, device=device)
    out = torch.ops.myops.upfirdn2d_stacked(x, f, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)
    for s in range(S):
        single = torch.ops.myops.upfirdn2d(x[s], f[s], [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)
        assert out[s].stride() == single.stride(), (layout, out[s].stride(), single.stride())
        assert torch.equal(out[s], single), layout
        torch.testing.assert_close(out[s], reference.upfirdn2d(x[s], f[s], [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))


def test_double_backward_through_helpers(device):
    f = myops.setup_filter([1, 3, 3, 1]).to(device)
    x = _x((1, 2, 5, 6), device, requires_grad=True)
    torch.autograd.gradgradcheck(lambda x: myops.downsample2d(myops.upsample2d(x, f) ** 2, f), (x,))


# ------------------------------------------------------------------------------ CPU specifics

def test_inf_stays_local(device):
    """Only the outputs whose taps reach an inf pixel see it (no 0 * inf from skipped zeros)."""
    x = torch.zeros(1, 1, 8, 8, device=device)
    x[0, 0, 4, 4] = float("inf")
    y = myops.upsample2d(x, myops.setup_filter([1, 3, 3, 1]).to(device))
    touched = torch.zeros(16, 16, dtype=torch.bool)
    touched[7:11, 7:11] = True  # outputs 7..10 have a tap on upsampled pixel 8 (padding 2)
    assert torch.isfinite(y[0, 0][~touched.to(device)]).all()
    assert torch.isinf(y[0, 0, 8, 8])


# ------------------------------------------------------------------------------ torch.compile

def _block(x, f):
    """StyleGAN-style resampling: up, a pointwise op, down (bias_act when present)."""
    y = myops.upsample2d(x, f)
    if hasattr(torch.ops.myops, "bias_act"):
        y = torch.ops.myops.bias_act(y)
    else:
        y = myops.muladd(y, y, 0.5)
    return myops.downsample2d(y, f)


def _block_reference(x, f):
    fw = f.shape[-1]
    y = reference.upfirdn2d(x, f, up=2, padding=[(fw + 1) // 2, (fw - 2) // 2] * 2, gain=4)
    if hasattr(torch.ops.myops, "bias_act"):
        y = torch.ops.myops.bias_act(y)
    else:
        y = y * y + 0.5
    return reference.upfirdn2d(y, f, down=2, padding=[(fw - 1) // 2, (fw - 2) // 2] * 2)


@pytest.mark.parametrize("separable", [False, True])
def test_compile_resampling_block_dynamic_no_recompile(device, separable):
    f = myops.setup_filter([1, 3, 3, 1], separable=separable).to(device)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(_block, backend=counter, fullgraph=True, dynamic=True)
    frames = None
    for h, w in ((8, 10), (11, 13), (16, 21)):  # odd and even: the backward's padding varies
        x = _x((2, 3, h, w), device, dtype=torch.float32, requires_grad=True)
        rx = x.detach().clone().requires_grad_()
        out, ref = compiled(x, f), _block_reference(rx, f)
        torch.testing.assert_close(out, ref)
        g = torch.randn_like(ref)
        out.backward(g)
        ref.backward(g)
        torch.testing.assert_close(x.grad, rx.grad)
        frames = frames or counter.frame_count
    assert counter.frame_count == frames, "a new spatial size recompiled the graph"
    assert any("torch.ops.myops.upfirdn2d" in g.code for g in counter.graphs)


def test_compile_inductor_end_to_end(device):
    f = myops.setup_filter([1, 3, 3, 1]).to(device)
    compiled = torch.compile(_block, backend="inductor", fullgraph=True, dynamic=True)
    for h, w in ((8, 10), (11, 13)):
        x = _x((2, 3, h, w), device, dtype=torch.float32, requires_grad=True)
        rx = x.detach().clone().requires_grad_()
        out, ref = compiled(x, f), _block_reference(rx, f)
        torch.testing.assert_close(out, ref)
        out.sum().backward()
        ref.sum().backward()
        torch.testing.assert_close(x.grad, rx.grad)


# ------------------------------------------------------------------------------ TorchScript

def resample(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    y = torch.ops.myops.upfirdn2d(x, f, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)
    return torch.ops.myops.upfirdn2d(y, None, down=[2, 2])


def test_torchscript_script_save_load(tmp_path):
    """Keyword arguments (down=) and defaults in TorchScript, None for the filter."""
    scripted = torch.jit.script(resample)
    assert "myops::upfirdn2d" in str(scripted.graph)
    x, f = torch.randn(1, 2, 5, 6), myops.setup_filter([1, 3, 3, 1])
    want = reference.upfirdn2d(reference.upfirdn2d(x, f, 2, 1, [2, 1, 2, 1], False, 4.0), None, down=2)
    torch.testing.assert_close(scripted(x, f), want)
    (got, _), = run_scripts_in_fresh_process(tmp_path, [(scripted, (x, f))])
    torch.testing.assert_close(got, want)
