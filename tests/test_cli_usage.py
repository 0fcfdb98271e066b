"""The command line as a shell user meets it: --version, tab completion, usage lines
and help that name values as words, `build` saying when nothing was written, and
`list` printing descriptions whole."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from cli_helpers import archspec_cli
from typer.testing import CliRunner

import archspec
from archspec.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
# typer's own placeholders: {spec}, <str>, <list[str]>, <path>, <int range>.
PLACEHOLDER = re.compile(r"\{[a-z_]+\}|<[a-z_\[\] ]+>")


def test_every_command_is_registered() -> None:
    assert set(COMMANDS) >= {"list", "validate", "summary", "build", "render", "compare"}


def test_version_is_the_package_version() -> None:
    proc = archspec_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"archspec {archspec.__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_and_usage_lines_have_no_placeholders(command: str) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, [command, "--help"], prog_name="archspec")
    assert shown.exit_code == 0, shown.output
    assert not PLACEHOLDER.findall(shown.output), shown.output
    usage = shown.output.splitlines()[0]
    assert usage.startswith(f"Usage: archspec {command} ")
    # A usage error prints the same usage line above its message.
    wrong = runner.invoke(app, [command, "--no-such-option"], prog_name="archspec")
    assert wrong.exit_code == 2
    assert "Usage: archspec" in wrong.output, wrong.output
    assert not PLACEHOLDER.findall(wrong.output), wrong.output


def test_missing_argument_names_it_as_in_the_usage_line() -> None:
    proc = archspec_cli("build")
    assert proc.returncode == 2
    assert "Usage: archspec build [OPTIONS] SPEC\n" in proc.stderr
    assert "Missing argument 'SPEC'" in proc.stderr
    proc = archspec_cli("compare")
    assert "Usage: archspec compare [OPTIONS] SPECS...\n" in proc.stderr


def test_show_completion_prints_the_bash_script() -> None:
    proc = archspec_cli("--show-completion", "bash")
    assert proc.returncode == 0, proc.stderr
    assert "_archspec_completion()" in proc.stdout
    assert "_ARCHSPEC_COMPLETE=complete_bash" in proc.stdout
    assert "complete -o default -F _archspec_completion archspec" in proc.stdout


def _complete(words: str, tmp_path: Path) -> list[str]:
    """What bash's completion function gets back, through the env-var protocol its
    script uses (the same call the installed completion makes)."""
    env = {
        **os.environ,
        "_ARCHSPEC_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "archspec.cli"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_completion_protocol_completes_commands_options_and_specs(tmp_path: Path) -> None:
    assert _complete("archspec bu", tmp_path) == ["build"]
    assert set(_complete("archspec build --se", tmp_path)) == {"--set", "--seed"}
    (tmp_path / "resnet_mine.yaml").write_text("extends: resnet20\n")
    (tmp_path / "notes.txt").write_text("")
    got = _complete("archspec summary resnet5", tmp_path)
    assert got == sorted(p for p in archspec.presets() if p.startswith("resnet5"))
    assert "resnet_mine.yaml" in _complete("archspec validate resnet_", tmp_path)
    assert _complete("archspec validate no", tmp_path) == []  # not the .txt file


def test_build_without_outputs_says_nothing_was_written(tmp_path: Path) -> None:
    proc = archspec_cli("build", "resnet20", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("built resnet20")
    assert "nothing was written" in proc.stderr
    assert "-o FILE" in proc.stderr and "--emit-python" in proc.stderr
    assert list(tmp_path.iterdir()) == []
    wrote = archspec_cli("build", "resnet20", "-o", tmp_path / "r.pt")
    assert "nothing was written" not in wrote.stderr


def _descriptions(stdout: str) -> dict[str, str]:
    """preset -> description, joining the wrapped lines under the description column."""
    lines = stdout.splitlines()
    start = lines[0].index("description")
    found: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        if line[:start].strip():
            name = line.split()[0]
            found[name] = line[start:]
        else:
            found[name] += " " + line[start:]
    return found


@pytest.mark.parametrize("columns", [None, "60", "100"])
def test_list_prints_every_description_whole(columns: str | None) -> None:
    env = {"COLUMNS": columns} if columns else {}
    if columns is None:
        env["COLUMNS"] = ""  # in a pipe with no width known: one line per preset
    proc = archspec_cli("list", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "..." not in proc.stdout and "…" not in proc.stdout
    got = _descriptions(proc.stdout)
    assert sorted(got) == sorted(archspec.presets())
    for name, text in got.items():
        assert text == " ".join(archspec.load(name).description.split()), name
    lines = proc.stdout.splitlines()
    if columns is None:
        assert len(lines) == len(archspec.presets()) + 1
    else:
        indent = lines[0].index("description")
        assert max(map(len, lines)) <= max(int(columns), indent + 20)


def test_list_on_a_narrow_terminal_folds_and_never_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    import archspec.report.console as console_module

    # The rich branch, as on a terminal 50 columns wide.
    monkeypatch.setattr(console_module, "is_terminal", lambda stream=None: True)
    with open(os.devnull, "w") as sink:
        console = Console(width=50, force_terminal=True, record=True, file=sink)
        long = "a description " * 12
        console_module.print_table(
            ["preset", "description"], [["x", long]], wrap="description", console=console
        )
    text = console.export_text()
    assert "…" not in text
    assert max(map(len, text.splitlines())) <= 50
    cells = [line.split("│")[2] for line in text.splitlines() if line.count("│") == 3]
    assert " ".join(" ".join(cells).split()) == " ".join(long.split())
