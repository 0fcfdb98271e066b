"""``render -o model.mmd``: Mermaid flowcharts with the nodes and edges of the Graphviz
drawing at the same detail, labels that no string can break out of, checked with a
structural reading of the text and by Mermaid itself in a real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx
import pytest
from cli_helpers import archspec_cli, assert_fails_cleanly
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ArchSpecError
from archspec.render import build_view, to_agraph
from archspec.render.mermaid import MAX_EDGES, mermaid_text, to_mermaid
from archspec.render.view import View

HOSTILE = (
    'x" ]) --> evil{{"} <script>window.pwned=1</script> '
    '<img src=x onerror="window.pwned=2"> %%{init: {"theme": "dark"}}%% #quot; `md` end'
)
_NODE = re.compile(r'^\s*(n\d+)(\(\(|\(|\[)"([^"]*)"(\)\)|\)|\])$')
_EDGE = re.compile(r'^\s*(n\d+) (-->|-\.->|==>)(?:\|"([^"]*)"\|)? (n\d+)$')
_SUBGRAPH = re.compile(r'^\s*subgraph (c\d+)\["([^"]*)"\]$')
_OTHER = re.compile(
    r"^\s*(class n\d+ [\w,]+|classDef \w+ [\w:#,-]+|linkStyle \d+ stroke:#[0-9a-f]{6})$"
)
_SAFE_LABEL = re.compile(r"^(?:[^\"<>#;\[\]{}|`\n]|<br>|#\d+;)*$")


def decode(text: str) -> str:
    """A label as Mermaid shows it: entity codes and <br> turned back."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), text.replace("<br>", "\n"))


