"""A built model trains under DistributedDataParallel: gloo, two processes on the CPU,
each rank with its own data, and both end with the same weights."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import archspec

WORLD = 2
STEPS = 3
SPEC = {"input.size": 16}  # resnet20 at 16x16


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(rank: int, port: int, out: Path) -> None:
    """One rank: build the same model, train on this rank's own batches, save weights."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = archspec.build("resnet20", seed=0, overrides=SPEC)
        ddp = DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        data = torch.Generator().manual_seed(1000 + rank)  # different data on each rank
        for _ in range(STEPS):
            x = torch.randn(4, 3, 16, 16, generator=data)
            y = torch.randint(0, 10, (4,), generator=data)
            loss = F.cross_entropy(ddp(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.save({k: v.detach() for k, v in model.named_parameters()}, out / f"{rank}.pt")
        # Both ranks done before either tears gloo down: a rank leaving while the other
        # still talks to it aborts the other at exit.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_two_ranks_end_with_the_same_weights(tmp_path: Path) -> None:
    mp.spawn(train, args=(free_port(), tmp_path), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(WORLD)]
    initial = dict(archspec.build("resnet20", seed=0, overrides=SPEC).named_parameters())
    assert ranks[0].keys() == ranks[1].keys() == initial.keys()
    for name in initial:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    # and training did move them (the ranks saw different data: without the gradient
    # all-reduce they would have drifted apart)
    moved = [n for n in initial if not torch.equal(ranks[0][n], initial[n].detach())]
    assert len(moved) == len(initial)
