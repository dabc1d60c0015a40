"""DTensor: every op on a 2-rank CPU mesh (gloo, two spawned processes, loopback only), with the
sharding rules myops registers (python/myops/_dtensor.py): each output has the placement the
rule promises (the input's sharding kept), its full value equals the op on the whole tensors in
one process (float64), and CommDebugMode counts no collective during the op call. One spawn runs
every case; plus the backward of bias_act and lltm through DTensor (C++ autograd formulas
calling the backward ops on DTensors).

This module is also the worker: `python tests/test_dtensor.py RANK WORLD_SIZE PORT OUT_DIR`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

import myops
from helpers import exit_worker, free_port

WORLD_SIZE = 2
TIMEOUT_S = 180
DTYPE = torch.float64


def cases():
    """(name, op, args, placements of the tensor args (None: a plain non-tensor argument),
    expected output placements). Tensor shapes divide evenly by 2 along every sharded dim."""
    from torch.distributed.tensor import Partial, Replicate, Shard
    R, S0, S1, S2 = Replicate(), Shard(0), Shard(1), Shard(2)
    gen = torch.Generator().manual_seed(0)
    t = lambda *shape: torch.randn(*shape, generator=gen, dtype=DTYPE)  # noqa: E731
    ops = torch.ops.myops
    f4 = myops.setup_filter([1, 3, 3, 1]).to(DTYPE)
    fs = myops.setup_filter([1, 3, 3, 1], separable=True).to(DTYPE)
    B, F, S = 4, 6, 4
    lltm_args = (t(B, F), t(3 * S, S + F) / 3, t(3 * S), t(B, S), t(B, S))
    lltm_place = (S0, R, R, S0, S0)
    _, new_cell, gates, X = ops.lltm_forward(*lltm_args)
    pre_gates = t(B, 3 * S)
    up_x = t(4, 6, 8, 8)
    fl = (fs, fs, t(6), 2, 2, [2, 1, 2, 1], 2 ** 0.5, 0.2, 64.0, False)
    fl_grad = t(*ops.filtered_lrelu(up_x, *fl).shape)
    return [
        ("mul_rows", ops.mul.default, (t(4, 6), t(6)), (S0, R), [S0]),
        ("add_cols", ops.add.default, (t(4, 6), t(6)), (S1, S0), [S1]),
        ("muladd_broadcast", ops.muladd.default, (t(2, 4, 6), t(4, 1), 0.5), (S1, S0, None), [S1]),
        ("add_out_rows", ops.add_out.default, (t(4, 6), t(6), torch.empty(4, 6, dtype=DTYPE)), (S0, R, S0), []),
        ("bias_act_channels", ops.bias_act.default, (t(4, 6, 5), t(6), 1, "lrelu", None, None, 1.0), (S1, S0), [S1]),
        ("bias_act_batch", ops.bias_act.default, (t(4, 6, 5), t(6), 1, "swish"), (S0, R), [S0]),
        ("bias_act_nobias", ops.bias_act.default, (t(4, 6, 4), None, 1, "tanh"), (S2, None), [S2]),
        ("bias_act_backward_channels", ops.bias_act_backward.default,
         (t(4, 6, 5), t(4, 6, 5), t(6), 1, "elu", None, None, None, 2), (S1, S1, S0), [S1]),
        ("upfirdn2d_batch", ops.upfirdn2d.default, (up_x, f4, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0), (S0, R), [S0]),
        ("upfirdn2d_channels", ops.upfirdn2d.default, (up_x, fs, [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0), (S1, R), [S1]),
        ("upfirdn2d_stacked_stack", ops.upfirdn2d_stacked.default,
         (t(2, *up_x.shape), torch.stack([f4, f4 * 2]), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0), (S0, S0), [S0]),
        ("upfirdn2d_stacked_channels", ops.upfirdn2d_stacked.default,
         (t(2, *up_x.shape), torch.stack([fs, -fs]), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0), (S2, R), [S2]),
        ("filtered_lrelu_batch", ops.filtered_lrelu.default, (up_x, *fl), (S0, R, R, R), [S0]),
        ("filtered_lrelu_channels", ops.filtered_lrelu.default, (up_x, *fl), (S1, R, R, S0), [S1]),
        ("filtered_lrelu_backward_channels", ops.filtered_lrelu_backward.default, (fl_grad, up_x, *fl),
         (S1, S1, R, R, S0), [S1]),
        ("lltm_batch", ops.lltm.default, lltm_args, lltm_place, [S0, S0]),
        ("lltm_forward_batch", ops.lltm_forward.default, lltm_args, lltm_place, [S0] * 4),
        ("lltm_backward_batch", ops.lltm_backward.default, (t(B, S), t(B, S), new_cell, gates, X, lltm_args[1]),
         (S0, S0, S0, S0, S0, R), [S0, Partial(), Partial(), S0, S0]),
        ("lltm_gates_backward_batch", ops.lltm_gates_backward.default, (t(B, S), t(B, S), new_cell, gates),
         (S0,) * 4, [S0, S0]),
        ("lltm_cell_batch", ops.lltm_cell.default, (pre_gates, t(B, S)), (S0, S0), [S0, S0]),
        ("lltm_cell_backward_batch", ops.lltm_cell_backward.default, (t(B, S), t(B, S), pre_gates, t(B, S)),
         (S0,) * 4, [S0, S0]),
        ("lltm_cell_double_backward_batch", ops.lltm_cell_double_backward.default,
         (t(B, 3 * S), t(B, S), t(B, S), t(B, S), pre_gates, t(B, S)), (S0,) * 6, [S0] * 4),
    ]


def _as_list(result):
    return [] if result is None else list(result) if isinstance(result, (tuple, list)) else [result]


def run_case(mesh, name, op, args, placements, want_placements):
    from torch.distributed.tensor import distribute_tensor
    from torch.distributed.tensor.debug import CommDebugMode

    # placements[i] is args[i]'s (the tensors come first in every schema).
    dargs = [distribute_tensor(a.clone(), mesh, [placements[i]])
             if i < len(placements) and placements[i] is not None and isinstance(a, torch.Tensor) else a
             for i, a in enumerate(args)]
    full_args = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    expected = _as_list(op(*full_args))
    with CommDebugMode() as comm:
        got = _as_list(op(*dargs))
    assert comm.get_total_counts() == 0, f"{comm.get_total_counts()} collectives: {comm.get_comm_counts()}"
    if op is torch.ops.myops.add_out.default:  # the result is `out`, written in place
        got, expected = [dargs[2]], [full_args[2]]
        want_placements = [placements[2]]
    assert len(got) == len(expected) == len(want_placements)
    for i, (g, w, place) in enumerate(zip(got, expected, want_placements)):
        assert tuple(g.placements) == (place,), f"output {i}: placements {g.placements}, want {place}"
        torch.testing.assert_close(g.full_tensor(), w, msg=lambda m: f"output {i}: {m}")


def run_backward(mesh):
    """bias_act (channels sharded, b sharded) and lltm (batch sharded): gradients of a DTensor
    input equal the single-process ones (collectives allowed: the loss sums over ranks)."""
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    gen = torch.Generator().manual_seed(1)
    t = lambda *shape: torch.randn(*shape, generator=gen, dtype=DTYPE)  # noqa: E731
    x, b, g = t(4, 6, 5), t(6), t(4, 6, 5)
    xs = [x.clone().requires_grad_(), b.clone().requires_grad_()]
    torch.ops.myops.bias_act(xs[0], xs[1], 1, "swish").backward(g)
    dx = distribute_tensor(x, mesh, [Shard(1)]).requires_grad_()
    db = distribute_tensor(b, mesh, [Shard(0)]).requires_grad_()
    torch.ops.myops.bias_act(dx, db, 1, "swish").backward(distribute_tensor(g, mesh, [Shard(1)]))
    torch.testing.assert_close(dx.grad.full_tensor(), xs[0].grad)
    torch.testing.assert_close(db.grad.full_tensor(), xs[1].grad)

    B, F, S = 4, 6, 4
    args = [t(B, F), t(3 * S, S + F) / 3, t(3 * S), t(B, S), t(B, S)]
    plain = [a.clone().requires_grad_() for a in args]
    gh, gc = t(B, S), t(B, S)
    torch.autograd.backward(torch.ops.myops.lltm(*plain), [gh, gc])
    place = [Shard(0), Replicate(), Replicate(), Shard(0), Shard(0)]
    dist_args = [distribute_tensor(a, mesh, [p]).requires_grad_() for a, p in zip(args, place)]
    outs = torch.ops.myops.lltm(*dist_args)
    torch.autograd.backward(outs, [distribute_tensor(gh, mesh, [Shard(0)]), distribute_tensor(gc, mesh, [Shard(0)])])
    for d, p in zip(dist_args, plain):
        torch.testing.assert_close(d.grad.full_tensor(), p.grad)


def worker(rank, world_size, port, out_dir):
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=__import__("datetime").timedelta(seconds=TIMEOUT_S))
    results = {}
    try:
        mesh = init_device_mesh("cpu", (world_size,))
        for name, op, args, placements, want in cases():
            try:
                run_case(mesh, name, op, args, placements, want)
                results[name] = "ok"
            except Exception:
                results[name] = traceback.format_exc()
        try:
            run_backward(mesh)
            results["backward"] = "ok"
        except Exception:
            results["backward"] = traceback.format_exc()
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(results))
        dist.barrier()
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------- the test

def test_dtensor_sharding_rules_two_ranks(tmp_path):
    import pytest
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available in this torch build")
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(Path(myops.__file__).parent.parent),
                                                      os.environ.get("PYTHONPATH")) if p)}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"
    port = free_port()
    procs = [subprocess.Popen([sys.executable, __file__, str(rank), str(WORLD_SIZE), str(port), str(tmp_path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(WORLD_SIZE)]
    deadline = time.monotonic() + TIMEOUT_S
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"the DTensor workers did not finish in {TIMEOUT_S}s:\n" +
                    "\n".join(p.communicate()[0] for p in procs))
    for rank, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank} exited with {p.returncode}:\n{out}"
    names = [c[0] for c in _case_names()] + ["backward"]
    for rank in range(WORLD_SIZE):
        results = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert sorted(results) == sorted(names)
        failed = {k: v for k, v in results.items() if v != "ok"}
        assert not failed, f"rank {rank}:\n" + "\n".join(f"--- {k}\n{v}" for k, v in failed.items())


def _case_names():
    """The case names (building the cases needs torch.distributed.tensor's placements)."""
    return [(c[0],) for c in cases()]


def test_every_op_has_a_case():
    """Every op of the library is covered by a case (and so has a sharding rule)."""
    covered = {c[1].name() for c in cases()}
    names = {n for n in torch._C._dispatch_get_all_op_names() if n.startswith("myops::")}
    assert len(names) >= 14 and names <= covered, names - covered


def test_rules_registered_lazily():
    """import myops does not import torch.distributed.tensor (seconds of import time); the rules
    are registered once it is imported, before or after myops."""
    import pytest
    from helpers import run_python

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    after = run_python("""
        import sys, myops
        assert "torch.distributed.tensor" not in sys.modules, "import myops imported DTensor"
        assert not myops._dtensor._registered
        import torch.distributed.tensor
        assert myops._dtensor._registered
    """)
    assert after.returncode == 0, after.stderr
    before = run_python("""
        import torch.distributed.tensor, myops
        assert myops._dtensor._registered
    """)
    assert before.returncode == 0, before.stderr


if __name__ == "__main__":
    rank, world_size, port, out_dir = sys.argv[1:]
    worker(int(rank), int(world_size), int(port), out_dir)
    exit_worker()
