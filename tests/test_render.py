"""``archspec render``: diagrams through the real Graphviz layout engine, at each level of
detail, for every preset, block type and skip kind."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pygraphviz as pgv
import pytest
from cli_helpers import archspec_cli, assert_fails_cleanly, tiny_spec_data, write_spec

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.errors import ArchSpecError
from archspec.render import DETAILS, build_view, render_graph, style
from archspec.render import GRAPHVIZ_FORMATS as FORMATS
from archspec.render.collapse import block_runs
from archspec.render.labels import op_text
from archspec.spec.load import from_data

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_node_count(path: Path) -> int:
    """Nodes Graphviz drew, from the parsed SVG (each is a <g class="node">)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    return sum(1 for g in root.iter(f"{SVG_NS}g") if g.get("class") == "node")


def expected_counts(graph: nx.DiGraph) -> dict[str, int]:
    """How many nodes each detail draws, counted independently of the renderer: the
    parts of the network; the input, each stretch of ops outside blocks and each run of
    identical blocks; every op."""
    parts, stretches, previous = [], 0, None
    for _, data in graph.nodes(data=True):
        part = data["stage"] or data["op"]
        if part not in parts:
            parts.append(part)
        key = None if data["block"] else part
        if key is not None and key != previous:
            stretches += 1
        previous = key
    return {
        "stage": len(parts),
        "block": stretches + len(block_runs(graph)),
        "layer": graph.number_of_nodes(),
    }


def tiny(block: str = "basic", **settings: str) -> nx.DiGraph:
    return archspec.lower(from_data(tiny_spec_data(block, **settings), "<test>"))


# -- the command line writes real files ----------------------------------------------------


def test_cli_writes_svg_png_pdf_and_dot(tmp_path: Path) -> None:
    expected = expected_counts(archspec.lower("resnet56"))["block"]
    assert expected == 8  # input, stem, layer1 ×9, layer2 first + ×8, layer3 the same, head
    for fmt in FORMATS:
        out = tmp_path / f"resnet56.{fmt}"
        proc = archspec_cli("render", "resnet56", "-o", out)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""  # not even Graphviz's fontconfig chatter
        assert f"wrote {out}" in proc.stdout
        data = out.read_bytes()
        if fmt == "svg":
            assert svg_node_count(out) == expected
        elif fmt == "png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        elif fmt == "pdf":
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-32:]
        else:
            assert len(pgv.AGraph(str(out)).nodes()) == expected


@pytest.mark.parametrize("detail", DETAILS)
def test_svg_draws_every_node_of_each_detail(detail: str, tmp_path: Path) -> None:
    graph = archspec.lower("resnet20")
    out = render_graph(graph, tmp_path / "resnet20.svg", detail=detail)
    assert svg_node_count(out) == expected_counts(graph)[detail]


@pytest.mark.parametrize("preset", archspec.presets())
def test_node_counts_at_each_detail(preset: str) -> None:
    graph = archspec.lower(preset)
    expected = expected_counts(graph)
    for detail in DETAILS:
        view = build_view(graph, detail)
        assert len(view.nodes) == expected[detail], detail
        ids = {node.id for node in view.nodes}
        assert len(ids) == len(view.nodes)
        assert all(e.tail in ids and e.head in ids for e in view.edges)


def test_known_node_counts() -> None:
    counts = {name: expected_counts(archspec.lower(name)) for name in ("resnet50", "resnet56")}
    # resnet50: input, stem, 4 stages (first block + a run of the rest each), head.
    assert counts["resnet50"] == {"stage": 7, "block": 11, "layer": 176}
    assert counts["resnet56"]["stage"] == 6


def test_runs_of_identical_blocks_collapse_with_their_count() -> None:
    graph = archspec.lower("resnet56")
    runs = [(run.first, len(run.blocks)) for run in block_runs(graph)]
    assert runs == [
        ("layer1.0", 9),
        ("layer2.0", 1),
        ("layer2.1", 8),
        ("layer3.0", 1),
        ("layer3.1", 8),
    ]
    labels = [node.label for node in build_view(graph, "block").nodes]
    assert any(label.startswith("layer1.0–8  ×9") for label in labels), labels
    assert any("×8" in label for label in labels)


