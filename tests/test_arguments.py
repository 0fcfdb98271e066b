"""Every public function (everything in ``archspec.__all__``) given wrong types and absurd
values: an ArchSpecError subclass, quickly, and nothing else ever escapes. One registry
drives them all; a public name missing from it fails the test, so a new function is
covered the day it is exported. The command line's own numbers are checked at the end."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import assert_clean_failure, run_cli, write_file

import archspec
from archspec.checkpoint import FORMAT, VERSION
from archspec.errors import ArchSpecError

SPEC = "resnet20"
BAD_SPECS: list[Any] = [None, 5, 1.5, b"resnet20", "x" * 5000, "a\0b", object(), ["resnet20"], ""]
BAD_OVERRIDES: list[Any] = [5, "stages.0.depth=2", {5: 1}, {"stages.0.depth": object()}, [5]]
BAD_SEEDS: list[Any] = [2**70, -(2**64), 1.5, "0", True, [0]]
BAD_DEVICES: list[Any] = ["nonsense", 5, "cuda:99", "cpu:x", object()]


@dataclass
class Context:
    tmp: Path
    model: torch.nn.Module

    def record(self, name: str, **fields: Any) -> Path:
        """A checkpoint file whose record has ``fields`` over a good one's."""
        good = {
            "format": FORMAT,
            "version": VERSION,
            "archspec": "0.1.0",
            "spec": archspec.load(SPEC).to_yaml(),
            "arch_id": archspec.load(SPEC).arch_id,
            "seed": 0,
            "state_dict": self.model.state_dict(),
        }
        record = {k: v for k, v in {**good, **fields}.items() if v is not MISSING}
        path = self.tmp / f"{name}.pt"
        torch.save(record, path)
        return path


MISSING = object()
Case = Callable[[Context], Any]


def spec_cases(call: Callable[[Any], Any]) -> list[tuple[str, Case]]:
    return [(f"spec={v!r:.20}", lambda c, v=v: call(v)) for v in BAD_SPECS]


def override_cases(call: Callable[..., Any]) -> list[tuple[str, Case]]:
    return [(f"overrides={v!r:.30}", lambda c, v=v: call(SPEC, overrides=v)) for v in BAD_OVERRIDES]


