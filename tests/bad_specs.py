"""Bad input, one case per kind of mistake, shared by test_spec_errors.py (the Python
API) and test_cli.py (the real command line).

Each case is a set of files written to a fresh directory, the spec argument to load
from there, optional ``--set`` overrides, and what the error must say: its class, the
file (and line) it points at, the field path, and fragments of the message.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from archspec.errors import GraphError, SpecError

# line numbers are those of this text
BASE = """\
name: tiny
description: a small CIFAR-style net
input: {channels: 3, size: 32}
stem: cifar
defaults:
  block: basic
  skip: identity
  downsample: pad
stages:
  - {depth: 2, width: 16}
  - {depth: 2, width: 32, stride: 2}
head: {classes: 10}
"""
STAGE0 = "{depth: 2, width: 16}"  # line 10


def sub(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@dataclass(frozen=True)
class Bad:
    id: str
    files: dict[str, str | bytes]
    fragments: tuple[str, ...] = ()
    line: int | None = None  # where the error points, in `where`
    field: str | None = None  # the field path, as users write it
    where: str | None = "spec.yaml"  # the file the error names (None: no file)
    spec: str = "spec.yaml"  # the argument given to load / the CLI
    sets: tuple[str, ...] = ()
    error: type = SpecError
    marks: tuple[str, ...] = ()  # files that must never be created


def one(id: str, text: str | bytes, *fragments: str, **kw) -> Bad:
    return Bad(id, {"spec.yaml": text}, fragments, **kw)


BILLION_LAUGHS = "".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n",
        *(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "name: boom\n",
    ]
)

CASES: list[Bad] = [
    # --- reading the file --------------------------------------------------------------
    one("yaml-syntax", sub("stem: cifar", "stem: cifar: deep"), "YAML syntax error", line=4),
    one("yaml-unclosed-flow", sub(STAGE0, "{depth: 2, width: 16"), "YAML syntax error"),
    one("yaml-tab-indent", sub("  block: basic", "\tblock: basic"), "YAML syntax error", line=6),
    one("empty-file", "", "empty spec"),
    one("only-comments", "# nothing here\n\n", "empty spec"),
    one("not-a-mapping-list", "- resnet\n- 20\n", "must be a mapping, not a list", line=1),
    one("not-a-mapping-scalar", "resnet20\n", "must be a mapping, not a string", line=1),
    one("binary-garbage", random.Random(0).randbytes(2048), "not a UTF-8 text file"),
    one("binary-png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a UTF-8 text file"),
    one(
        "unsafe-python-tag",
        'name: !!python/object/apply:os.system ["touch PWNED"]\n' + BASE.split("\n", 1)[1],
        "unsupported YAML tag '!!python/object/apply:os.system'",
        line=1,
        field="name",
        marks=("PWNED",),
    ),
    one(
        "unsafe-python-tag-document",
        '!!python/object/new:os.system ["touch PWNED"]\n',
        "unsupported YAML tag",
        line=1,
        marks=("PWNED",),
    ),
    one("alias-bomb", BILLION_LAUGHS, "too many nodes"),
    one("recursive-alias", "a: &a [*a]\n", "recursive alias", line=1),
    one("deep-nesting-flow", "name: " + "[" * 200 + "]" * 200 + "\n", "nesting deeper than 64"),
    one(
        "deep-nesting-block",
        "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n",
        "nesting deeper than 64",
    ),
    one("duplicate-key", BASE + "name: other\n", "duplicate key 'name'", "line 1", line=13),
    one(
        "duplicate-key-in-flow",
        sub(STAGE0, "{depth: 2, width: 16, depth: 3}"),
        "duplicate key 'depth'",
        line=10,
    ),
    one("non-string-key", sub("head: {classes: 10}", "head: {classes: 10, 3: x}"), "keys must"),
    # --- unknown keys ------------------------------------------------------------------
    one(
        "misspelt-top-key",
        sub("head:", "haed:"),
        "unknown key 'haed'",
        "did you mean 'head'?",
        line=12,
        field="haed",
    ),
    one(
        "misspelt-stage-key",
        sub(STAGE0, "{depth: 2, widht: 16}"),
        "did you mean 'width'?",
        line=10,
        field="stages[0].widht",
    ),
    one(
        "misspelt-input-key",
        sub("size: 32}", "size: 32, chanels: 1}"),
        "did you mean 'channels'?",
        line=3,
        field="input.chanels",
    ),
    one(
        "misspelt-stem-layer-key",
        sub("stem: cifar", "stem: [{conv: 16, kernal: 3}]"),
        "did you mean 'kernel'?",
        line=4,
        field="stem[0].kernal",
    ),
    one(
        "unknown-key-inherited-from-defaults",
        sub("  downsample: pad", "  downsample: pad\n  widht: 8"),
        "unknown key 'widht'",
        "did you mean 'width'?",
        line=9,
        field="defaults.widht",
    ),
    one(
        "key-of-another-block-type-in-defaults",
        sub("  downsample: pad", "  downsample: pad\n  stride_at: 1x1"),
        "unknown key 'stride_at' for block type 'basic'",
        line=9,
        field="defaults.stride_at",
    ),
    # --- wrong types -------------------------------------------------------------------
    one(
        "string-for-int",
        sub(STAGE0, "{depth: two, width: 16}"),
        "must be a valid integer",
        "'two'",
        line=10,
        field="stages[0].depth",
    ),
    one(
        "quoted-number",
        sub(STAGE0, "{depth: '2', width: 16}"),
        "must be a valid integer",
        line=10,
        field="stages[0].depth",
    ),
    one(
        "bool-for-int",
        sub(STAGE0, "{depth: true, width: 16}"),
        "must be a valid integer",
        field="stages[0].depth",
    ),
    one(
        "list-for-int",
        sub(STAGE0, "{depth: 2, width: [16]}"),
        "must be a valid integer",
        field="stages[0].width",
    ),
    one(
        "mapping-for-name",
        sub("name: tiny", "name: {a: 1}"),
        "must be a valid string",
        field="name",
    ),
    one(
        "scalar-for-head",
        sub("head: {classes: 10}", "head: 10"),
        "must be a mapping (got 10)",
        field="head",
        line=12,
    ),
    one(
        "scalar-for-stages",
        sub(
            "stages:\n  - {depth: 2, width: 16}\n  - {depth: 2, width: 32, stride: 2}", "stages: 3"
        ),
        "must be a list",
        field="stages",
    ),
    one("stage-not-a-mapping", sub(STAGE0, "3"), "must be a mapping", field="stages[0]", line=10),
    one(
        "stage-and-head-errors-counted-together",  # stages are checked though head fails
        sub("head: {classes: 10}", "head: {classes: 0}", sub(STAGE0, "{depth: 2, widht: 16}")),
        "did you mean 'width'? (and 1 more problem)",
        field="stages[0].widht",
        line=10,
    ),
    one(
        "name-with-a-space",
        sub("name: tiny", "name: my net"),
        "may hold only letters, digits and _ . -",
        field="name",
        line=1,
    ),
    one("empty-name", sub("name: tiny", "name: ''"), "must not be empty", field="name", line=1),
    one(
        "huge-description",  # the message shows the start of the value, not all of it
        sub("a small CIFAR-style net", "x" * 20_000),
        "must have at most 10000 characters",
        "(20000 characters)",
        field="description",
        line=2,
    ),
    one(
        "four-numbers-for-size",
        sub("size: 32}", "size: [32, 32, 32, 32]}"),
        "must have at most 3 items, not 4",
        field="input.size",
        line=3,
    ),
    one(
        "string-for-bool",
        sub("  downsample: pad", "  downsample: pad\n  zero_init_last: 'yes'"),
        "must be a valid boolean",
        field="defaults.zero_init_last",
        line=9,
    ),
    one("bad-name-chars", sub("name: tiny", "name: 'my net'"), field="name", line=1),
    # --- numbers that are not counts -----------------------------------------------------
    one(
        "nan-depth",
        sub(STAGE0, "{depth: .nan, width: 16}"),
        "whole number",
        line=10,
        field="stages[0].depth",
    ),
    one(
        "fractional-depth",
        sub(STAGE0, "{depth: 2.5, width: 16}"),
        "whole number",
        "2.5",
        field="stages[0].depth",
    ),
    one(
        "float-depth",
        sub(STAGE0, "{depth: 2.0, width: 16}"),
        "whole number",
        field="stages[0].depth",
    ),
    one("inf-width", sub(STAGE0, "{depth: 2, width: .inf}"), field="stages[0].width"),
    one(
        "nan-dropout",
        sub("{classes: 10}", "{classes: 10, dropout: .nan}"),
        "finite",
        field="head.dropout",
    ),
    one("fractional-size", sub("size: 32}", "size: 32.5}"), "whole number", field="input.size"),
    # --- out of range ----------------------------------------------------------------------
    *(
        one(
            f"{what}-below-1",
            sub(old, new),
            "greater than or equal to 1",
            field=where,
            line=line,
        )
        for what, old, new, where, line in [
            ("depth", STAGE0, "{depth: 0, width: 16}", "stages[0].depth", 10),
            ("negative-depth", STAGE0, "{depth: -3, width: 16}", "stages[0].depth", 10),
            ("width", STAGE0, "{depth: 2, width: 0}", "stages[0].width", 10),
            ("stride", STAGE0, "{depth: 2, width: 16, stride: 0}", "stages[0].stride", 10),
            ("classes", "{classes: 10}", "{classes: 0}", "head.classes", 12),
            ("size", "size: 32}", "size: 0}", "input.size", 3),
            ("channels", "channels: 3", "channels: 0", "input.channels", 3),
        ]
    ),
    one(
        "dropout-1",
        sub("{classes: 10}", "{classes: 10, dropout: 1.0}"),
        "less than 1",
        field="head.dropout",
    ),
    one(
        "empty-stages",
        sub("  - {depth: 2, width: 16}\n  - {depth: 2, width: 32, stride: 2}\n", "").replace(
            "stages:\n", "stages: []\n"
        ),
        "at least 1",
        field="stages",
        line=9,
    ),
    # --- absurd sizes: refused while validating, before anything is allocated ---------
    one(
        "absurd-depth",
        sub(STAGE0, "{depth: 1000000000, width: 16}"),
        "less than or equal to",
        field="stages[0].depth",
        line=10,
    ),
    one(
        "absurd-width",
        sub(STAGE0, "{depth: 2, width: 10000000}"),
        "less than or equal to",
        field="stages[0].width",
        line=10,
    ),
    one("absurd-size", sub("size: 32}", "size: 1000000000}"), field="input.size"),
    one("absurd-classes", sub("{classes: 10}", "{classes: 1000000000000}"), field="head.classes"),
    one("absurd-digits", sub("{classes: 10}", "{classes: " + "9" * 5000 + "}"), "cannot read"),
    one(
        "absurd-total-depth",
        sub(STAGE0, "\n  - ".join(["{depth: 4096, width: 16}"] * 5)),
        "more than",
        "blocks",
        field="stages",
    ),
    # --- unknown names ---------------------------------------------------------------------
    one(
        "unknown-block",
        sub("block: basic", "block: basik"),
        "unknown block type 'basik'",
        "allowed: basic, bottleneck",
        "preact",
        field="defaults.block",
        line=6,
    ),
    one(
        "unknown-block-in-stage",
        sub(STAGE0, "{depth: 2, width: 16, block: bottelneck}"),
        "unknown block type 'bottelneck'",
        "allowed:",
        field="stages[0].block",
        line=10,
    ),
    one("missing-block", sub("  block: basic\n", ""), "missing block type", "allowed:"),
    one(
        "unknown-skip",
        sub("skip: identity", "skip: identiy"),
        "unknown skip kind 'identiy'",
        "allowed: identity, projection, pad",
        "none",
        field="defaults.skip",
        line=7,
    ),
    one(
        "unknown-downsample",
        sub("downsample: pad", "downsample: pool"),
        "unknown downsample kind 'pool'",
        "allowed: projection",
        "pad",
        field="defaults.downsample",
        line=8,
    ),
    one("unknown-stem", sub("stem: cifar", "stem: cifarr"), "'imagenet'", field="stem", line=4),
    one(
        "unknown-act",
        sub("  downsample: pad", "  downsample: pad\n  act: relu7"),
        "'relu'",
        field="defaults.act",
        line=9,
    ),
    # --- extends ---------------------------------------------------------------------------
    Bad(
        "extends-cycle",
        {"spec.yaml": "extends: b.yaml\nname: a\n", "b.yaml": "extends: spec.yaml\nname: b\n"},
        ("cycle",),
        line=1,
        field="extends",
        where="b.yaml",
    ),
    one("extends-itself", "extends: spec.yaml\nname: x\n", "cycle", line=1, field="extends"),
    one(
        "extends-missing-parent",
        "name: x\nextends: no_such_parent.yaml\n",
        "cannot extend 'no_such_parent.yaml'",
        "no such file or preset",
        line=2,
        field="extends",
    ),
    one("extends-not-a-name", "extends: [resnet20]\n", "must name a preset or a path", line=1),
    Bad(
        "error-in-parent-points-at-parent",
        {
            "spec.yaml": "extends: parent.yaml\nname: child\n",
            "parent.yaml": sub("  downsample: pad", "  downsample: pad\n  foo: 1"),
        },
        ("unknown key 'foo'",),
        line=9,
        field="defaults.foo",
        where="parent.yaml",
    ),
    Bad(
        "error-in-child-points-at-child",
        {"spec.yaml": "extends: resnet20\nname: child\nhead: {classes: 0}\n"},
        ("greater than or equal to 1",),
        line=3,
        field="head.classes",
    ),
    # --- networks that validate but cannot be lowered --------------------------------------
    one(
        "input-too-small",
        sub("size: 32}", "size: 1}"),
        "layer2.0",
        "too small",
        where=None,
        error=GraphError,
    ),
    one(
        "input-too-small-imagenet",
        "extends: resnet18\nname: small\ninput: {size: 8}\n",
        "layer3.0",
        "too small",
        where=None,
        error=GraphError,
    ),
    one(
        "pad-skip-cannot-shrink",
        sub("  - {depth: 2, width: 32, stride: 2}", "  - {depth: 2, width: 8, stride: 2}"),
        "layer2.0",
        "pad skip",
        where=None,
        error=GraphError,
    ),
    # --- overrides ---------------------------------------------------------------------------
    one("set-empty-path-part", BASE, "bad override path", sets=("stages..depth=2",), where=None),
    one("set-without-value", BASE, "PATH=VALUE", sets=("stages.0.depth",), where=None),
    one("set-empty-path", BASE, "PATH=VALUE", sets=("=3",), where=None),
    one(
        "set-index-out-of-range",
        BASE,
        "stages has 2 entries; no index 5",
        sets=("stages.5.depth=2",),
        where=None,
    ),
    one("set-not-an-index", BASE, "no index x", sets=("stages.x.depth=2",), where=None),
    one(
        "set-digits-as-a-mapping-key",  # a key like any other, not a list index
        BASE,
        "unknown key '0'",
        "allowed: pool, classes, dropout",
        sets=("head.0=2",),
        field="head.0",
        where=None,
    ),
    one("set-into-a-scalar", BASE, "name is not a mapping", sets=("name.first=x",), where=None),
    one(
        "set-invalid-value",
        BASE,
        "must be a valid integer",
        "'abc'",
        sets=("stages.0.depth=abc",),
        field="stages[0].depth",
        where=None,
    ),
    one(
        "set-out-of-range",
        BASE,
        "less than or equal to",
        sets=("stages.1.width=100000000",),
        field="stages[1].width",
        where=None,
    ),
    one(
        "set-misspelt-key",
        BASE,
        "did you mean 'classes'?",
        sets=("head.clases=3",),
        field="head.clases",
        where=None,
    ),
    one(
        "set-non-ascii-digit-index",
        BASE,
        "no index ²",
        sets=("stages.².depth=2",),
        where=None,
    ),
    one(
        "set-value-with-a-newline",  # shown escaped: the message stays one line
        BASE,
        "'stages.0.depth=2\\n  3: 4'",
        sets=("stages.0.depth=2\n  3: 4",),
        where=None,
    ),
    one(
        "set-huge-value",
        BASE,
        "must have at most 10000 characters",
        "(12000 characters)",
        sets=("description=" + "y" * 12_000,),
        field="description",
        where=None,
    ),
    one(
        "set-bad-yaml-value",
        BASE,
        "--set: stages.0.depth=[1: YAML syntax error",  # not as a file position (:1:3)
        "(column 3 of the value)",
        sets=("stages.0.depth=[1",),
        where=None,
    ),
    one(
        "set-unsafe-value",
        BASE,
        "unsupported YAML tag",
        sets=("name=!!python/object/apply:os.system [touch PWNED]",),
        where=None,
        marks=("PWNED",),
    ),
    # --- files ---------------------------------------------------------------------------------
    Bad("missing-file", {}, ("no such file or preset",), spec="nope.yaml", where="nope.yaml"),
    Bad("directory", {"sub/x.yaml": BASE}, ("is not a regular file",), spec="sub", where="sub"),
]