def test_title_has_the_name_and_totals(tmp_path: Path) -> None:
    out = render_graph(archspec.lower("resnet50"), tmp_path / "r.dot", detail="stage")
    text = out.read_text()
    assert "resnet50" in text and "25,557,032 params" in text and "4.089 GMACs" in text


def test_edges_carry_tensor_shapes() -> None:
    view = build_view(archspec.lower("resnet50"), "layer")
    labels = {(e.tail, e.head): e.label for e in view.edges}
    assert labels[("layer1.0.conv1", "layer1.0.bn1")] == "64×56×56"
    assert labels[("flatten", "fc")] == "2048"


# -- skip kinds, block types and ops the renderer has not seen --------------------------------


def _skip_cases() -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, block_type in blocks().items()
        for kind in block_type.config.skip_kinds or tuple(SKIPS)
    ]


@pytest.mark.parametrize(("block", "skip"), _skip_cases())
def test_every_block_and_skip_kind_is_drawn(block: str, skip: str) -> None:
    graph = tiny(block, skip=skip)
    # every edge into a block, by what it carries (a stage's own ops, as the cross-stage
    # concatenation of a csp stage, are not a block's skip)
    in_block = {n for n, d in graph.nodes(data=True) if d["block"]}
    edges = build_view(graph, "layer").edges
    kinds = {e.kind for e in edges if e.kind != "main" and e.head in in_block}
    said = "\n".join(node.label for node in build_view(graph, "block").nodes)
    reshaped = any(r.in_shape != r.out_shape for r in graph.graph["blocks"])
    if "concatenation" in kinds:  # dense layers: their skip is the concatenation
        assert "skip: concatenation" in said
    elif skip == "none":
        assert not kinds - {"gate"}, kinds  # SE attachments gate; nothing skips
        assert "skip:" not in said
    elif skip in ("identity", "pad"):
        # x + F(x), and where a block changes shape (the second stage's first), the
        # downsample
        assert "identity" in kinds, kinds
        assert bool(kinds & {"projection", "pad"}) == reshaped, kinds
        assert "skip: identity" in said
    else:
        assert skip in kinds, kinds
        assert f"skip: {skip}" in said


@pytest.mark.parametrize("downsample", DOWNSAMPLES)
def test_every_downsample_kind_is_drawn(downsample: str, tmp_path: Path) -> None:
    graph = tiny("basic", downsample=downsample)
    kinds = build_view(graph, "block").edge_kinds
    assert {"identity", downsample if downsample in style.EDGES else "projection"} <= set(kinds), (
        kinds
    )
    assert svg_node_count(render_graph(graph, tmp_path / "d.svg", detail="layer")) == (
        graph.number_of_nodes()
    )


@pytest.mark.parametrize("skip", SKIPS)
def test_each_skip_kind_lays_out(skip: str, tmp_path: Path) -> None:
    block = next(n for n, b in blocks().items() if skip in (b.config.skip_kinds or SKIPS))
    graph = tiny(block, skip=skip)
    out = render_graph(graph, tmp_path / "s.svg", detail="layer")
    assert svg_node_count(out) == graph.number_of_nodes()


def test_skip_kinds_look_different() -> None:
    kinds = ["identity", "projection", "avgproj", "pad", "gated", "sparse", "concatenation"]
    looks = {tuple(sorted(style.edge_attrs(k).items())) for k in kinds}
    assert len(looks) == len(kinds)
    assert style.edge_attrs("a-kind-added-later") == style.EDGE_FALLBACK


def test_dense_concatenation_inputs_are_drawn() -> None:
    graph = tiny("dense")
    layer = build_view(graph, "layer")
    concat_edges = [e for e in layer.edges if e.kind == "concatenation"]
    into_concats = [
        (u, v) for u, v in graph.edges if graph.nodes[v]["op"] == "concat" and u != "input"
    ]
    assert len(concat_edges) == len(into_concats)  # a small net keeps every edge


def test_unknown_op_falls_back_to_its_name_and_parameters() -> None:
    assert op_text("mystery", {"k": 3, "mode": "x", "nested": [1]}) == "mystery k=3, mode=x"
    assert style.op_attrs("mystery") == style.OP_FALLBACK


