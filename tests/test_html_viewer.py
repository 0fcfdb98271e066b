"""``render -o model.html``: one self-contained page, tested in a real headless Chromium:
it loads without any network, expands a stage and a run into their layers, shows each
node's shapes, params and MACs as archspec computes them, finds a module by its path,
and keeps every string from the graph as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import pytest
from cli_helpers import archspec_cli
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.graph.stats import graph_stats, node_cost
from archspec.render import build_view
from archspec.render.collapse import block_runs
from archspec.render.html import html_page, page_data, script_json
from archspec.render.labels import shape_text

HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">&amp;'


def numbers(graph: nx.DiGraph, nodes: list[str]) -> tuple[int, int]:
    costs = [node_cost(graph, n) for n in nodes]
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def ends(graph: nx.DiGraph, members: list[str]) -> set[tuple[str, str]]:
    """The values a part of the graph takes from outside it and hands out of it: the
    small "from ..." and "to ..." nodes its drawing adds."""
    inside = set(members)
    froms = {("from", u) for m in members for u in graph.predecessors(m) if u not in inside}
    return froms | {("to", v) for m in members for v in graph.successors(m) if v not in inside}


def data_of(page: str) -> dict:
    (text,) = re.findall(
        r'<script type="application/json" id="archspec-data">(.*?)</script>', page, re.S
    )
    return json.loads(text)


def test_page_is_self_contained_and_linear(tmp_path: Path) -> None:
    out = tmp_path / "resnet56.html"
    proc = archspec_cli("render", "resnet56", "-o", out)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    # Nothing from the network: no URL to load, and a policy that forbids any.
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "default-src 'none'" in page
    data = data_of(page)
    graph = archspec.lower("resnet56")
    # Three levels, five parts (stem, three stages, head), a drawing per run of blocks.
    assert len(data["views"]) == 3 + 5 + len(block_runs(graph))
    # Each op is drawn at most three times (whole at layer detail, in its part, in its run).
    drawn = sum(info["view"] >= 0 for info in data["nodes"].values())
    assert drawn <= 3 * graph.number_of_nodes() + 100


def test_size_grows_linearly() -> None:
    sizes = {n: len(html_page(archspec.lower(n))) for n in ("resnet20", "resnet56", "resnet110")}
    # Ops: 71, 179, 341. Whole-network layer detail drops out past MAX_UNIT_NODES.
    assert sizes["resnet110"] / sizes["resnet56"] < 2.5
    assert sizes["resnet56"] / sizes["resnet20"] < 3.5


def test_script_json_cannot_close_the_script() -> None:
    text = script_json({"a": HOSTILE, "b": "<!-- -->"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": HOSTILE, "b": "<!-- -->"}


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_script_json_of_anything(value: object) -> None:
    text = script_json(value)
    assert not set(text) & set("<>&") and json.loads(text) == value


def test_big_units_are_cut_at_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.render import html

    monkeypatch.setattr(html, "MAX_UNIT_NODES", 40)  # as resnet1202's 1,400-op stages are
    graph = archspec.lower("resnet56")
    data = page_data(graph)
    assert data["levels"]["layer"] is None  # too large: expand a stage instead
    asked = page_data(graph, "layer")
    assert asked["start"] == asked["levels"]["block"]
    assert "too many to draw whole" in asked["views"][asked["start"]]["note"]
    cut = [v for v in data["views"] if v["note"].startswith("showing the first")]
    assert {v["title"] for v in cut} >= {"layer1", "layer2", "layer3"}
    for view in data["views"][2:]:
        assert view["svg"].count('class="node"') <= 40 + 4  # and its from/to nodes
    # Cut at a block's end: layer1's first five blocks of seven ops, not part of a sixth.
    assert cut[0]["note"] == "showing the first 35 of 63 ops"


# -- in a real browser ------------------------------------------------------------------


def text_of(browser, selector: str) -> str:
    return browser.execute_script(f"return document.querySelector({selector!r}).textContent")


def count(browser, selector: str) -> int:
    return browser.execute_script(f"return document.querySelectorAll({selector!r}).length")


def hover(browser, element) -> str:
    """Move the mouse to the middle of ``element`` (as the page lays it out now) and
    return the tooltip's text."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(1, 1)  # a fresh mouseenter, wherever it was
    actions.pointer_action.move_to_location(
        int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
    )
    actions.perform()
    assert browser.execute_script("return !document.getElementById('tip').hidden")
    return browser.find_element("id", "tip").text


