"""An Optuna study over a space of CIFAR-style ResNets, run by several processes that
share one Optuna storage.

Each trial draws a spec from the space (skips or none, depth, activation, ...), refuses
it at once if its analytic MAC count (archspec.stats, no weights) is over budget, and
otherwise builds it and trains it for a few steps on a small synthetic classification
task; the objective is the loss on held-out samples of the same task.

One machine, four processes sharing a journal file in a temporary folder (removed at
the end: nothing is written where it runs), with a progress bar of the finished trials:

    python examples/optuna_study.py --trials 40 --workers 4

To keep the study, give a storage: a journal file path or a database URL:

    python examples/optuna_study.py --storage study.log --trials 40 --workers 4

Many machines: give each the same storage and study name, and start as many workers on
each as it has cores. A journal file works where the machines share a file system; a
database URL works anywhere they can reach it (SQLite only on one machine):

    python examples/optuna_study.py --storage postgresql://user@host/optuna --workers 8

Every worker stops once the study holds ``--trials`` finished trials, whoever ran them.
Each trial records its whole spec (``archspec.integrations.optuna.record_spec``), so
``spec_of(study.best_trial)`` rebuilds the best one from the storage.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna
import torch
import torch.nn.functional as F
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

import archspec
from archspec.integrations.optuna import record_spec, spec_of, suggest, watch
from archspec.sweep import Choice, FloatRange, IntRange

BASE = "resnet20"
SPACE: dict[Any, Any] = {
    "defaults.skip": ["identity", "none"],
    # n blocks in each of the three stages, as in He et al. 2015 (6n + 2 layers)
    ("stages.0.depth", "stages.1.depth", "stages.2.depth"): IntRange(1, 6),
    "defaults.act": ["relu", "silu"],
    "defaults.zero_init_last": [False, True],
    "stem": Choice(["cifar", {"type": "cifar", "width": 8}]),
    "head.dropout": FloatRange(0.0, 0.3),
}
CLASSES = 10


def storage_of(where: str) -> BaseStorage:
    """A database URL (``sqlite:///study.db``, ``postgresql://...``) or a journal file."""
    if where.startswith("sqlite:"):
        # SQLite serializes writers; a generous lock timeout keeps busy workers waiting
        # instead of failing.
        return RDBStorage(where, engine_kwargs={"connect_args": {"timeout": 60}})
    if "://" in where:
        return RDBStorage(where)
    return JournalStorage(JournalFileBackend(where))


def synthetic_task(size: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of one fixed task: each class is a smooth pattern under noise,
    learnable but not in one step. Every worker sees the same task; ``seed`` picks the
    samples (training and held-out sets use different seeds)."""
    task = torch.Generator().manual_seed(0)
    patterns = F.avg_pool2d(
        torch.randn(CLASSES, 3, size, size, generator=task), 5, stride=1, padding=2
    )
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=gen)
    images = 2.0 * patterns[labels] + torch.randn(n, 3, size, size, generator=gen)
    return images, labels


def objective(trial: optuna.Trial, args: argparse.Namespace) -> float:
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    try:
        spec = suggest(
            trial,
            SPACE,
            base=archspec.load(BASE).override({"input.size": args.size, "head.classes": CLASSES}),
        )
        stats = archspec.stats(spec)
    except archspec.ArchSpecError as err:  # a point the spec language refuses
        trial.set_user_attr("error", str(err))
        raise optuna.TrialPruned() from None
    record_spec(trial, spec)  # its YAML and arch_id, for spec_of(trial) later
    trial.set_user_attr("params", stats.params)
    trial.set_user_attr("macs", stats.macs)
    if stats.macs > args.max_macs:  # too costly: known before any weight exists
        raise optuna.TrialPruned()

    train_x, train_y = synthetic_task(args.size, args.batch * args.steps, seed=1)
    test_x, test_y = synthetic_task(args.size, 256, seed=2)
    model = archspec.build(spec, seed=trial.number)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(args.steps):
        batch = slice(step * args.batch, (step + 1) * args.batch)
        loss = F.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(test_x), test_y))


def work(args: argparse.Namespace) -> None:
    """One worker: run trials until the study holds ``args.trials`` finished ones."""
    torch.set_num_threads(1)  # one core per worker; start as many workers as cores
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=args.study, storage=storage_of(args.storage))
    done = MaxTrialsCallback(args.trials, states=(TrialState.COMPLETE, TrialState.PRUNED))
    study.optimize(lambda t: objective(t, args), callbacks=[done])


def report(study: optuna.Study) -> None:
    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    workers = {t.user_attrs.get("worker") for t in study.trials}
    print(f"{len(finished)} trials complete, {pruned} pruned, by {len(workers)} workers")
    print(f"{'loss':>8} {'params':>9} {'MACs':>11}  arch_id           settings")
    for t in sorted(finished, key=lambda t: t.value)[:10]:
        a = t.user_attrs
        settings = ", ".join(f"{k}={v}" for k, v in t.params.items())
        print(f"{t.value:8.4f} {a['params']:9,} {a['macs']:11,}  {a['arch_id']}  {settings}")
    if finished:
        best = spec_of(study.best_trial)  # rebuilt from the storage, validated again
        print(f"best: {best.name} {best.arch_id}, {archspec.stats(best).params:,} params")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--storage",
        help="journal file or database URL (default: a temporary journal, removed at the end)",
    )
    parser.add_argument("--study", default="archspec-cifar", help="study name")
    parser.add_argument("--trials", type=int, default=40, help="finished trials to reach")
    parser.add_argument("--workers", type=int, default=2, help="processes to start here")
    parser.add_argument("--steps", type=int, default=30, help="training steps per trial")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=16, help="input size (pixels)")
    parser.add_argument("--max-macs", type=int, default=20_000_000, help="MAC budget")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (as ARCHSPEC_PROGRESS=0)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work(args)
        return
    if args.storage is not None:
        run(args, args.storage)
        return
    # Nothing written where the example runs unless asked: the journal lives in a
    # temporary folder for the length of the run.
    with tempfile.TemporaryDirectory(prefix="archspec-optuna-") as folder:
        run(args, str(Path(folder) / "study.log"))


def run(args: argparse.Namespace, storage: str) -> None:
    """Create (or join) the study, start the workers, show their progress, report."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=args.study,
        storage=storage_of(storage),
        direction="minimize",
        load_if_exists=True,
    )
    print(
        f"study {args.study}: {args.trials} trials in {args.workers} worker processes, "
        f"storage {storage if args.storage else 'a temporary journal'}",
        file=sys.stderr,
    )
    # Separate processes, each loading the study from the storage: exactly what a worker
    # on another machine does.
    command = [sys.executable, __file__, *sys.argv[1:], "--worker", "--storage", storage]
    procs = [subprocess.Popen(command) for _ in range(args.workers)]
    try:
        watch(
            study,
            args.trials,
            until=lambda: all(p.poll() is not None for p in procs),
            progress=False if args.no_progress else None,
        )
    finally:
        codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"a worker failed (exit codes {codes})")
    report(study)


if __name__ == "__main__":
    main()
