"""Tests for the position-keeping safe YAML reader (archspec.spec.yaml_source)."""

from __future__ import annotations

import math
import random
from pathlib import Path as FilePath

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.errors import Mark, SpecError
from archspec.spec import yaml_source
from archspec.spec.yaml_source import Source, load_yaml, parse_scalar

SPEC = """\
# a small residual network
name: tiny
input: {channels: 3, size: 32}
stages:
  - {depth: 3, width: 64}
  - depth: 4
    width: 128
    block:
      kind: basic
head:
  classes: 10
"""


def raises(text: str | bytes, fragment: str, line: int | None = None) -> SpecError:
    """Load ``text`` expecting a SpecError whose message contains ``fragment``."""
    with pytest.raises(SpecError) as info:
        load_yaml(text, "spec.yaml")
    error = info.value
    assert fragment in error.message, error.message
    assert "\n" not in str(error)
    assert error.file == "spec.yaml"
    if line is not None:
        assert error.line == line, str(error)
    return error


# --- well-formed documents and positions ------------------------------------------------


def test_data_is_plain_python() -> None:
    source = load_yaml(SPEC, "spec.yaml")
    assert source.file == "spec.yaml"
    assert source.data == {
        "name": "tiny",
        "input": {"channels": 3, "size": 32},
        "stages": [
            {"depth": 3, "width": 64},
            {"depth": 4, "width": 128, "block": {"kind": "basic"}},
        ],
        "head": {"classes": 10},
    }


def test_positions_of_keys_and_values() -> None:
    source = load_yaml(SPEC, "spec.yaml")
    m = lambda line, column: Mark("spec.yaml", line, column)  # noqa: E731
    assert source.values[()] == m(2, 1)
    assert source.keys[("name",)] == m(2, 1)
    assert source.values[("name",)] == m(2, 7)
    # flow mapping inside a block list
    assert source.values[("stages",)] == m(5, 3)
    assert source.values[("stages", 0)] == m(5, 5)
    assert source.keys[("stages", 0, "depth")] == m(5, 6)
    assert source.values[("stages", 0, "depth")] == m(5, 13)
    assert source.keys[("stages", 0, "width")] == m(5, 16)
    assert source.values[("stages", 0, "width")] == m(5, 23)
    # block mapping inside a block list
    assert source.values[("stages", 1)] == m(6, 5)
    assert source.keys[("stages", 1, "depth")] == m(6, 5)
    assert source.values[("stages", 1, "depth")] == m(6, 12)
    assert source.keys[("stages", 1, "width")] == m(7, 5)
    assert source.keys[("stages", 1, "block", "kind")] == m(9, 7)
    assert source.values[("stages", 1, "block", "kind")] == m(9, 13)
    assert source.keys[("input", "size")] == m(3, 22)
    # every value has a position, every mapping entry a key position
    assert len(source.values) == 16
    assert set(source.keys) == set(source.values) - {(), ("stages", 0), ("stages", 1)}


def test_mark_prefers_key_then_value_then_ancestors() -> None:
    source = load_yaml(SPEC, "spec.yaml")
    assert source.mark(("stages", 0, "depth")) == Mark("spec.yaml", 5, 6)
    # a list item has no key: its value is the best position
    assert source.mark(("stages", 1)) == Mark("spec.yaml", 6, 5)
    # fields the document leaves out are reported where their parent is written
    assert source.mark(("stages", 0, "stride")) == Mark("spec.yaml", 5, 5)
    assert source.mark(("stages", 7, "depth")) == Mark("spec.yaml", 4, 1)
    assert source.mark(("nonexistent", "deeper")) == Mark("spec.yaml", 2, 1)
    assert source.mark(()) == Mark("spec.yaml", 2, 1)
    assert Source(data={}, file="x", values={}, keys={}).mark(("a",)) is None


def test_bom_crlf_and_bytes() -> None:
    source = load_yaml(b"\xef\xbb\xbfname: caf\xc3\xa9\r\ndepth: 3\r\n", "spec.yaml")
    assert source.data == {"name": "café", "depth": 3}
    assert source.keys[("depth",)] == Mark("spec.yaml", 2, 1)


def test_scalar_resolution_matches_safe_load() -> None:
    text = (
        "a: 12\nb: 1.5\nc: yes\nd: ~\ne: '12'\nf: 0x1f\ng: 012\nh: 1.0e+3\ni: 1e3\n"
        "j: !!str 3\nk: !!float 2\nl:\nm: 1_000\nn: -.inf\no: [Off, NULL, '', 2:30]\n"
    )
    data = load_yaml(text).data
    # One difference on purpose: YAML 1.1 leaves `1e3` (no dot) a string, a spec reads
    # the number (as YAML 1.2 does).
    assert data == {**yaml.safe_load(text), "i": 1000.0}
    assert data["c"] is True and data["g"] == 10 and data["h"] == 1000.0 and data["i"] == 1000.0
    assert data["n"] == -math.inf and data["o"] == [False, None, "", 150]
    assert math.isnan(load_yaml("x: .NaN").data["x"])