def load(browser, path: Path) -> None:
    browser.get(path.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_viewer_in_chromium(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    out = tmp_path / "resnet20.html"
    assert archspec_cli("render", "resnet20", "-o", out).returncode == 0
    graph = archspec.lower("resnet20")
    load(browser, out)
    stats = graph_stats(graph)
    assert text_of(browser, "#name") == "resnet20"
    assert f"{stats.params:,} params" in text_of(browser, "#subtitle")
    assert count(browser, "#layer g.node") == len(build_view(graph, "block").nodes)

    # A run (×3): its tooltip sums its blocks; a click expands it into their layers.
    run = browser.find_element(
        By.XPATH, "//*[local-name()='g'][@class='node expandable'][contains(., 'layer1.0–2')]"
    )
    members = [n for n, d in graph.nodes(data=True) if d["stage"] == "layer1" and d["block"]]
    params, macs = numbers(graph, members)
    assert params == stats.per_stage["layer1"]["params"]
    tip = hover(browser, run)
    assert f"params {params:,}" in tip and f"MACs {macs:,}" in tip
    assert "input 16×32×32" in tip and "output 16×32×32" in tip
    run.click()
    assert count(browser, "#layer g.node") == len(members) + len(ends(graph, members))
    assert "layer1.0–2 ×3" in text_of(browser, "#crumbs")

    # A stage: click its cluster at block detail, get every op of the stage.
    browser.find_element(By.ID, "level-block").click()
    stage = browser.find_element(
        By.XPATH,
        "//*[local-name()='g'][contains(@class, 'cluster')]"
        "[*[local-name()='text'][starts-with(., 'layer2:')]]",
    )
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", stage
    )
    layer2 = [n for n, d in graph.nodes(data=True) if d["stage"] == "layer2"]
    assert text_of(browser, "#crumbs").endswith("layer2")
    assert count(browser, "#layer g.node") == len(layer2) + len(ends(graph, layer2))
    assert count(browser, "#layer g.cluster") == 1 + 3  # the stage and its blocks

    # At stage detail, a stage's node expands it the same way.
    browser.find_element(By.ID, "level-stage").click()
    assert count(browser, "#layer g.node") == len(build_view(graph, "stage").nodes)
    browser.find_element(
        By.XPATH, "//*[local-name()='g'][contains(@class, 'node')][contains(., 'layer3: ')]"
    ).click()
    assert text_of(browser, "#crumbs") == "stage detail › layer3"

    # Search a module path: the op is found in its stage, highlighted, and its tooltip
    # gives its shapes and numbers as archspec has them.
    search = browser.find_element(By.ID, "search")
    search.clear()
    search.send_keys("layer3.0.conv1")
    assert "layer3.0.conv1" in browser.find_element(By.ID, "results").text
    search.send_keys(Keys.ENTER)
    hit = browser.find_element(By.CSS_SELECTOR, "#layer g.hit")
    node = graph.nodes["layer3.0.conv1"]
    p, m = node_cost(graph, "layer3.0.conv1")
    tip = hover(browser, hit)
    assert "module layer3.0.conv1" in tip
    assert f"input {shape_text(graph.nodes[node['inputs'][0]]['shape'])}" in tip
    assert f"output {shape_text(node['shape'])}" in tip
    assert f"params {p:,}" in tip and f"MACs {m:,}" in tip
    assert text_of(browser, "#crumbs").endswith("layer3")

    # Zoom (the wheel) and pan (a drag) move the drawing; Escape goes back.
    before = browser.execute_script("return document.getElementById('layer').style.transform")
    browser.find_element(By.ID, "zoom-in").click()
    assert (
        browser.execute_script("return document.getElementById('layer').style.transform") != before
    )
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    assert count(browser, "#layer g.node") == len(build_view(graph, "block").nodes)

    shot = tmp_path / "viewer.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_hostile_strings_stay_text_in_chromium(browser, tmp_path: Path) -> None:
    graph = archspec.lower("resnet20")
    graph.graph["name"] = HOSTILE
    for node in ("conv1", "layer1.0.conv1"):
        graph.nodes[node]["scope"] = HOSTILE + node
    out = tmp_path / "hostile.html"
    out.write_text(html_page(graph))
    load(browser, out)
    assert browser.execute_script("return window.pwned === undefined")
    assert text_of(browser, "#name") == HOSTILE
    assert count(browser, "#layer img, #layer script, #layer foreignObject") == 0
    assert browser.title == HOSTILE + " · archspec"


def test_every_family_loads_in_chromium(browser, tmp_path: Path) -> None:
    """A backbone (feature outputs), dense connectivity and gated skips: each page loads
    without an error and draws its block view and every part."""
    backbone = archspec.load("resnet18").override({"features": True})
    for name, spec in [
        ("backbone", backbone),
        ("dense", "densenet_bc100_12"),
        ("gated", "highway20"),
    ]:
        out = archspec.render(spec, tmp_path / f"{name}.html")
        load(browser, out)
        assert count(browser, "#layer g.node") == len(
            build_view(archspec.lower(spec), "block").nodes
        )
        # Every drawing the page holds parses as SVG in the browser, with a node per
        # entry of its tooltip data.
        broken = browser.execute_script(
            "const d = JSON.parse(document.getElementById('archspec-data').textContent);"
            "return d.views.map((v, i) => {"
            "  const doc = new DOMParser().parseFromString(v.svg, 'image/svg+xml');"
            "  const ids = [...doc.querySelectorAll('g.node')].map((g) => g.id);"
            "  return doc.querySelector('parsererror') || !ids.every((id) => d.nodes[id])"
            "    ? i : null; }).filter((i) => i !== null)"
        )
        assert broken == []
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
