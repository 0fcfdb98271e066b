"""Notebook display: an ArchSpec, a Summary and Stats through IPython's own display
formatter, their HTML and SVG parsed, every user string escaped, and no repr that raises."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

import archspec
from archspec.render import build_view
from archspec.render.notebook import MAX_NOTEBOOK_NODES

IPython = pytest.importorskip("IPython", reason="IPython is in the dev extra")
from IPython.core.formatters import DisplayFormatter  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="alert(1)">&amp; </details>'


def shown(obj: object) -> dict[str, str]:
    data, _ = DisplayFormatter().format(obj)
    assert "text/plain" in data
    return data


def parse(html: str) -> ET.Element:
    """The HTML as XML: well-formed, so nothing in it was left unescaped."""
    return ET.fromstring(f"<div>{html}</div>")


def rows(root: ET.Element) -> list[list[str]]:
    table = root.find(".//table")
    assert table is not None
    return [["".join(td.itertext()) for td in tr.findall("td")] for tr in table.iter("tr")][1:]


def active(root: ET.Element) -> list[str]:
    tags = [el.tag.split("}")[-1].lower() for el in root.iter()]
    attrs = [a for el in root.iter() for a in el.attrib if a.lower().startswith("on")]
    return [t for t in tags if t in ("script", "img", "iframe", "foreignobject")] + attrs


def svg_nodes(svg: ET.Element) -> int:
    return sum(1 for g in svg.iter(f"{SVG}g") if g.get("class") == "node")


@pytest.mark.parametrize("name", archspec.presets())
def test_spec_shows_its_table_and_block_diagram(name: str) -> None:
    spec = archspec.load(name)
    data = shown(spec)
    graph = archspec.lower(spec)
    view = build_view(graph, "block")
    if len(view.nodes) > MAX_NOTEBOOK_NODES:
        view = build_view(graph, "stage")
    svg = ET.fromstring(data["image/svg+xml"])
    assert svg.tag == f"{SVG}svg" and svg_nodes(svg) == len(view.nodes)
    root = parse(data["text/html"])
    assert not active(root)
    (inline,) = root.iter(f"{SVG}svg")
    assert svg_nodes(inline) == len(view.nodes)
    stats = archspec.stats(spec)
    table = rows(root)
    assert [r[0] for r in table] == [s.scope for s in graph.graph["stages"]]
    assert [r[4] for r in table] == [f"{stats.per_stage[r[0]]['params']:,}" for r in table]
    assert f"{stats.params:,} params" in "".join(root.itertext())


@pytest.mark.parametrize("name", archspec.presets())
def test_stats_show_their_per_part_table(name: str) -> None:
    stats = archspec.stats(name)
    data = shown(stats)
    root = parse(data["text/html"])
    table = rows(root)
    parts = [p for p in stats.per_stage if p != "input"]
    assert [r[0] for r in table] == parts
    assert [r[2] for r in table] == [f"{stats.per_stage[p]['macs']:,}" for p in parts]
    text = "".join(root.itertext())
    assert f"{stats.params:,} params" in text and "1 multiply-add = 1 MAC = 2 FLOPs" in text


def test_summary_shows_totals_stages_and_torchinfo() -> None:
    summary = archspec.summary("resnet20", input_size=(2, 3, 32, 32))
    root = parse(shown(summary)["text/html"])
    table = rows(root)
    assert [r[0] for r in table] == [p.name for p in summary.stages]
    assert [r[2] for r in table] == [f"{p.macs:,}" for p in summary.stages]
    assert table[-1][4] == "2×10"  # the batch of two, ten classes
    text = "".join(root.itertext())
    assert f"{summary.params:,} params" in text
    assert summary.torchinfo_table.splitlines()[1] in text  # the layer table, folded


def test_backbone_shows_feature_maps() -> None:
    data = shown(archspec.stats(archspec.load("resnet18").override({"features": True})))
    assert "5 feature maps" in "".join(parse(data["text/html"]).itertext())


def test_user_strings_are_escaped() -> None:
    spec = archspec.load("resnet20").override({"description": HOSTILE})
    root = parse(shown(spec)["text/html"])
    assert not active(root) and HOSTILE in "".join(root.itertext())
    stats = dataclasses.replace(archspec.stats("resnet20"), name=HOSTILE, uncounted=(HOSTILE,))
    root = parse(shown(stats)["text/html"])
    assert not active(root) and HOSTILE in "".join(root.itertext())
    summary = archspec.summary("resnet20")
    summary = dataclasses.replace(summary, name=HOSTILE, notes=(HOSTILE,), torchinfo_table=HOSTILE)
    root = parse(shown(summary)["text/html"])
    assert not active(root) and "".join(root.itertext()).count(HOSTILE) == 3


def test_a_failing_repr_falls_back_to_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.render import notebook

    def broken(*args: object) -> str:
        raise RuntimeError("Graphviz is gone")

    monkeypatch.setattr(notebook, "_diagram", broken)
    assert set(shown(archspec.load("resnet20"))) == {"text/plain"}
    bad = dataclasses.replace(archspec.stats("resnet20"), per_stage={"layer1": None})
    assert set(shown(bad)) == {"text/plain"}
    summary = dataclasses.replace(archspec.summary("resnet20"), stages=(None,))
    assert set(shown(summary)) == {"text/plain"}


def test_import_archspec_loads_no_display_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, archspec\n"
        "late = ['archspec.render.notebook', 'archspec.render.html', 'archspec.render.mermaid',"
        " 'IPython', 'selenium']\n"
        "print([m for m in late if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_notebooks_page_examples_run(tmp_path) -> None:
    """docs/notebooks.md: each Python block runs as written in a fresh interpreter, and
    each shell block's archspec commands run and write what they say."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "notebooks.md").read_text()
    blocks = re.findall(r"```(python|sh)\n(.*?)```", page, re.S)
    assert len(blocks) >= 5
    for lang, code in blocks:
        commands = (
            [[sys.executable, "-c", code]]
            if lang == "python"
            else [
                [sys.executable, "-m", "archspec.cli", *line.split("#")[0].split()[1:]]
                for line in code.splitlines()
                if line.startswith("archspec ")
            ]
        )
        for command in commands:
            proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
            assert proc.returncode == 0, (code, proc.stderr[-2000:])
    written = {p.name for p in tmp_path.iterdir()}
    assert {"resnet50.html", "resnet56.html", "resnet50.mmd", "resnet50_blocks.mmd"} <= written
