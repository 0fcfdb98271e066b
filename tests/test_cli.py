"""The real command line, in a fresh interpreter each time (``python -m archspec.cli``):
exit codes, one- or two-line errors without tracebacks, and what each command writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from bad_specs import BASE, CASES, Bad
from helpers import assert_clean_failure, run_cli
from test_spec_errors import materialize

import archspec
from archspec.errors import GraphError
from archspec.spec.limits import MAX_CHANNELS


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_cleanly(case: Bad, tmp_path: Path) -> None:
    materialize(case, tmp_path)
    sets = [arg for s in case.sets for arg in ("--set", s)]
    proc = run_cli("validate", case.spec, *sets, cwd=tmp_path)
    stderr = assert_clean_failure(proc, 1)
    assert stderr.startswith("error: "), stderr
    assert "ok:" not in proc.stdout
    for fragment in case.fragments:
        assert fragment in stderr, (fragment, stderr)
    if case.where is not None:
        assert f"error: {case.where}" in stderr, stderr
    if case.line is not None:
        assert f"{case.where}:{case.line}:" in stderr, stderr
    if case.field is not None:
        assert f" {case.field}: " in stderr, stderr
    if case.error is GraphError:
        assert f"error: {case.spec}: block layer" in stderr, "names the spec and the block"
    for mark in case.marks:
        assert not (tmp_path / mark).exists(), "a YAML tag ran code"


@pytest.mark.parametrize("command", ["summary", "build"])
@pytest.mark.parametrize("case_id", ["misspelt-stage-key", "input-too-small", "set-invalid-value"])
def test_other_commands_fail_as_cleanly(command: str, case_id: str, tmp_path: Path) -> None:
    (case,) = [c for c in CASES if c.id == case_id]
    materialize(case, tmp_path)
    sets = [arg for s in case.sets for arg in ("--set", s)]
    stderr = assert_clean_failure(run_cli(command, case.spec, *sets, cwd=tmp_path), 1)
    for fragment in case.fragments:
        assert fragment in stderr


def test_validate_reports_every_spec(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(BASE)
    (tmp_path / "typo.yaml").write_text(BASE.replace("head:", "haed:"))
    (tmp_path / "small.yaml").write_text(BASE.replace("size: 32", "size: 1"))
    proc = run_cli(
        "validate", "good.yaml", "typo.yaml", "resnet20", "small.yaml", "nope.yaml", cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    ok = proc.stdout.strip().splitlines()
    errors = proc.stderr.strip().splitlines()
    assert [line.split()[1] for line in ok] == ["good.yaml", "resnet20"]
    assert len(errors) == 3
    assert errors[0].startswith("error: typo.yaml:12:1: haed:")
    assert errors[1].startswith("error: small.yaml: block layer2.0")
    assert errors[2].startswith("error: nope.yaml: no such file")

    proc = run_cli("validate", "good.yaml", "resnet50", "plain20", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 3 and not proc.stderr


def test_validate_applies_overrides(tmp_path: Path) -> None:
    proc = run_cli("validate", "resnet20", "--set", "head.classes=7", "-s", "input.size=64")
    assert proc.returncode == 0, proc.stderr
    assert "output (7,)" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["validate"],
        ["summary"],
        ["summary", "resnet20", "--no-such-option"],
        ["build", "resnet20", "--seed", "abc"],
        ["build", "resnet20", "-o", "model.xyz"],  # not a format it writes
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr
    assert not list(tmp_path.iterdir()), "a usage error writes nothing"


def test_list_names_every_preset() -> None:
    proc = run_cli("list")
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.strip().splitlines()[1:] if line.strip()}
    assert listed == set(archspec.presets())
    assert "25,557,032" in proc.stdout  # resnet50's parameters


def test_summary_json() -> None:
    proc = run_cli("summary", "resnet50", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    stats = archspec.stats("resnet50")
    assert data["name"] == "resnet50"
    assert data["params"] == data["trainable_params"] == stats.params == 25_557_032
    assert data["macs"] == stats.macs == 4_089_184_256
    assert data["flops"] == 2 * data["macs"]
    assert data["input_size"] == [1, 3, 224, 224]
    assert data["output_size"] == [1, 1000]


def test_summary_json_with_overrides() -> None:
    proc = run_cli("summary", "resnet20", "--json", "--set", "input.size=64")
    data = json.loads(proc.stdout)
    assert data["input_size"] == [1, 3, 64, 64] and data["output_size"] == [1, 10]
    assert data["macs"] == archspec.stats("resnet20", {"input.size": 64}).macs


def test_summary_table_says_which_count_is_which() -> None:
    proc = run_cli("summary", "resnet18")
    assert proc.returncode == 0, proc.stderr
    assert "11,689,512" in proc.stdout
    assert "MACs" in proc.stdout and "FLOPs" in proc.stdout


@pytest.mark.slow
def test_build_writes_a_loadable_export(tmp_path: Path) -> None:
    out = tmp_path / "resnet20.pt2"
    proc = run_cli("build", "resnet20", "-o", out, "--seed", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "269,722" in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["resnet20.pt2"], "no temporary files left"

    program = torch.export.load(out)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = archspec.build("resnet20", seed=0).eval()(x)
    with torch.no_grad():
        got = program.module()(x)
    torch.testing.assert_close(got, expected.detach(), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(
    "args",
    [
        ["bad.yaml"],
        ["resnet20", "--set", "stages.0.depth=0"],
        # weights beyond this machine's memory: refused from the analytic count
        ["resnet20", *[f"--set=stages.{i}.width={MAX_CHANNELS}" for i in range(3)]],
    ],
    ids=["bad-spec", "bad-override", "too-large"],
)
def test_failed_build_leaves_the_existing_output_alone(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BASE.replace("depth: 2, width: 16", "depth: 2, widht: 16"))
    out = tmp_path / "model.pt2"
    out.write_bytes(b"previous model")
    stderr = assert_clean_failure(run_cli("build", *args, "-o", "model.pt2", cwd=tmp_path), 1)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "model.pt2"]
    if "too-large" in str(args):
        assert "GiB" in stderr


def test_build_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    stderr = assert_clean_failure(
        run_cli("build", "resnet20", "-o", "missing/dir/model.pt2", cwd=tmp_path), 1
    )
    assert "missing/dir" in stderr
    assert not (tmp_path / "missing").exists()