A = archspec
REGISTRY: dict[str, list[tuple[str, Case]]] = {
    "load": [*spec_cases(A.load), *override_cases(A.load)],
    "lower": [*spec_cases(A.lower), *override_cases(A.lower)],
    "stats": [*spec_cases(A.stats), *override_cases(A.stats)],
    "emit_python": [*spec_cases(A.emit_python), *override_cases(A.emit_python)],
    "build": [
        *spec_cases(A.build),
        *override_cases(A.build),
        *[(f"seed={v!r:.20}", lambda c, v=v: A.build(SPEC, seed=v)) for v in BAD_SEEDS],
        *[(f"device={v!r:.20}", lambda c, v=v: A.build(SPEC, device=v)) for v in BAD_DEVICES],
        *[
            (f"dtype={v!r}", lambda c, v=v: A.build(SPEC, dtype=v))
            for v in [torch.int8, torch.bool, torch.complex64, "float32", 5]
        ],
        *[
            (f"features={v!r:.20}", lambda c, v=v: A.build(SPEC, features=v))
            for v in ["layer1", 5, ["layer9"], [1, 2], {"layer1": 1}, ["layer 1"]]
        ],
    ],
    "summary": [
        *spec_cases(A.summary),
        *override_cases(A.summary),
        *[
            (f"input_size={v!r:.30}", lambda c, v=v: A.summary(SPEC, input_size=v))
            for v in [
                ("a", 3, 32, 32),
                (3, 32),
                (0, 3, 32, 32),
                (10**20, 3, 32, 32),
                (1, 3, 10**6, 32),
                (1.5, 3, 32, 32),
                "1x3x32x32",
                5,
            ]
        ],
        *[(f"depth={v!r}", lambda c, v=v: A.summary(SPEC, depth=v)) for v in [-1, 10**9, "3", 1.5]],
    ],
    "render": [
        *spec_cases(lambda s: A.render(s, "/tmp/never-written.svg")),
        *[
            (f"path={v!r:.20}", lambda c, v=v: A.render(SPEC, v))
            for v in [None, 5, b"x.svg", "", "x.jpg", "x" * 5000 + ".svg"]
        ],
        ("path=a directory", lambda c: A.render(SPEC, c.tmp / "adir.svg")),
        ("path=the spec itself", lambda c: A.render(c.tmp / "spec.dot", c.tmp / "spec.dot")),
        *[
            (f"detail={v!r}", lambda c, v=v: A.render(SPEC, c.tmp / "x.svg", detail=v))
            for v in [5, "all"]
        ],
    ],
    "save_checkpoint": [
        *spec_cases(lambda s: A.save_checkpoint(archspec.build(SPEC), s, "/tmp/never.pt")),
        *[
            (f"model={v!r:.20}", lambda c, v=v: A.save_checkpoint(v, SPEC, c.tmp / "m.pt"))
            for v in [None, "resnet20", {}]
        ],
        (
            "model on meta",
            lambda c: A.save_checkpoint(A.build(SPEC, device="meta"), SPEC, c.tmp / "m.pt"),
        ),
        ("model of another spec", lambda c: A.save_checkpoint(c.model, "resnet32", c.tmp / "m.pt")),
        ("path=a directory", lambda c: A.save_checkpoint(c.model, SPEC, c.tmp / "adir.svg")),
        ("path=None", lambda c: A.save_checkpoint(c.model, SPEC, None)),
        *[
            (
                f"seed={v!r:.20}",
                lambda c, v=v: A.save_checkpoint(c.model, SPEC, c.tmp / "m.pt", seed=v),
            )
            for v in BAD_SEEDS
        ],
    ],
    "export": [
        *spec_cases(lambda s: A.export(s, "/tmp/never.pt")),
        *override_cases(lambda s, overrides: A.export(s, "/tmp/never.pt", overrides=overrides)),
        *[(f"path={v!r:.20}", lambda c, v=v: A.export(SPEC, v)) for v in [None, 5, "", "m.xyz"]],
        *[
            (f"seed={v!r:.20}", lambda c, v=v: A.export(SPEC, c.tmp / "m.pt", seed=v))
            for v in BAD_SEEDS
        ],
        ("model=5", lambda c: A.export(SPEC, c.tmp / "m.pt", model=5)),
        ("model of another spec", lambda c: A.export("resnet32", c.tmp / "m.pt", model=c.model)),
    ],
    "save_pretrained": [
        *spec_cases(lambda s: A.save_pretrained(archspec.build(SPEC), "/tmp/never_dir", s)),
        *[
            (f"model={v!r:.20}", lambda c, v=v: A.save_pretrained(v, c.tmp / "d", SPEC))
            for v in [None, "resnet20", {}]
        ],
        ("no spec", lambda c: A.save_pretrained(archspec.build(SPEC), c.tmp / "d")),
        ("directory=None", lambda c: A.save_pretrained(c.model, None, SPEC)),
        ("directory=a file", lambda c: A.save_pretrained(c.model, c.tmp / "spec.dot", SPEC)),
        (
            "directory in no directory",
            lambda c: A.save_pretrained(c.model, c.tmp / "no" / "d", SPEC),
        ),
        *[
            (
                f"seed={v!r:.20}",
                lambda c, v=v: A.save_pretrained(c.model, c.tmp / "d", SPEC, seed=v),
            )
            for v in BAD_SEEDS
        ],
    ],
    "from_pretrained": [
        *[
            (f"directory={v!r:.20}", lambda c, v=v: A.from_pretrained(v))
            for v in [None, 5, "", "x" * 5000, "org/model"]
        ],
        ("a file", lambda c: A.from_pretrained(c.tmp / "spec.dot")),
        (
            "an empty directory",
            lambda c: (c.tmp.joinpath("empty").mkdir(), A.from_pretrained(c.tmp / "empty")),
        ),
        *[
            (f"device={v!r:.20}", lambda c, v=v: A.from_pretrained(c.tmp, device=v))
            for v in BAD_DEVICES
        ],
    ],
    "load_checkpoint": [
        *[
            (f"path={v!r:.20}", lambda c, v=v: A.load_checkpoint(v))
            for v in [None, 5, "x" * 5000, "/nonexistent.pt", "", b"x.pt"]
        ],
        ("path=a directory", lambda c: A.load_checkpoint(c.tmp / "adir.svg")),
        ("an empty file", lambda c: A.load_checkpoint(write_file(c.tmp / "e.pt", b""))),
        ("random bytes", lambda c: A.load_checkpoint(write_file(c.tmp / "r.pt", os.urandom(4096)))),
        ("a spec file", lambda c: A.load_checkpoint(c.tmp / "spec.dot")),
        (
            "not a dict",
            lambda c: (torch.save([1, 2], c.tmp / "l.pt"), A.load_checkpoint(c.tmp / "l.pt")),
        ),
        *[
            (
                f"record {k}={v!r:.20}",
                lambda c, k=k, v=v, i=i: A.load_checkpoint(c.record(f"{k}-{i}", **{k: v})),
            )
            for i, (k, v) in enumerate(
                [
                    ("spec", MISSING),
                    ("spec", 5),
                    ("spec", {"name": "x"}),
                    ("spec", "extends: /etc/passwd\nname: x\n"),
                    ("spec", "[1, 2]"),
                    ("arch_id", MISSING),
                    ("arch_id", None),
                    ("arch_id", "0" * 16),
                    ("state_dict", MISSING),
                    ("state_dict", [1, 2]),
                    ("state_dict", {"conv1.weight": 1}),
                    ("state_dict", {1: torch.zeros(1)}),
                    ("state_dict", {}),
                    ("state_dict", {"conv1.weight": torch.zeros(1)}),
                    ("seed", "x"),
                    ("version", "1"),
                    ("format", None),
                ]
            )
        ],
        *[
            (f"device={v!r:.20}", lambda c, v=v: A.load_checkpoint(c.record("ok"), device=v))
            for v in BAD_DEVICES
        ],
    ],
    "gradflow": [
        *spec_cases(A.gradflow),
        *[
            (f"input_size={v!r:.20}", lambda c, v=v: A.gradflow(SPEC, input_size=v))
            for v in ["x", 0, 10**6, (1, 2, 3), 1.5]
        ],
        *[
            (f"batch={v!r:.20}", lambda c, v=v: A.gradflow(SPEC, batch=v))
            for v in [0, 10**12, 1.5, "8"]
        ],
        *[(f"seed={v!r:.20}", lambda c, v=v: A.gradflow(SPEC, seed=v)) for v in BAD_SEEDS],
        ("more memory than there is", lambda c: A.gradflow("resnet50", batch=2**20)),
    ],
    "port_state_dict": [
        *[
            (f"model={v!r:.20}", lambda c, v=v: A.port_state_dict(v, c.model.state_dict()))
            for v in [None, "resnet20"]
        ],
        *[
            (f"foreign={v!r:.20}", lambda c, v=v: A.port_state_dict(c.model, v))
            for v in [None, 5, {"a": 1}, [torch.zeros(1)], {}]
        ],
    ],
    "grid": [
        *spec_cases(lambda s: A.grid(s, {"stages.0.depth": [1, 2]})),
        *[
            (f"axes={v!r:.30}", lambda c, v=v: A.grid(SPEC, v))
            for v in [
                None,
                5,
                [("stages.0.depth", [1])],
                {"stages.0.depth": []},
                {"stages.0.depth": 5},
                {5: [1]},
            ]
        ],
        ("invalid='x'", lambda c: A.grid(SPEC, {"stages.0.depth": [1]}, invalid="x")),
        (
            "10**9 points",
            lambda c: A.grid(SPEC, {f"stages.{i}.depth": range(1, 1001) for i in range(3)}),
        ),
    ],
    "sample": [
        *spec_cases(lambda s: A.sample(s, {"stages.0.depth": [1, 2]}, n=1)),
        *[
            (f"n={v!r:.20}", lambda c, v=v: A.sample(SPEC, {"stages.0.depth": [1]}, n=v))
            for v in [10**18, -1, 1.5, "3", None]
        ],
        *[
            (f"seed={v!r:.20}", lambda c, v=v: A.sample(SPEC, {"stages.0.depth": [1]}, n=1, seed=v))
            for v in [2**70, 1.5, None]
        ],
        *[
            (f"space={v!r:.20}", lambda c, v=v: A.sample(SPEC, v, n=1))
            for v in [None, 5, {"stages.0.depth": 5}]
        ],
        ("invalid='x'", lambda c: A.sample(SPEC, {"stages.0.depth": [1]}, n=1, invalid="x")),
        ("unique='yes'", lambda c: A.sample(SPEC, {"stages.0.depth": [1]}, n=1, unique="yes")),
    ],
    "stats_many": [
        *[
            (f"specs={v!r:.20}", lambda c, v=v: A.stats_many(v))
            for v in [None, 5, "resnet20", Path("x.yaml")]
        ],
        *[
            (f"workers={v!r:.20}", lambda c, v=v: A.stats_many([SPEC], workers=v))
            for v in [0, 10**6, "2", 1.5]
        ],
        ("context='nonsense'", lambda c: A.stats_many([SPEC], context="nonsense")),
    ],
    "ArchSpec": [
        ("ArchSpec()", lambda c: A.ArchSpec()),
        ("ArchSpec(name=5)", lambda c: A.ArchSpec(name=5, input={}, stages=[{}], head={})),
        *[
            (f"from_yaml({v!r:.20})", lambda c, v=v: A.ArchSpec.from_yaml(v))
            for v in [None, 5, "- a", "x" * 5000]
        ],
        *[(f"override({v!r:.20})", lambda c, v=v: A.load(SPEC).override(v)) for v in BAD_OVERRIDES],
        ("model_copy(update=...)", lambda c: A.load(SPEC).model_copy(update={"name": 5})),
    ],
    "presets": [],  # takes no arguments: nothing to get wrong
}
# Exception types and result records: made by archspec, never from a user's values.
NOT_CALLED = {"ArchSpecError", "GraphError", "PortError", "SpecError", "Stats", "Summary"}
# Seconds any refusal may take: an absurd value is refused up front, not after the work.
QUICK = 60.0

