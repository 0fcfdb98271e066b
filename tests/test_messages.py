"""Messages that say enough and no more: a huge spec file refused without reading it
whole, a FIFO as SPEC refused without blocking, "did you mean" for a misspelt preset,
long values cut short, errors through ``extends:`` naming the user's file, overrides
blamed for what they made, and ``validate --all``. Through the API and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_specs import BASE, sub
from helpers import assert_clean_failure, run_cli, write_file

import archspec
from archspec.errors import SpecError

# The peak resident memory of this process, in KiB. Not getrusage's ru_maxrss: Linux
# carries it across exec, so a child of a large pytest worker starts at the worker's peak.
PEAK = (
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
)

# --- reading -----------------------------------------------------------------------------


def test_a_huge_spec_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A sparse 20 GB file: refused in a moment, the process never near its size."""
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(20 * 2**30)
    probe = (
        "import sys, archspec\n"
        "try:\n"
        "    archspec.load(sys.argv[1])\n"
        "except archspec.SpecError as e:\n"
        "    print(e)\n"
        f"{PEAK}print(peak())\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, str(huge)], capture_output=True, text=True, timeout=120
    )
    message, peak_kib = done.stdout.strip().splitlines()
    assert "file too large (21,474,836,480 bytes" in message, done
    assert int(peak_kib) < 1024 * 1024, f"peak {peak_kib} KiB: the file was read"
    assert time.perf_counter() - start < 60
    text = assert_clean_failure(run_cli("validate", huge))
    assert "file too large" in text


def test_a_fifo_as_spec_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        archspec.load(fifo)
    text = assert_clean_failure(run_cli("validate", fifo, timeout=60))
    assert "not a regular file" in text


def test_a_device_as_spec_is_refused() -> None:
    for device in ("/dev/zero", "/dev/null"):
        with pytest.raises(SpecError, match="not a regular file"):
            archspec.load(device)


# --- hints and lengths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"), [("resnt50", "resnet50"), ("densenet12", "densenet121")]
)
def test_a_misspelt_preset_gets_did_you_mean(tmp_path: Path, typo: str, meant: str) -> None:
    with pytest.raises(SpecError, match=f"did you mean '{meant}'"):
        archspec.load(typo)
    assert f"'{meant}'" in assert_clean_failure(run_cli("validate", typo, cwd=tmp_path))
    child = write_file(tmp_path / "child.yaml", f"extends: {typo}\nname: x\n")
    with pytest.raises(SpecError, match=f"did you mean '{meant}'") as info:
        archspec.load(child)
    assert info.value.line == 1 and info.value.field == "extends"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("block: basic", "block: " + "b" * 100_000),
        ("skip: identity", "skip: " + "s" * 100_000),
        ("stem: cifar", "stem: " + "c" * 100_000),
    ],
)
def test_long_values_are_cut_short(tmp_path: Path, old: str, new: str) -> None:
    spec = write_file(tmp_path / "spec.yaml", sub(old, new))
    with pytest.raises(SpecError) as info:
        archspec.load(spec)
    assert len(str(info.value)) < 600, len(str(info.value))
    text = assert_clean_failure(run_cli("validate", spec))
    assert len(text) < 600 and "characters" in text


def test_a_long_override_is_cut_short() -> None:
    text = assert_clean_failure(
        run_cli("validate", "resnet20", "--set", "defaults.block=" + "q" * 5000)
    )
    assert len(text) < 600


# --- where errors point ------------------------------------------------------------------------


def test_an_error_through_extends_names_the_users_file(tmp_path: Path) -> None:
    write_file(tmp_path / "parent.yaml", sub("  downsample: pad", "  downsample: pad\n  foo: 1"))
    child = write_file(tmp_path / "child.yaml", "name: child\nextends: parent.yaml\n")
    with pytest.raises(SpecError) as info:
        archspec.load(child)
    text = str(info.value)
    assert Path(info.value.file).name == "parent.yaml" and info.value.line == 9
    assert "reached through extends: at" in text and "child.yaml:2:1" in text
    assert "child.yaml:2:1" in assert_clean_failure(run_cli("validate", child))


def test_an_override_is_blamed_for_the_keys_it_made() -> None:
    text = assert_clean_failure(run_cli("validate", "resnet20", "--set", "a.b=1"))
    assert "override a.b=1" in text and "preset:" not in text
    with pytest.raises(SpecError) as info:
        archspec.load("resnet20", overrides={"a.b": 1})
    assert "override a.b=1" in str(info.value)


def test_a_file_shadowing_a_preset_is_read_and_said(tmp_path: Path) -> None:
    write_file(tmp_path / "resnet20", BASE.replace("name: tiny", "name: mine"))
    assert archspec.load(tmp_path / "resnet20").name == "mine"
    proc = run_cli("validate", "resnet20", cwd=tmp_path)
    assert proc.returncode == 0 and "not the preset" in proc.stdout and "mine" in proc.stdout