# -- the same bytes, and atomic writes --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["svg", "dot"])
def test_same_spec_gives_the_same_bytes(fmt: str, tmp_path: Path) -> None:
    outs = []
    for seed in ("1", "2"):  # separate processes, different hash seeds
        out = tmp_path / f"{seed}.{fmt}"
        proc = archspec_cli("render", "resnet20", "-o", out, env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_failed_render_leaves_an_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "net.svg"
    target.write_bytes(b"old")
    data = tiny_spec_data()
    data["input"]["size"] = 1  # too small for the stride-2 stage: lowering fails
    bad = write_spec(tmp_path / "bad.yaml", data)
    assert_fails_cleanly(archspec_cli("render", bad, "-o", target), 1)  # lowering fails
    assert_fails_cleanly(archspec_cli("render", "resnet20", "-o", tmp_path / "net.gif"), 2)
    missing = tmp_path / "missing" / "net.svg"
    assert_fails_cleanly(archspec_cli("render", "resnet20", "-o", missing), 1)
    # A directory where the file should go is refused, never replaced.
    blocker = tmp_path / "blocked.svg"
    blocker.mkdir()
    (blocker / "keep").write_text("keep")
    with pytest.raises(ArchSpecError, match="is a directory"):
        archspec.render("resnet20", blocker)
    assert target.read_bytes() == b"old"
    assert (blocker / "keep").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "blocked.svg", "net.svg"]


def test_api_errors_are_archspec_errors(tmp_path: Path) -> None:
    with pytest.raises(ArchSpecError, match="detail"):
        archspec.render("resnet20", tmp_path / "x.svg", detail="everything")
    with pytest.raises(ArchSpecError, match=r"\.jpg"):
        archspec.render("resnet20", tmp_path / "x.jpg")
    assert archspec.render("resnet20", tmp_path / "x.svg") == tmp_path / "x.svg"


def test_committed_diagrams_match_the_presets() -> None:
    """docs/diagrams holds what scripts/gen_diagrams.py draws (regenerate with it): the
    same nodes and totals as rendering the presets now gives."""
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen_diagrams", root / "scripts/gen_diagrams.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert "densenet121" in script.SPECS
    for name in script.SPECS:
        graph = archspec.lower(name)
        for detail in script.DETAILS:
            path = script.diagram_path(name, detail)
            assert path.is_file(), f"{path} is missing: run scripts/gen_diagrams.py"
            assert svg_node_count(path) == expected_counts(graph)[detail], path
            assert f"{archspec.stats(name).params:,} params" in path.read_text()
    for name, spec_file in script.EXAMPLES.items():
        path = script.diagram_path(name, "block")
        assert path.is_file(), f"{path} is missing: run scripts/gen_diagrams.py"
        assert svg_node_count(path) == expected_counts(archspec.lower(spec_file))["block"], path
        assert f"{archspec.stats(spec_file).params:,} params" in path.read_text()


def test_a_sum_inside_a_branch_is_no_skip() -> None:
    """A block type that sums two parallel convs (as the guide's plugin does) and takes
    skip: none is drawn skip-less: only the residual merge op makes a skip."""
    from typing import Literal

    from helpers import spec_of, tiny_spec

    from archspec.blocks import BlockConfig, BlockType
    from archspec.blocks.registry import _BLOCKS, register
    from archspec.blocks.skips import residual
    from archspec.render.skip_kind import skip_kinds

    class PairConfig(BlockConfig):
        block: Literal["pair_probe"] = "pair_probe"

    def lower(g, cfg, x, stride):  # type: ignore[no-untyped-def]
        left = g.conv(x, cfg.width, 3, stride=stride, name="left")
        right = g.conv(x, cfg.width, 3, stride=stride, name="right")
        out = g.norm(g.add(left, right, name="sum"), cfg.norm, name="bn")
        return g.act(residual(g, cfg, x, out, stride), cfg.act)

    register(BlockType("pair_probe", PairConfig, lower, "two parallel convs"))
    try:
        plain = archspec.lower(spec_of(tiny_spec("pair_probe", skip="none")))
        residual_net = archspec.lower(spec_of(tiny_spec("pair_probe", skip="identity")))
    finally:
        _BLOCKS.pop("pair_probe")
    assert set(skip_kinds(plain).values()) == {None}
    assert {k.label for k in skip_kinds(residual_net).values()} == {"identity", "projection"}