CASES = [(name, label, case) for name, cases in REGISTRY.items() for label, case in cases]


def test_the_registry_covers_every_public_name() -> None:
    assert set(REGISTRY) | NOT_CALLED == set(archspec.__all__)
    assert archspec.presets(), "presets() is called once, to show it takes no arguments"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Context:
    tmp = tmp_path_factory.mktemp("arguments")
    (tmp / "adir.svg").mkdir()
    write_file(tmp / "spec.dot", "extends: resnet20\nname: mine\n")
    return Context(tmp, archspec.build(SPEC, seed=0))


@pytest.mark.parametrize(
    ("name", "label", "case"), CASES, ids=[f"{n}-{lbl}" for n, lbl, _ in CASES]
)
def test_a_wrong_argument_is_an_archspec_error(
    context: Context, name: str, label: str, case: Case
) -> None:
    start = time.perf_counter()
    try:
        case(context)
    except ArchSpecError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) < 2000, text
        assert "Traceback" not in text
    except BaseException as err:  # this test exists to catch any other
        pytest.fail(f"{name}({label}) raised {type(err).__name__}: {err}"[:500])
    else:
        pytest.fail(f"{name}({label}) raised nothing")
    assert time.perf_counter() - start < QUICK, f"{name}({label}) took too long"