# --- validate --all ------------------------------------------------------------------------------

MANY = """\
name: x
input: {size: 32, chanels: 3}
stem: cifarr
stages:
  - {depth: 0, width: 8, block: basic}
  - {depth: 1, width: 8, block: basic, strid: 2}
head: {classes: -1}
foo: 1
"""


def test_validate_all_lists_every_problem(tmp_path: Path) -> None:
    spec = write_file(tmp_path / "many.yaml", MANY)
    with pytest.raises(SpecError) as info:
        archspec.load(spec)
    fields = [p.field for p in info.value.problems]
    assert fields == [
        "input.chanels",
        "stem",
        "stages[0].depth",
        "stages[1].strid",
        "head.classes",
        "foo",
    ]
    assert [p.line for p in info.value.problems] == [2, 3, 5, 6, 7, 8]
    first = assert_clean_failure(run_cli("validate", spec))
    assert "more problem" in first
    proc = run_cli("validate", "--all", spec)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("error: ") for line in lines)
    assert "did you mean 'channels'" in lines[0] and "did you mean 'stride'" in lines[3]


# --- drawings too large to lay out ---------------------------------------------------------


def test_a_graph_too_large_to_lay_out_is_refused(tmp_path: Path) -> None:
    """1,500 blocks at layer detail: refused at once, with the way out, never handed to
    Graphviz (whose layout crashes the process on graphs of this order); .dot is fine."""
    spec = write_file(
        tmp_path / "deep.yaml", sub("{depth: 2, width: 16}", "{depth: 1500, width: 16}")
    )
    with pytest.raises(archspec.ArchSpecError, match="too many to lay out"):
        archspec.render(spec, tmp_path / "deep.svg", detail="layer")
    text = assert_clean_failure(
        run_cli("render", spec, "-o", tmp_path / "deep.png", "--detail", "layer")
    )
    assert "block or stage detail" in text
    assert not list(tmp_path.glob("deep.[ps]*g"))
    archspec.render(spec, tmp_path / "deep.dot", detail="layer")
    archspec.render(spec, tmp_path / "deep.svg", detail="block")


# --- memory and file size on large inputs -----------------------------------------------------


def test_a_pt2_does_not_carry_an_example_input(tmp_path: Path) -> None:
    """An example batch at input.size=2048 would add 100 MB to the file."""
    proc = run_cli("build", "resnet20", "--set", "input.size=2048", "-o", "m.pt2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.pt2").stat().st_size < 10 * 2**20


def test_summary_of_a_large_input_allocates_no_input() -> None:
    """8 x 3 x 4096 x 4096 floats are 1.5 GiB; on the meta device none is allocated."""
    probe = (
        f"import archspec\n{PEAK}"
        "s = archspec.summary('resnet20', input_size=(8, 3, 4096, 4096))\n"
        "print(s.torchinfo_device, peak())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=600
    )
    device, peak_kib = done.stdout.split()
    assert device == "meta" and int(peak_kib) < 1024 * 1024, done.stdout


def test_a_graph_error_points_at_the_stage_that_chose_the_setting(tmp_path: Path) -> None:
    spec = write_file(
        tmp_path / "spec.yaml",
        sub("  - {depth: 2, width: 32, stride: 2}", "  - {depth: 2, width: 8, stride: 2}"),
    )
    with pytest.raises(archspec.GraphError) as info:
        archspec.stats(spec)
    assert info.value.scope == "layer2.0" and "pad skip" in str(info.value)
    assert "stage 2 is written at" in str(info.value) and "spec.yaml:11:5" in str(info.value)
    assert "spec.yaml:11:5" in assert_clean_failure(run_cli("validate", spec))
    text = assert_clean_failure(run_cli("validate", "resnet20", "--set", "stages.1.width=4"))
    assert "override stages.1.width=4" in text


def test_an_override_of_the_defaults_is_named_at_the_stage_it_broke() -> None:
    text = assert_clean_failure(run_cli("validate", "densenet121", "--set", "defaults.width=64"))
    assert "preset:densenet121:" in text and "after override defaults.width=64" in text
    assert "growth" in text


def test_a_graph_error_also_points_at_a_cause_outside_the_stage(tmp_path: Path) -> None:
    # Too small an input is the input size's doing; a skip setting the stage does not
    # write comes from the defaults: both are named beside the stage.
    small = write_file(tmp_path / "small.yaml", sub("size: 32", "size: 1"))
    text = assert_clean_failure(run_cli("validate", small))
    assert "input is too small" in text and "the input size at" in text and "small.yaml:" in text
    narrow = write_file(
        tmp_path / "narrow.yaml",
        sub("  - {depth: 2, width: 32, stride: 2}", "  - {depth: 2, width: 8, stride: 2}"),
    )
    text = assert_clean_failure(run_cli("validate", narrow))
    assert "its defaults at" in text and "narrow.yaml:" in text
