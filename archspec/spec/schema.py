"""The spec language's JSON Schema (for editors) and its Markdown reference (docs/spec.md),
both generated from the pydantic models and the block registry, so neither can drift."""

from __future__ import annotations

import sys
from typing import Any

from archspec.blocks import blocks
from archspec.spec.model import ArchSpec

SCHEMA_ID = "https://archspec.dev/schema/archspec.schema.json"


def _block_schemas(defs: dict[str, Any]) -> list[dict[str, Any]]:
    """One schema per block type, every field optional: a stage may inherit any of them
    from ``defaults``, and ``defaults`` may hold any of them."""
    from archspec.spec.ode import OdeSpec

    ode = OdeSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(ode.pop("$defs", {}))
    defs["OdeSpec"] = ode
    out = []
    for name, block_type in blocks().items():
        schema = block_type.config.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema.pop("required", None)
        schema["properties"]["block"] = {"const": name, "description": block_type.summary}
        # A stage's `ode:` is read beside its block settings (archspec/spec/ode.py).
        schema["properties"]["ode"] = {
            "anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/OdeSpec"}],
            "description": "Integrate the stage's residual branch as an ODE (docs/ode.md).",
        }
        schema["title"] = f"{name} block"
        defs[f"block_{name}"] = schema
        out.append({"$ref": f"#/$defs/block_{name}"})
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file.

    Example::

        json.dump(json_schema(), open("archspec.schema.json", "w"))
    """
    schema = ArchSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    stage = {"anyOf": _block_schemas(defs)}
    props = schema["properties"]
    props["stages"]["items"] = stage
    props["defaults"] = {**stage, "description": props["defaults"].get("description", "")}
    props["extends"] = {
        "type": "string",
        "description": "A preset name or a path (relative to this file, inside the directory "
        "of the spec named) whose spec this one deep-merges over; lists are replaced whole.",
    }
    # A spec that extends another inherits what it leaves out: only a complete spec (no
    # extends:) must give every required key.
    required = schema.pop("required", [])
    schema["if"] = {"not": {"required": ["extends"]}}
    schema["then"] = {"required": required}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def _type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return defs[prop["$ref"].split("/")[-1]].get("title", "object")
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            parts = [_type_text(p, defs) for p in prop[key]]
            return " \\| ".join(dict.fromkeys(p for p in parts if p))
    kind = prop.get("type", "")
    if kind == "array":
        items = prop.get("items") or prop.get("prefixItems")
        if isinstance(items, list):
            return "[" + ", ".join(_type_text(i, defs) for i in items) + "]"
        return f"list of {_type_text(items, defs)}" if items else "list"
    if kind == "object":
        return "mapping"
    if kind == "null":
        return ""
    return str(kind)


def _bounds(prop: dict[str, Any]) -> str:
    found: list[str] = []

    def visit(p: dict[str, Any]) -> None:
        for key, sign in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
            ("minItems", "items ≥"),
            ("maxItems", "items ≤"),
            ("pattern", "matches"),
        ):
            if key in p:
                text = f"{sign} `{p[key]}`" if key == "pattern" else f"{sign} {p[key]:,}"
                if text not in found:
                    found.append(text)
        for sub in (*p.get("anyOf", []), *p.get("prefixItems", [])):
            visit(sub)
        if isinstance(p.get("items"), dict):
            visit(p["items"])

    visit(prop)
    return ", ".join(found)


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    if value is None:
        return "none"
    return f"`{value}`" if value != "" else '`""`'


def _md(text: str) -> str:
    """Docstring prose as one Markdown line: reST literals become code spans."""
    return " ".join(text.split()).replace("``", "`").replace("::", ":").replace("|", "\\|")


def _table(
    model: dict[str, Any],
    defs: dict[str, Any],
    skip: set[str] = frozenset(),
    required: set[str] | None = None,
) -> str:
    rows = ["| field | type | default | bounds | meaning |", "|---|---|---|---|---|"]
    required = (
        set(model.get("required", model.get("then", {}).get("required", [])))
        if required is None
        else required
    )
    for name, prop in model.get("properties", {}).items():
        if name in skip:
            continue
        default = "required" if name in required else _default(prop)
        desc = _md(prop.get("description", ""))
        rows.append(
            f"| `{name}` | {_type_text(prop, defs)} | {default} | {_bounds(prop)} | {desc} |"
        )
    return "\n".join(rows)


def markdown_reference() -> str:
    """docs/spec.md: the spec language reference."""
    schema = json_schema()
    defs = schema["$defs"]
    parts = [
        "# The spec language",
        "",
        "<!-- Generated by scripts/gen_spec_docs.py from the pydantic models; do not edit. "
        "tests/test_docs.py fails when this file is out of date. -->",
        "",
        'A spec is a YAML mapping. Unknown keys are errors (with a "did you mean" hint), '
        'integers must be written as integers (`3`, not `3.0` or `"3"`), and every error '
        "names the file, line, column and field.",
        "",
        "## Top level",
        "",
        _table(schema, defs, skip={"defaults", "stages", "extends"}),
        "| `defaults` | mapping | `{}` |  | Block settings every stage inherits: any key a "
        "stage takes (below). |",
        "| `stages` | list of stages | required | items ≥ 1, items ≤ 64 | The stages, in "
        "order; each is `depth` blocks of one type. |",
        "| `extends` | string | | | A preset name or a path (relative to this file) whose "
        "spec this file deep-merges over; lists such as `stages` are replaced whole. |",
        "",
        "### What `extends:` may read",
        "",
        "- A preset name (`extends: resnet50`) is always allowed.",
        "- A path is resolved from the directory of the file that holds it. Absolute paths "
        "(and `~`) are refused, and so is a path that leads, symlinks followed, outside the "
        "*spec root*: the directory of the spec file you named and everything below it. "
        "`../base.yaml` from `nets/a.yaml` is fine when you named `top.yaml` beside "
        "`base.yaml`; it is refused when you named `nets/a.yaml` itself.",
        "- A spec not read from a file you named reads no file at all: a shipped preset, "
        "YAML text (`ArchSpec.from_yaml`) and the spec inside a checkpoint may extend "
        "presets only, so a crafted checkpoint cannot make archspec read `/etc/shadow`.",
        "- A file beside the spec wins over a preset of the same name (presets extend "
        "presets by name, whatever files sit in the working directory).",
        "- An error in an extended file names that file's line and the `extends:` line "
        "that reached it: `base.yaml:9:3: ... (reached through extends: at spec.yaml:1:10)`.",
        "",
    ]
    for title, key in (
        ("input", "InputSpec"),
        ("head", "HeadSpec"),
        ("stem (named, with a width)", "NamedStem"),
    ):
        parts += [f"## `{title}`", "", _table(defs[key], defs), ""]
    parts += [
        "## `stem` as a list of layers",
        "",
        "Each entry is one layer, named by its one distinguishing key. Layers are named "
        "in the built model as torchvision names them: `conv1`, `bn1`, `relu`, `maxpool`, "
        "then `conv2`, `bn2`, ...; a norm before any conv is `bn0`, and a name already "
        "taken gets a suffix (a second max pool is `maxpool_2`), so two layers never "
        "share a module.",
        "",
    ]
    for key in ("ConvLayer", "NormLayer", "ActLayer", "PoolLayer"):
        parts += [f"### {key.removesuffix('Layer').lower()}", "", _table(defs[key], defs), ""]
    parts += [
        "## Norms and activations with settings",
        "",
        "Wherever a spec takes a norm or an activation (a stage, `defaults`, a stem), it "
        "takes a name (`norm: group`, `act: leaky_relu`) or a mapping with the kind's "
        "settings; a mapping that writes only defaults is the name (one architecture, one "
        "`arch_id`). See [norms.md](norms.md).",
        "",
    ]
    for title, key in (
        ("norm: {kind, groups}", "NormSetting"),
        ("act: {kind, slope}", "ActSetting"),
    ):
        parts += [f"### `{title}`", "", _table(defs[key], defs), ""]
    parts += [
        "## Stages and block types",
        "",
        "A stage is `defaults` with the stage's own keys merged over them, validated as the "
        "block type `block` names. Settings every block type takes come first in each "
        "table.",
        "",
    ]
    for name, block_type in blocks().items():
        schema_b = defs[f"block_{name}"]
        doc = sys.modules[block_type.lower.__module__].__doc__ or block_type.summary
        fields = block_type.config.model_fields
        required = {k for k, f in fields.items() if f.is_required()}
        parts += [
            f"### `block: {name}`",
            "",
            _md(doc.strip().split("\n\n")[0]),
            "",
            _table(schema_b, defs, skip={"block"}, required=required),
            "",
        ]
    from archspec.blocks.skips import DOWNSAMPLES, SKIPS

    parts += ["## Skip kinds", "", "| `skip` | meaning |", "|---|---|"]
    for name, fn in SKIPS.items():
        parts.append(f"| `{name}` | {_md(fn.__doc__ or '')} |")
    parts += ["", "| `downsample` | meaning |", "|---|---|"]
    for name, fn in DOWNSAMPLES.items():
        parts.append(f"| `{name}` | {_md(fn.__doc__ or '')} |")
    return "\n".join(parts) + "\n"
