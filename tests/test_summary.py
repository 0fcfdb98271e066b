"""``archspec summary``: analytic counts, torchinfo's and torch.utils.flop_counter's agree
for every preset, each under its own convention; JSON and plain-text output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import archspec_cli, assert_fails_cleanly, tiny_spec_data, write_spec
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.graph.ops import OPS
from archspec.graph.stats import graph_stats
from archspec.report.counts import network_depth, torchinfo_mult_adds
from archspec.report.summary import summarize


@pytest.mark.parametrize("preset", archspec.presets())
def test_three_counters_agree(preset: str) -> None:
    """One forward pass on the meta device, seen by both torchinfo and flop_counter."""
    graph = archspec.lower(preset)
    stats = graph_stats(graph)
    with FlopCounterMode(display=False) as counter:
        report = summarize(graph, depth=1)
    assert report.torchinfo_device == "meta"
    # flop_counter counts convolutions and matmuls at 2 FLOPs a multiply-add.
    assert counter.get_total_flops() == 2 * stats.macs == report.flops
    assert report.torchinfo_params == stats.params == report.params
    # torchinfo adds biases and norm weights (times the batch, and H x W for convs).
    assert (
        report.torchinfo_mult_adds
        == torchinfo_mult_adds(graph)
        == (report.expected_torchinfo_mult_adds)
    )
    # ... except that it counts a layer other than a conv once per call: ECA's conv
    # across channels (C positions of a pooled map) shows as its k weights, not C·k.
    across = sum(
        OPS[d["op"]].macs(d["params"], [graph.nodes[i]["shape"] for i in d["inputs"]], d["shape"])
        for _, d in graph.nodes(data=True)
        if d["op"] == "channel_conv"
    )
    assert report.torchinfo_mult_adds >= report.macs - across
    # Nothing passes as zero: every op is inside the MAC convention or listed outside it.
    ops = {data["op"] for _, data in graph.nodes(data=True)}
    assert ops <= {op for op in OPS if OPS[op].counted} | set(report.uncounted)
    assert sum(p.params for p in report.stages) == report.params
    assert sum(p.macs for p in report.stages) == report.macs
    # torchinfo's own total line names its unit by its symbol, and says the same number.
    unit, value = re.search(r"Total mult-adds \((\w*)\): ([\d.]+)", report.torchinfo_table).groups()
    scale = {"": 1, "M": 1e6, "G": 1e9, "T": 1e12}[unit]
    assert float(value) == pytest.approx(report.torchinfo_mult_adds / scale, abs=0.006)


def test_torchinfo_extra_terms_are_biases_and_norm_weights() -> None:
    graph = archspec.lower("resnet50")
    # 53 batch norms: 2 x C each (weight and bias); the classifier's bias: 1000.
    norms = sum(2 * d["params"]["channels"] for _, d in graph.nodes(data=True) if d["op"] == "norm")
    assert torchinfo_mult_adds(graph) == graph_stats(graph).macs + norms + 1000
    assert torchinfo_mult_adds(graph, batch=4) == 4 * torchinfo_mult_adds(graph)


def test_depth_counts_weighted_layers_on_the_longest_path() -> None:
    depths = {name: network_depth(archspec.lower(name)) for name in ("resnet50", "resnet56")}
    assert depths == {"resnet50": 50, "resnet56": 56}


def test_ten_billion_parameters_summarize_without_memory(tmp_path: Path) -> None:
    data = tiny_spec_data(name="huge")
    data["stages"] = [{"depth": 1, "width": 65536}]  # conv 9 x 8 x 65536, then 65536^2 x 9
    data["head"] = {"classes": 200_000}  # and a 65536 x 200000 classifier
    report = archspec.summary(write_spec(tmp_path / "huge.yaml", data))
    assert report.params > 10**10
    assert report.torchinfo_device == "meta"  # no weight was allocated
    assert report.torchinfo_params == report.params
    assert report.torchinfo_mult_adds == report.expected_torchinfo_mult_adds


def test_input_size_sets_the_batch_and_the_image(tmp_path: Path) -> None:
    bigger = graph_stats(archspec.lower("resnet20", overrides={"input.size": 64}))
    report = archspec.summary("resnet20", input_size=(4, 3, 64, 64))
    assert report.input_size == (4, 3, 64, 64)
    assert report.output_size == (4, 10)
    assert report.macs == 4 * bigger.macs  # four samples of 64x64
    assert report.torchinfo_mult_adds == report.expected_torchinfo_mult_adds
    with pytest.raises(archspec.ArchSpecError):
        archspec.summary("resnet20", input_size=(3, 32))


def test_cli_json_has_the_documented_keys() -> None:
    proc = archspec_cli("summary", "resnet56", "--json", "--input", "2x3x32x32")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    stats = graph_stats(archspec.lower("resnet56"))
    assert record["name"] == "resnet56"
    assert record["params"] == record["trainable_params"] == stats.params
    assert record["macs"] == 2 * stats.macs
    assert record["flops"] == 2 * record["macs"]
    assert record["input_size"] == [2, 3, 32, 32]
    assert record["output_size"] == [2, 10]
    assert [s["name"] for s in record["stages"]] == ["stem", "layer1", "layer2", "layer3", "head"]
    assert sum(s["params"] for s in record["stages"]) == record["params"]
    assert sum(s["macs"] for s in record["stages"]) == record["macs"]
    assert record["stages"][1]["output_size"] == [2, 16, 32, 32]
    assert {"norm", "act", "merge"} <= set(record["uncounted_ops"])
    assert record["torchinfo"]["mult_adds"] == record["torchinfo"]["expected_mult_adds"]


def test_cli_table_is_plain_text_when_piped() -> None:
    proc = archspec_cli("summary", "resnet20", "--depth", "1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "\x1b[" not in text  # no colour codes in a pipe
    assert "torchinfo (meta device)" in text and "Total mult-adds" in text
    assert re.search(r"^layer1\s+\d", text, re.MULTILINE)  # the per-stage rows
    assert re.search(r"^MACs\s+40,551,040 .*1 multiply-add = 1 MAC", text, re.MULTILINE)
    assert re.search(r"^FLOPs\s+81,102,080 ", text, re.MULTILINE)
    assert re.search(r"^not in MACs\s+.*norm ×19", text, re.MULTILINE)


def test_cli_bad_input_size_is_a_usage_error() -> None:
    assert_fails_cleanly(archspec_cli("summary", "resnet20", "--input", "1x3xbig"), 2)