def test_implicit_timestamp_is_a_string() -> None:
    assert load_yaml("date: 2024-01-01\n").data == {"date": "2024-01-01"}


def test_merge_key_explicit_entries_win() -> None:
    text = (
        "defaults: &d {depth: 3, width: 64}\n"
        "wide: &w {width: 256, groups: 32}\n"
        "stages:\n"
        "  - <<: *d\n"
        "    width: 128\n"
        "  - <<: [*w, *d]\n"
    )
    source = load_yaml(text, "spec.yaml")
    assert source.data["stages"] == [
        {"depth": 3, "width": 128},
        {"depth": 3, "width": 256, "groups": 32},
    ]
    assert list(source.data["stages"][1]) == ["width", "groups", "depth"]
    # merged entries point where they are written, in the anchor
    assert source.keys[("stages", 0, "depth")] == Mark("spec.yaml", 1, 15)
    assert source.keys[("stages", 0, "width")] == Mark("spec.yaml", 5, 5)
    assert source.keys[("stages", 1, "width")] == Mark("spec.yaml", 2, 11)


def test_merge_key_needs_mappings() -> None:
    raises("a: &a [1]\nb:\n  <<: *a\n", "merge key '<<'", line=3)


def test_alias_value_is_placed_at_the_alias() -> None:
    text = "base: &b {depth: 3}\nstages:\n  - *b\n  - *b\n"
    source = load_yaml(text, "spec.yaml")
    assert source.data["stages"] == [{"depth": 3}, {"depth": 3}]
    assert source.values[("stages", 1)] == Mark("spec.yaml", 4, 5)
    assert source.keys[("stages", 1, "depth")] == Mark("spec.yaml", 1, 11)


# --- bad input: one test per category ---------------------------------------------------


def test_invalid_utf8() -> None:
    error = raises(b"name: ok\ndepth: \xff\xfe\n", "not a UTF-8 text file", line=2)
    assert error.column == 8


def test_random_binary() -> None:
    blob = random.Random(1).randbytes(4096)
    raises(blob, "not a UTF-8 text file")


def test_nul_bytes() -> None:
    raises(b"name: x\x00y\n", "not a UTF-8 text file", line=1)


def test_too_large() -> None:
    raises("a: " + "x" * (1024 * 1024), "file too large")
    raises(b"a: " + b"x" * (1024 * 1024), "file too large")


def test_python_tag_is_refused_and_never_runs(tmp_path: FilePath) -> None:
    marker = tmp_path / "pwned"
    payload = f'cmd: !!python/object/apply:os.system ["touch {marker}"]\n'
    raises(payload, "unsupported YAML tag '!!python/object/apply:os.system'", line=1)
    raises('!!python/object/apply:os.system ["echo pwned"]\n', "!!python/object/apply", line=1)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!set {x, y}\n", "!!set"),
        ("a: !!timestamp 2024-01-01\n", "!!timestamp"),
        ("a: !custom 3\n", "!custom"),
        ("a: !!python/name:os.system\n", "!!python/name:os.system"),
    ],
)
def test_unsupported_tags(text: str, tag: str) -> None:
    error = raises(text, f"unsupported YAML tag '{tag}'", line=1)
    assert error.column == 4
    assert error.path == ("a",)


def test_standard_tag_on_wrong_kind_or_bad_value() -> None:
    raises("a: !!str [1]\n", "'!!str' cannot be used on a list", line=1)
    raises("a: 1\nb: !!int abc\n", "cannot read 'abc' as an integer", line=2)
    raises("a: " + "9" * 5000 + "\n", "as an integer", line=1)


def test_duplicate_key() -> None:
    text = "name: x\nstages:\n  - depth: 3\n    width: 64\n    depth: 4\n"
    error = raises(text, "duplicate key 'depth' (first at line 3)", line=5)
    assert error.column == 5
    assert error.path == ("stages", 0, "depth")


def test_non_string_keys() -> None:
    raises("name: x\n1: one\n", "mapping keys must be strings", line=2)
    raises("yes: a\n", "mapping keys must be strings", line=1)
    raises("? [a, b]\n: c\n", "mapping keys must be strings", line=1)


@pytest.mark.parametrize("text", ["", "# only a comment\n\n# and another\n", "---\n"])
def test_empty_spec(text: str) -> None:
    raises(text, "empty spec")


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "a string"), ("3\n", "a number")]
)
def test_spec_must_be_a_mapping(text: str, kind: str) -> None:
    raises(text, f"a spec must be a mapping, not {kind}", line=1)


