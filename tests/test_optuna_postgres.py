"""Many machines: one Optuna study shared through a real PostgreSQL server (pgserver,
started here and stopped at the end), run by the example's separate worker processes,
and the best trial's spec rebuilt from the database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import archspec

optuna = pytest.importorskip("optuna")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "optuna_study.py"


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    pgserver = pytest.importorskip("pgserver", reason="pgserver (the dev extra) is not installed")
    pytest.importorskip("psycopg2", reason="no PostgreSQL driver (psycopg2-binary)")
    # A short path: the server's socket lives in the data folder (sockets allow ~100 chars).
    server = pgserver.get_server(str(tmp_path / "pg"), cleanup_mode="stop")
    server.psql("CREATE DATABASE optuna;")
    try:
        # SQLAlchemy 2.1 takes postgresql:// to mean psycopg 3; the driver here is psycopg2.
        yield server.get_uri("optuna").replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()


@pytest.mark.slow
def test_workers_share_a_study_in_postgres_and_the_best_spec_comes_back(
    postgres_url: str, tmp_path: Path
) -> None:
    from archspec.integrations.optuna import spec_of

    work = tmp_path / "work"
    work.mkdir()
    args = ["--storage", postgres_url, "--trials", "6", "--workers", "3", "--no-progress"]
    small = ["--steps", "1", "--batch", "4", "--size", "8"]
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), *args, *small],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(EXAMPLE.parent.parent)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(work.iterdir()) == []  # the study is in the database, not here
    study = optuna.load_study(study_name="archspec-cifar", storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 6
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers) >= 2  # separate processes ran trials of the one study
    best = spec_of(study.best_trial)
    assert best.arch_id == study.best_trial.user_attrs["arch_id"]
    assert archspec.stats(best).macs == study.best_trial.user_attrs["macs"]
    assert archspec.build(best, seed=0)(__import__("torch").zeros(1, 3, 8, 8)).shape == (1, 10)
