"""The command line as a whole: help with examples on every command, documented exit
codes, plain tables in a pipe, ``compare`` and ``schema``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from cli_helpers import archspec_cli, assert_fails_cleanly
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.spec.schema import json_schema

COMMANDS = sorted(typer.main.get_command(app).commands)
BOX_DRAWING = re.compile("[\u2500-\u257f]")  # rich's table borders


def test_top_level_help_documents_exit_codes_and_examples() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    text = result.output
    for line in ("0  ok", "1  a spec or graph error", "2  a usage error"):
        assert line in text
    assert "Examples:" in text and "archspec render resnet50 -o resnet50.svg" in text
    for command in ("render", "summary", "build", "compare", "schema", "list", "validate"):
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"Examples?:\s+archspec {command}\b", result.output), result.output


def test_tables_are_plain_text_in_a_pipe() -> None:
    proc = archspec_cli("list")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout and not BOX_DRAWING.search(proc.stdout)
    lines = proc.stdout.splitlines()
    assert re.match(r"preset\s+params\s+MACs\s+description$", lines[0])
    # A wrapped description (to COLUMNS, when set) goes on under its column.
    rows = {line.split()[0]: line.split()[1] for line in lines[1:] if not line[0].isspace()}
    assert rows.keys() == set(archspec.presets())
    assert rows["resnet50"] == "25,557,032"


def test_compare_side_by_side() -> None:
    proc = archspec_cli("compare", "resnet56", "plain56", "resnet18")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout and not BOX_DRAWING.search(proc.stdout)
    rows = {}
    for line in proc.stdout.splitlines()[1:]:
        label, *cells = re.split(r"\s{2,}", line.strip())
        rows[label] = cells
    assert proc.stdout.split()[:3] == ["resnet56", "plain56", "resnet18"]
    assert rows["params"] == ["853,018", "853,018", "11,689,512"]
    assert rows["depth (weighted layers)"] == ["56", "56", "18"]
    assert rows["output"] == ["1x10", "1x10", "1x1000"]
    assert rows["MACs (multiply-add = 1)"][2] == "1.814 G"  # torchvision's "1.81 GFLOPS"

    as_json = json.loads(archspec_cli("compare", "resnet56", "plain56", "--json").stdout)
    assert [r["depth"] for r in as_json] == [56, 56]
    assert as_json[0]["macs"] == archspec.stats("resnet56").macs


def test_schema_for_editors(tmp_path: Path) -> None:
    out = tmp_path / "archspec.schema.json"
    proc = archspec_cli("schema", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == json_schema()
    assert f"# yaml-language-server: $schema={out}" in proc.stderr


def test_exit_codes(tmp_path: Path) -> None:
    proc = archspec_cli("render", "resnet20", "-o", "x.svg", "--detail", "all")
    assert_fails_cleanly(proc, 2)
    assert "'all' is not one of stage, block, layer" in proc.stderr
    assert "Value error" not in proc.stderr
    assert_fails_cleanly(archspec_cli("compare", "resnet20"), 2)
    assert_fails_cleanly(archspec_cli("summary", "no-such-preset"), 1)
    assert_fails_cleanly(archspec_cli("compare", "resnet20", "resnet20", "--bogus"), 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ninput: {size: 32}\nstages: [{block: basic, depht: 2}]\nhead: {classes: 2}\n"
    )
    proc = archspec_cli("render", bad, "-o", tmp_path / "bad.svg")
    assert_fails_cleanly(proc, 1)
    assert "bad.yaml:3" in proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_docs_page(command: str) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "commands"
    page = docs / f"{command}.md"
    assert page.is_file(), f"write {page}"
    assert f"# archspec {command}" in page.read_text()
    assert f"({command}.md)" in (docs / "index.md").read_text()
