"""Untrusted input: what an ``extends:`` may read, specs embedded in checkpoints, and
control characters in anything a message quotes. Each through the Python API and the
real command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from bad_specs import BASE
from helpers import assert_clean_failure, run_cli, write_file

import archspec
from archspec.checkpoint import FORMAT, VERSION
from archspec.errors import ArchSpecError, SpecError, escape

SECRET = "top-secret-line: do not print me\n"
# What a terminal would act on: ESC, BEL, CR, other C0 and C1 controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def crafted_checkpoint(path: Path, spec_text: str) -> Path:
    record = {
        "format": FORMAT,
        "version": VERSION,
        "archspec": "0.1.0",
        "spec": spec_text,
        "arch_id": "0" * 16,
        "seed": None,
        "state_dict": {},
    }
    torch.save(record, path)
    return path


# --- extends: ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    ["/etc/passwd", "SECRET", "../outside/secret.yaml", "~/secret.yaml", "a/../../outside/x"],
)
def test_a_checkpoint_spec_reads_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str
) -> None:
    """A .pt's spec may extend presets only: no path, absolute or relative, is read."""
    work = tmp_path / "work"
    write_file(work / "SECRET", SECRET)
    write_file(tmp_path / "outside" / "secret.yaml", SECRET)
    monkeypatch.chdir(work)
    pt = crafted_checkpoint(work / "evil.pt", f"extends: {ref}\nname: x\n")
    with pytest.raises(SpecError) as info:
        archspec.load_checkpoint(pt)
    assert "cannot extend" in str(info.value) and info.value.field == "extends"
    assert "top-secret" not in str(info.value)


def test_a_checkpoint_spec_may_extend_a_preset(tmp_path: Path) -> None:
    model = archspec.build("resnet20", seed=0)
    pt = crafted_checkpoint(tmp_path / "ok.pt", "extends: resnet20\nname: resnet20\n")
    record = torch.load(pt, weights_only=True)
    record["arch_id"] = archspec.load("resnet20").arch_id
    record["state_dict"] = model.state_dict()
    torch.save(record, pt)
    assert archspec.load_checkpoint(pt).spec.name == "resnet20"


def test_yaml_text_extends_presets_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_file(tmp_path / "base.yaml", BASE)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match="may extend only a shipped preset"):
        archspec.ArchSpec.from_yaml("extends: base.yaml\nname: x\n")
    assert archspec.ArchSpec.from_yaml("extends: resnet20\nname: x\n").name == "x"


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("/etc/passwd", "absolute path is not allowed"),
        ("../outside/secret.yaml", "leads outside"),
        ("link.yaml", "leads outside"),  # a symlink out of the spec's directory
    ],
)
def test_a_file_extends_only_files_in_its_directory(tmp_path: Path, ref: str, words: str) -> None:
    write_file(tmp_path / "outside" / "secret.yaml", SECRET)
    spec = write_file(tmp_path / "mine" / "spec.yaml", f"extends: {ref}\nname: x\n")
    (tmp_path / "mine" / "link.yaml").symlink_to(tmp_path / "outside" / "secret.yaml")
    with pytest.raises(SpecError) as info:
        archspec.load(spec)
    assert words in str(info.value) and info.value.line == 1 and info.value.field == "extends"
    assert "top-secret" not in str(info.value)
    proc = run_cli("validate", spec)
    text = assert_clean_failure(proc)
    assert words in text and "top-secret" not in text


def test_extends_below_the_spec_root_and_back_is_allowed(tmp_path: Path) -> None:
    """``../`` is fine while it stays inside the directory of the spec the user named."""
    write_file(tmp_path / "base.yaml", BASE)
    write_file(tmp_path / "sub" / "mid.yaml", "extends: ../base.yaml\nname: mid\n")
    spec = write_file(tmp_path / "top.yaml", "extends: sub/mid.yaml\nname: top\n")
    assert archspec.load(spec).name == "top"
    # mid.yaml named directly: its root is sub/, so ../base.yaml is outside it
    with pytest.raises(SpecError, match="leads outside"):
        archspec.load(tmp_path / "sub" / "mid.yaml")


def test_a_preset_extends_by_name_even_beside_a_file_of_that_name(tmp_path: Path) -> None:
    """Presets read presets only: a file called resnet20 in the working directory does
    not change what resnet56 (which extends resnet20) is."""
    write_file(tmp_path / "resnet20", "name: hijacked\n")
    proc = run_cli("validate", "resnet56", cwd=tmp_path)
    assert proc.returncode == 0 and "resnet56" in proc.stdout


# --- control characters ------------------------------------------------------------------

EVIL_KEY = "\x1b]0;owned\x07\x1b[2J\nok: forged.yaml (x)\r\x9b"


def test_escape_rewrites_every_control_character() -> None:
    text = "".join(chr(c) for c in [*range(32), 127, *range(0x80, 0xA0)]) + "\u2028\u202e"
    shown = escape(text, limit=None)
    assert not RAW_CONTROL.search(shown) and "\u2028" not in shown and "\u202e" not in shown
    assert escape("x" * 100_000).endswith("(100,000 characters)")
    assert escape("plain text: ok") == "plain text: ok"


def assert_safe_output(proc) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert not RAW_CONTROL.search(stream), stream
    assert not any(line.startswith("ok: forged") for line in proc.stdout.splitlines())


def test_control_characters_in_keys_are_escaped(tmp_path: Path) -> None:
    quoted = EVIL_KEY.encode("unicode_escape").decode().replace('"', '\\"')
    spec = write_file(tmp_path / "spec.yaml", BASE + f'"{quoted}": 1\n')
    with pytest.raises(SpecError) as info:
        archspec.load(spec)
    assert not RAW_CONTROL.search(str(info.value)) and "\n" not in str(info.value)
    proc = run_cli("validate", spec)
    assert_clean_failure(proc)
    assert_safe_output(proc)


def test_control_characters_in_values_paths_and_sets_are_escaped(tmp_path: Path) -> None:
    name = "spec\x1b[2J\nok: x.yaml"
    write_file(tmp_path / name, BASE.replace("stem: cifar", "stem: cifar\x07"))
    runs = [
        run_cli("validate", name, cwd=tmp_path),
        run_cli("validate", "nonexistent\x1b]0;t\x07", cwd=tmp_path),
        run_cli("validate", "resnet20", "--set", f"defaults.{EVIL_KEY}=1", cwd=tmp_path),
        run_cli("validate", "resnet20", "--set", f"name={EVIL_KEY}", cwd=tmp_path),
        run_cli("build", "resnet20", "--emit-python", f"no\x1bdir/{EVIL_KEY}.py", cwd=tmp_path),
        run_cli("render", "resnet20", "-o", f"{EVIL_KEY}.txt", cwd=tmp_path),
    ]
    for proc in runs:
        assert proc.returncode in (1, 2), proc
        assert_safe_output(proc)


def test_api_errors_quote_escaped_text() -> None:
    for call in (
        lambda: archspec.load("x\x1b[2J"),
        lambda: archspec.load("resnet20", overrides={f"head.{EVIL_KEY}": 1}),
        lambda: archspec.load("resnet20", overrides=[f"{EVIL_KEY}=1"]),
    ):
        with pytest.raises(ArchSpecError) as info:
            call()
        assert not RAW_CONTROL.search(str(info.value)) and "\n" not in str(info.value)
