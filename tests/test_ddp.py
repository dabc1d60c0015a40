"""DistributedDataParallel: 2 processes (gloo, CPU, loopback only) train a small model built from
bias_act, upfirdn2d (upsample2d/downsample2d), filtered_lrelu and lltm for 3 SGD steps, each on
its half of the batch; the parameters after training equal single-process training on the
whole batch (float64), and are identical on both ranks.

This module is also the worker: `python tests/test_ddp.py RANK WORLD_SIZE PORT OUT_DIR`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

import myops
from helpers import exit_worker, free_port

WORLD_SIZE = 2
STEPS = 3
BATCH = 4            # the whole batch; each rank gets BATCH // WORLD_SIZE
LR = 0.05
DTYPE = torch.float64
TIMEOUT_S = 60


class Net(torch.nn.Module):
    """conv -> bias_act(lrelu) -> upsample2d -> filtered_lrelu(up 2, down 2, bias) ->
    downsample2d -> flatten -> lltm (one step from a zero state) -> linear head."""

    def __init__(self, channels=3, size=8, state=6):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, channels, 3, padding=1)
        self.b1 = torch.nn.Parameter(torch.randn(channels) * 0.1)
        self.b2 = torch.nn.Parameter(torch.randn(channels) * 0.1)
        self.register_buffer("f", myops.setup_filter([1, 3, 3, 1]))
        self.register_buffer("fu", myops.setup_filter([1, 3, 3, 1], separable=True))
        self.register_buffer("fd", myops.setup_filter([1, 3, 3, 1], separable=True))
        features = channels * (size // 2) ** 2
        k = state + features
        self.weights = torch.nn.Parameter(torch.randn(3 * state, k) / k ** 0.5)
        self.bias = torch.nn.Parameter(torch.randn(3 * state) * 0.1)
        self.head = torch.nn.Linear(2 * state, 1)
        self.state = state

    def forward(self, x):
        x = myops.bias_act(self.conv(x), self.b1, act="lrelu")                 # [N, C, 8, 8]
        x = myops.upsample2d(x, self.f)                                        # [N, C, 16, 16]
        x = myops.filtered_lrelu(x, self.fu, self.fd, self.b2, up=2, down=2,
                                 padding=3, clamp=64)                        # [N, C, 16, 16]
        x = myops.downsample2d(x, self.f, down=4)                              # [N, C, 4, 4]
        x = x.flatten(1)
        zeros = x.new_zeros(x.shape[0], self.state)
        h, cell = myops.lltm(x, self.weights, self.bias, zeros, zeros)
        return self.head(torch.cat([h, cell], 1)).squeeze(1)


def make_model_and_data():
    torch.manual_seed(0)
    model = Net().to(DTYPE)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 2, 8, 8, generator=gen, dtype=DTYPE)
    y = torch.randn(STEPS, BATCH, generator=gen, dtype=DTYPE)
    return model, x, y


def train(model, x, y, rank=0, world_size=1):
    """STEPS of SGD on the rank's slice of each step's batch (mean squared error: DDP averages
    the ranks' gradients, so the mean over halves is the mean over the whole batch)."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    per_rank = BATCH // world_size
    losses = []
    for step in range(STEPS):
        xs = x[step, rank * per_rank:(rank + 1) * per_rank]
        ys = y[step, rank * per_rank:(rank + 1) * per_rank]
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _parameters(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def worker(rank, world_size, port, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)  # two processes on a small machine
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=__import__("datetime").timedelta(seconds=TIMEOUT_S))
    try:
        model, x, y = make_model_and_data()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        losses = train(ddp, x, y, rank, world_size)
        torch.save({"params": _parameters(model), "losses": losses}, Path(out_dir) / f"rank{rank}.pt")
        print(f"rank {rank}: trained and saved", flush=True)
        dist.barrier()
        print(f"rank {rank}: past the barrier", flush=True)
    finally:
        dist.destroy_process_group()
    print(f"rank {rank}: process group destroyed", flush=True)


# ---------------------------------------------------------------------------------- the test

def _gloo_unavailable():
    import torch.distributed as dist
    if not dist.is_available():
        return "torch.distributed is not available in this torch build"
    if not dist.is_gloo_available():
        return "torch.distributed has no gloo backend in this torch build"
    return None


def test_ddp_two_processes_equal_single_process(tmp_path):
    import pytest

    reason = _gloo_unavailable()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(Path(myops.__file__).parent.parent),
                                                      os.environ.get("PYTHONPATH")) if p)}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only
    port = free_port()
    env["MASTER_PORT"] = str(port)
    procs = [subprocess.Popen([sys.executable, __file__, str(rank), str(WORLD_SIZE), str(port), str(tmp_path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(WORLD_SIZE)]
    deadline = time.monotonic() + TIMEOUT_S
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append(out)
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        logs = [p.communicate()[0] for p in procs]
        pytest.fail(f"the DDP workers did not finish in {TIMEOUT_S}s:\n" + "\n".join(logs))
    for rank, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank} exited with {p.returncode}:\n{out}"

    model, x, y = make_model_and_data()
    before = _parameters(model)
    losses = train(model, x, y)
    expected = _parameters(model)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD_SIZE)]
    for name, want in expected.items():
        assert not torch.equal(want, before[name]), f"{name} did not train"
        for r, result in enumerate(ranks):
            got = result["params"][name]
            assert got.dtype == DTYPE
            torch.testing.assert_close(got, want, msg=lambda m: f"rank {r}, {name}: {m}")
            # DDP keeps the replicas in sync: the same bits on every rank.
            assert torch.equal(got, ranks[0]["params"][name]), f"{name} differs between ranks"
    # Each rank's loss is over its half; their mean is the whole batch's loss.
    for step in range(STEPS):
        torch.testing.assert_close(sum(r["losses"][step] for r in ranks) / WORLD_SIZE, losses[step])


if __name__ == "__main__":
    rank, world_size, port, out_dir = sys.argv[1:]
    worker(int(rank), int(world_size), int(port), out_dir)
    # (the markers printed above say where, if the abort at teardown comes back)
    exit_worker()