def test_stats_many_returns_errors_in_place() -> None:
    results = archspec.stats_many([SPEC, None, "x" * 5000, 5], workers=1)
    assert isinstance(results[0], archspec.Stats)
    assert all(isinstance(r, ArchSpecError) for r in results[1:])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["build", SPEC, "--seed", "1" * 25], 2),
        (["build", SPEC, "--seed", "-" + "1" * 25], 2),
        (["summary", SPEC, "--input", "1" * 20 + "x3x32x32"], 2),
        (["summary", SPEC, "--input", "1x3x99999x32"], 2),
        (["gradflow", SPEC, "--input-size", "16384"], 1),
        (["gradflow", SPEC, "--batch", "1" * 20], 1),
        (["gradflow", SPEC, "--seed", "1" * 25], 1),
        (["compare", SPEC, "x" * 5000], 1),
        (["validate", "x" * 5000], 1),
    ],
)
def test_huge_numbers_on_the_command_line_are_one_line(args: list[str], code: int) -> None:
    assert_clean_failure(run_cli(*args), code)


def test_a_build_respects_the_address_space_limit(tmp_path: Path) -> None:
    """8 GB of weights under ``ulimit -v`` of 6 GB: one line, exit 1, not a crash. (On a
    machine with under 16 GB the guard of half its memory refuses them first.)"""
    import resource
    import subprocess
    import sys

    limit = 6 * 2**30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    spec = write_file(
        tmp_path / "wide.yaml",
        "extends: resnet50\nname: wide\nhead: {classes: 1000000}\n",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "archspec.cli", "build", str(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    text = assert_clean_failure(proc)
    assert "this process can allocate" in text or "machine's" in text
