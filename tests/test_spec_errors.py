"""Every kind of bad input through the Python API: an ArchSpecError subclass (never
another exception), pointing at the right file, line and field, quickly.

The cases live in bad_specs.py and are shared with test_cli.py, which runs the same
ones through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_specs import BASE, CASES, Bad
from helpers import spec_of, tiny_spec, write_file

import archspec
from archspec.errors import ArchSpecError, GraphError, SpecError


def materialize(case: Bad, directory: Path) -> None:
    for name, text in case.files.items():
        write_file(directory / name, text)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_a_located_archspec_error(case: Bad, in_tmp: Path) -> None:
    materialize(case, in_tmp)
    # Bounded work (alias bombs, deep nesting, absurd sizes) is checked by the errors
    # being the loader's and validator's own, not by timing: speed is for benchmarks.
    with pytest.raises(ArchSpecError) as info:
        spec = archspec.load(case.spec, overrides=list(case.sets) or None)
        archspec.lower(spec)
    error = info.value
    text = str(error)

    assert type(error) is case.error, text
    assert isinstance(error, ValueError)
    assert "\n" not in text and len(text) < 600, text
    for fragment in case.fragments:
        assert fragment in text, (fragment, text)
    for mark in case.marks:
        assert not (in_tmp / mark).exists(), "a YAML tag ran code"

    if isinstance(error, SpecError):
        if error.path:  # the message does not repeat the field it is prefixed with
            assert not error.message.startswith(f"{error.path[-1]}"), text
        if case.where is not None:
            assert error.file is not None and Path(error.file).name == case.where, text
            assert text.startswith(error.file), text
        if case.line is not None:
            assert error.line == case.line, text
            assert f"{error.file}:{case.line}:" in text
        if case.field is not None:
            assert error.field == case.field, text
            assert f" {case.field}: " in text, text
        if case.sets:
            assert error.file is not None and ("override" in error.file or "--set" in error.file)
    else:
        assert isinstance(error, GraphError)
        assert error.scope, text
        assert text.startswith(f"block {error.scope}"), text


def test_every_error_names_the_file_it_is_in(in_tmp: Path) -> None:
    """Positions come from the file the mistake is written in, across extends chains."""
    (in_tmp / "grand.yaml").write_text(BASE)
    (in_tmp / "sub").mkdir()
    (in_tmp / "sub" / "parent.yaml").write_text(
        "extends: ../grand.yaml\nname: parent\nstages:\n  - {depth: 2, width: 16}\n"
        "  - {depth: 2, width: 32, strid: 2}\n"
    )
    (in_tmp / "child.yaml").write_text("extends: sub/parent.yaml\nname: child\n")
    with pytest.raises(SpecError) as info:
        archspec.load("child.yaml")
    assert Path(info.value.file).name == "parent.yaml"
    assert info.value.line == 5
    assert info.value.field == "stages[1].strid"
    assert "did you mean 'stride'?" in str(info.value)


def test_extends_resolves_relative_to_the_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "base.yaml").write_text(BASE)
    (tmp_path / "specs" / "deeper.yaml").write_text(
        "extends: base.yaml\nname: deeper\nstages:\n  - {depth: 3, width: 16}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = archspec.load(tmp_path / "specs" / "deeper.yaml")
    assert spec.name == "deeper" and [b.depth for b in spec.blocks] == [3]
    assert spec.blocks[0].downsample == "pad"  # inherited from base.yaml


def test_errors_from_overrides_of_an_archspec_name_the_override() -> None:
    spec = archspec.load("resnet20")
    with pytest.raises(SpecError) as info:
        spec.override({"stages.1.depth": 0})
    assert info.value.field == "stages[1].depth"
    assert "override stages.1.depth=0" in str(info.value)
    with pytest.raises(SpecError, match="no index 7"):
        spec.override(["stages.7.width=3"])
    assert spec.blocks[1].depth == 3, "override returns a new spec, the old one is unchanged"


def test_spec_models_are_frozen() -> None:
    spec = archspec.load("resnet20")
    with pytest.raises(Exception, match="frozen"):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        spec.head.classes = 3  # type: ignore[misc]


def test_from_yaml_text_errors_are_spec_errors() -> None:
    with pytest.raises(SpecError) as info:
        archspec.ArchSpec.from_yaml(BASE.replace("depth: 2, width: 16", "depth: 0, width: 16"))
    assert info.value.file == "<string>" and info.value.line == 10
    with pytest.raises(SpecError, match="not a UTF-8"):
        archspec.ArchSpec.from_yaml(b"\xff\xfe\x00")


def test_a_pool_padding_torch_would_refuse_is_a_spec_error() -> None:
    data = tiny_spec()
    data["stem"] = [{"conv": 8}, {"pool": "max", "kernel": 2, "padding": 2}]
    with pytest.raises(SpecError, match="more than half the kernel") as info:
        spec_of(data)
    assert info.value.field == "stem[1]"
    data["stem"][1]["padding"] = 1  # exactly half is fine
    assert archspec.stats(spec_of(data)).output_shape == (5,)


def test_absurd_sizes_are_refused_before_any_graph_is_built() -> None:
    for overrides in (
        {"stages.0.depth": 10**9},
        {"stages.0.width": 10**7},
        {"input.size": 10**9},
        {"head.classes": 10**12},
        {"stages": [{"depth": 4096, "width": 16}] * 5},
    ):
        # load() validates and never lowers: refused there, no graph or weight exists.
        with pytest.raises(SpecError):
            archspec.load("resnet20", overrides=overrides)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (BASE.replace("stem: cifar", "stem: {type: cifar, widht: 8}"), "stem.widht"),
        (BASE.replace("stem: cifar", "stem: [{conv: 8, kernal: 3}]"), "stem[0].kernal"),
        (
            BASE.replace("stem: cifar", "stem: [{conv: 8}, {pool: max, kernel: 5}, {x: 1}]"),
            "stem[2]",
        ),
        (BASE.replace("size: 32}", "size: [32, 0]}"), "input.size[1]"),
    ],
)
def test_one_mistake_in_a_union_is_one_problem(text: str, field: str) -> None:
    """The other branches of a union (stem: a name, a mapping or a list) failing on the
    same value are not counted as more problems, nor named in the field path."""
    with pytest.raises(SpecError) as info:
        archspec.ArchSpec.from_yaml(text, "spec.yaml")
    assert info.value.field == field
    assert "more problem" not in str(info.value)


def test_several_mistakes_are_counted() -> None:
    text = BASE.replace("{depth: 2, width: 16}", "{depth: 0, width: 0}").replace(
        "stride: 2}", "stride: 0}"
    )
    with pytest.raises(SpecError, match=r"\(and 2 more problems\)"):
        archspec.ArchSpec.from_yaml(text)
    text = BASE.replace("{classes: 10}", "{classes: 0, pool: mean}")
    with pytest.raises(SpecError, match=r"\(and 1 more problem\)"):
        archspec.ArchSpec.from_yaml(text)
