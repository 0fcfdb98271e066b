"""Analytic stats of many specs at once, over a pool of worker processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from archspec.arguments import MAX_WORKERS, check_int
from archspec.errors import ArchSpecError, shown
from archspec.graph.stats import Stats, graph_stats
from archspec.lowering import lower
from archspec.progress import bar
from archspec.spec.load import load
from archspec.spec.model import ArchSpec

SpecLike = str | Path | ArchSpec
# Below this many specs per worker, starting the workers costs more than they save.
MIN_SPECS_PER_WORKER = 64


def _one(spec: SpecLike) -> Stats | ArchSpecError:
    try:
        return graph_stats(lower(load(spec)))
    except ArchSpecError as err:
        return err


def _chunk(specs: Sequence[SpecLike]) -> list[Stats | ArchSpecError]:
    return [_one(s) for s in specs]


def stats_many(
    specs: Iterable[SpecLike],
    *,
    workers: int | None = None,
    context: str = "spawn",
    progress: bool | None = None,
) -> list[Stats | ArchSpecError]:
    """:func:`archspec.stats` of each spec (an ArchSpec, a preset name or a path), in
    input order. A spec that fails gives its :class:`~archspec.ArchSpecError` in its
    place instead of stopping the others: check with ``isinstance(r, archspec.Stats)``.

    ``workers`` processes share the work (default: every CPU; ``1`` runs in this
    process; fewer are used when each would get under 64 specs, as starting a worker
    costs more than counting that many). They start with ``context`` (``spawn`` by
    default, safe in any parent, threads or not), so call this under
    ``if __name__ == "__main__":`` in scripts, as with any spawned pool. A progress bar
    of the specs counted shows on stderr if it takes over a second (``progress``: see
    :mod:`archspec.progress`).

    Example::

        specs = archspec.sample("resnet50", space, n=10_000, seed=0)
        results = archspec.stats_many(specs, workers=8)
        best = min((r for r in results if isinstance(r, archspec.Stats)), key=lambda r: r.macs)
    """
    if isinstance(specs, str | bytes | Path | ArchSpec) or not isinstance(specs, Iterable):
        raise ArchSpecError(
            f"specs is an iterable of specs (names, paths, ArchSpecs), got {shown(specs)}"
            + (" (put it in a list)" if isinstance(specs, str | Path | ArchSpec) else "")
        )
    items = list(specs)
    if workers is None:
        workers = os.cpu_count() or 1
    check_int("workers", workers, 1, MAX_WORKERS)
    if context not in multiprocessing.get_all_start_methods():
        methods = ", ".join(multiprocessing.get_all_start_methods())
        raise ArchSpecError(f"context must be one of {methods}, got {shown(context)}")
    workers = min(workers, max(1, len(items) // MIN_SPECS_PER_WORKER))
    with bar("counting specs", total=len(items), progress=progress) as advance:
        if workers == 1:
            results = []
            for item in items:
                results.append(_one(item))
                advance()
            return results
        # A few chunks per worker: big enough that pickling is a small share, small enough
        # that a worker that gets the deep specs does not leave the others idle.
        size = -(-len(items) // (workers * 4))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(context))
        with pool:
            futures = [pool.submit(_chunk, chunk) for chunk in chunks]
            for future in as_completed(futures):
                advance(len(future.result()))
            # In input order, whatever order the chunks finished in.
            return [r for future in futures for r in future.result()]