def test_multiple_documents() -> None:
    raises("a: 1\n---\nb: 2\n", "expected a single YAML document", line=2)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("name: x\ndepth: 3: 4\n", 2, 9, "mapping values are not allowed here"),
        ("a:\n\tb: 1\n", 2, 1, "found character '\\t'"),
        ("a: [1, 2\nb: 3\n", 2, 2, "expected ',' or ']'"),
        ("a: *nowhere\n", 1, 4, "found undefined alias"),
    ],
)
def test_syntax_errors(text: str, line: int, column: int, fragment: str) -> None:
    error = raises(text, fragment, line=line)
    assert error.column == column
    assert error.message.startswith("YAML syntax error: ")


def test_duplicate_anchor() -> None:
    raises("a: &x 1\nb: &x 2\n", "duplicate anchor 'x' (first at line 1)", line=2)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    # The node budget stops the expansion: the error is the proof the work was bounded.
    raises("\n".join(lines) + "\n", "too many nodes (alias expansion?)")


def test_many_merges_are_bounded_too() -> None:
    # each level merges the previous one twice: the work doubles with every line
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 40)]
    raises("\n".join(lines) + "\n", "too many nodes")


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: {c: *x}}\n"])
def test_recursive_alias(text: str) -> None:
    raises(text, "recursive alias '*x'", line=1)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 10_000,
        "a: " + "{b: " * 10_000,
        "".join("  " * i + f"k{i}:\n" for i in range(200)),
        "a: " + "[" * 65 + "]" * 65 + "\n",
    ],
)
def test_deep_nesting(text: str) -> None:
    raises(text, "nesting deeper than 64 levels")


def test_nesting_limit_is_64_levels() -> None:
    # the root mapping holds "a", which holds 63 more lists: paths of length 64
    data = load_yaml("a: " + "[" * 63 + "1" + "]" * 63 + "\n").data
    expected: object = 1
    for _ in range(63):
        expected = [expected]
    assert data == {"a": expected}


def test_recursion_error_becomes_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the depth bound lifted, PyYAML's recursive composer runs out of stack; that
    # must still come out as a SpecError.
    monkeypatch.setattr(yaml_source, "MAX_DEPTH", 10**9)
    raises("a: " + "[" * 100_000, "nesting deeper than")


# --- parse_scalar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("23", 23),
        ("-4", -4),
        ("0.5", 0.5),
        ("basic", "basic"),
        ("'23'", "23"),
        ("true", True),
        ("null", None),
        ("2024-01-01", "2024-01-01"),
        ("[1, 2]", [1, 2]),
        ("{a: 1, b: [x]}", {"a": 1, "b": ["x"]}),
    ],
)
def test_parse_scalar(text: str, value: object) -> None:
    assert parse_scalar(text) == value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty value"),
        ("[1, 2", "YAML syntax error"),
        ("a: 1", "not a block mapping"),
        ("!!python/name:os.system", "unsupported YAML tag"),
        ("{a: 1, a: 2}", "duplicate key 'a'"),
        ("1\n---\n2", "expected a single YAML document"),
        ("[" * 1000, "nesting deeper than 64 levels"),
    ],
)
def test_parse_scalar_rejects(text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_scalar(text, "--set stages[0].depth")
    assert fragment in info.value.message
    assert info.value.file == "--set stages[0].depth"


# --- property: a Source with a dict, or a SpecError; nothing else -----------------------


def check_total(payload: str | bytes) -> None:
    try:
        source = load_yaml(payload, "fuzz.yaml")
    except SpecError as error:
        assert error.file == "fuzz.yaml"
        assert "\n" not in error.message
    else:
        assert isinstance(source.data, dict)
        assert () in source.values


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_loads_or_raises_spec_error(text: str) -> None:
    check_total(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_load_or_raise_spec_error(blob: bytes) -> None:
    check_total(blob)


# fmt: off
TOKENS = [
    "a", "b", ":", ": ", " ", "  ", "\n", "\t", "- ", "[", "]", "{", "}", ",", "&x", "*x",
    "&y", "*y", "<<", "!!", "!t", "'", '"', "#", "?", "|", ">", "---", "...", "1", "yes",
    "~", ".nan", "0x_", "%TAG", "!!str", "!!map", "!!python/object:os.system",
]
# fmt: on
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_yaml_like_text_loads_or_raises_spec_error(text: str) -> None:
    check_total(text)


@pytest.mark.parametrize(
    ("text", "value"), [("1e-3", 1e-3), ("1E-4", 1e-4), ("-2e+2", -200.0), ("3.5e1", 35.0)]
)
def test_a_number_with_an_exponent_is_a_number(text: str, value: float) -> None:
    # YAML 1.1 reads `1e-3` as a string; a spec means the number, as YAML 1.2 reads it.
    assert load_yaml(f"rtol: {text}\n", "<t>").data == {"rtol": value}
    assert load_yaml(f"rtol: '{text}'\n", "<t>").data == {"rtol": text}