def parse(text: str) -> dict[str, object]:
    """Read a flowchart archspec wrote, line by line: every line must be one of the
    forms it writes, subgraphs balanced, every edge between declared nodes."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    assert lines[1].startswith("%% ") and "%%" not in lines[1][3:]
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str, str]] = []
    clusters: list[str] = []
    depth = 0
    for line in lines[2:]:
        if m := _NODE.match(line):
            assert m[1] not in nodes
            nodes[m[1]] = m[3]
        elif m := _EDGE.match(line):
            edges.append((m[1], m[2], m[3] or "", m[4]))
        elif m := _SUBGRAPH.match(line):
            clusters.append(m[2])
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        else:
            assert _OTHER.match(line), line
    assert depth == 0
    for label in [*nodes.values(), *clusters, *(e[2] for e in edges)]:
        assert _SAFE_LABEL.match(label), label
    for tail, _, _, head in edges:
        assert tail in nodes and head in nodes
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def views() -> list[tuple[str, str]]:
    return [
        (name, detail)
        for name in ("resnet20", "densenet_bc100_12", "highway20")
        for detail in ("stage", "block")
    ]


@pytest.mark.parametrize(("name", "detail"), views())
def test_same_nodes_edges_and_clusters_as_graphviz(name: str, detail: str) -> None:
    view = build_view(archspec.lower(name), detail)
    read = parse(to_mermaid(view))
    agraph = to_agraph(view)
    assert len(read["nodes"]) == agraph.number_of_nodes() == len(view.nodes)
    assert len(read["edges"]) == agraph.number_of_edges() == len(view.edges)
    assert len(read["clusters"]) == len(view.clusters)
    labels = sorted(decode(label) for label in read["nodes"].values())
    assert labels == sorted(node.label for node in view.nodes)
    # Skips are edges of their own, labelled with their kind; runs keep their ×N.
    kinds = sorted(decode(e[2]) for e in read["edges"] if e[1] != "-->")
    assert kinds == sorted(e.kind for e in view.edges if e.kind != "main")
    runs = [n for n in view.nodes if n.attrs.get("peripheries") == "2"]
    assert sum("×" in decode(label) for label in read["nodes"].values()) >= len(runs)


def test_block_detail_shows_skips_by_kind() -> None:
    read = parse(to_mermaid(build_view(archspec.lower("resnet20"), "block")))
    kinds = {decode(label) for _, arrow, label, _ in read["edges"] if arrow == "-.->"}
    assert kinds == {"identity", "pad"}  # option A skips where the width doubles
    assert any("×3" in decode(label) for label in read["nodes"].values())


@given(st.text(max_size=60))
def test_labels_escape_anything(text: str) -> None:
    escaped = mermaid_text(text)
    assert _SAFE_LABEL.match(escaped)
    assert decode(escaped) == text


def hostile_view() -> View:
    view = build_view(archspec.lower("resnet20"), "block")
    view.name = HOSTILE
    view.subtitle = HOSTILE + "\n" + HOSTILE
    view.nodes[1] = type(view.nodes[1])(view.nodes[1].id, HOSTILE, view.nodes[1].attrs)
    view.clusters[next(iter(view.clusters))] = HOSTILE
    return view


def test_hostile_strings_stay_text() -> None:
    read = parse(to_mermaid(hostile_view()))
    assert HOSTILE in [decode(label) for label in read["nodes"].values()]
    assert HOSTILE in [decode(label) for label in read["clusters"]]


def test_cli_writes_mmd_and_refuses_what_mermaid_cannot_show(tmp_path: Path) -> None:
    out = tmp_path / "resnet56.mmd"
    proc = archspec_cli("render", "resnet56", "-o", out, "--detail", "stage")
    assert proc.returncode == 0, proc.stderr
    assert len(parse(out.read_text())["nodes"]) == len(
        build_view(archspec.lower("resnet56"), "stage").nodes
    )
    archspec.render("resnet20", out, detail="layer")  # small enough at layer detail
    assert len(parse(out.read_text())["nodes"]) == archspec.lower("resnet20").number_of_nodes()
    before = out.read_bytes()
    stderr = assert_fails_cleanly(archspec_cli("render", "resnet1202", "-o", out, "-d", "layer"))
    assert f"at most {MAX_EDGES} edges" in stderr and "--detail block" in stderr
    assert out.read_bytes() == before
    with pytest.raises(ArchSpecError, match="than Mermaid renders"):
        archspec.render("resnet1202", out, detail="layer")


# -- Mermaid itself, in a real browser ---------------------------------------------------

RENDER = """
const [text, done] = arguments;
mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
mermaid.render("m" + Math.random().toString(36).slice(2), text).then((r) => {
  const div = document.createElement("div");
  div.innerHTML = r.svg;
  document.body.replaceChildren(div);
  done({
    nodes: [...div.querySelectorAll("g.node")].map((g) => g.textContent),
    edges: div.querySelectorAll("path.flowchart-link").length,
    clusters: [...div.querySelectorAll("g.cluster")].map((g) => g.textContent),
    active: div.querySelectorAll("script, img, iframe, foreignObject [onerror]").length,
    pwned: window.pwned === undefined ? null : window.pwned,
  });
}).catch((e) => done({error: String(e)}));
"""


@pytest.fixture(scope="module")
def mermaid_page(browser, tmp_path_factory: pytest.TempPathFactory):
    from browser import mermaid_js

    js = mermaid_js()
    if isinstance(js, str):
        pytest.skip(js)
    page = tmp_path_factory.mktemp("mermaid") / "page.html"
    page.write_text(f'<!DOCTYPE html><meta charset="utf-8"><script src="{js.as_uri()}"></script>')
    browser.get(page.as_uri())
    browser.set_script_timeout(60)

    def render(text: str) -> dict[str, object]:
        result = browser.execute_async_script(RENDER, text)
        assert "error" not in result, result
        return result

    return render


@pytest.mark.parametrize(("name", "detail"), [*views(), ("resnet20", "layer")])
def test_mermaid_draws_every_node_and_edge(mermaid_page, name: str, detail: str) -> None:
    graph: nx.DiGraph = archspec.lower(name)
    view = build_view(graph, detail)
    drawn = mermaid_page(to_mermaid(view))
    assert len(drawn["nodes"]) == len(view.nodes)
    assert drawn["edges"] == len(view.edges)
    assert len(drawn["clusters"]) == len(view.clusters)
    assert sorted(drawn["nodes"]) == sorted(n.label.replace("\n", "") for n in view.nodes)


def test_mermaid_shows_hostile_strings_as_text(mermaid_page) -> None:
    drawn = mermaid_page(to_mermaid(hostile_view()))
    assert drawn["pwned"] is None and drawn["active"] == 0
    assert HOSTILE in drawn["nodes"]
    assert any(HOSTILE in text for text in drawn["clusters"])
