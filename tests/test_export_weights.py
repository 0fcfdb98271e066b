"""safetensors checkpoints, the pretrained directory and reproducible .pt2 archives:
round trips through real files, hostile files refused in one line with no pickle run,
and the same spec and seed giving the same .pt2 bytes, its folder named after it."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from cli_helpers import archspec_cli

import archspec

pytest.importorskip("safetensors")
from safetensors.torch import save_file


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_safetensors_round_trip_without_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "resnet20.safetensors"
    model = archspec.build("resnet20", seed=0)
    archspec.save_checkpoint(model, "resnet20", path, seed=0)

    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("a safetensors checkpoint must not be unpickled")

    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    loaded = archspec.load_checkpoint(path)
    assert loaded.spec.arch_id == archspec.load("resnet20").arch_id
    same_weights(model, loaded)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["arch_id"] == loaded.spec.arch_id and meta["seed"] == "0"
    assert archspec.ArchSpec.from_yaml(meta["spec"]).arch_id == meta["arch_id"]


def test_cli_writes_safetensors_and_a_pretrained_directory(tmp_path: Path) -> None:
    (tmp_path / "pretrained").mkdir()  # an existing directory is written into
    proc = archspec_cli("build", "resnet20", "--seed", "0", "-o", tmp_path / "pretrained")
    assert proc.returncode == 0, proc.stderr
    assert "config.json and model.safetensors" in proc.stdout
    archspec.export("resnet20", tmp_path / "r.safetensors", seed=0)  # the same dispatch
    model = archspec.build("resnet20", seed=0)
    same_weights(model, archspec.load_checkpoint(tmp_path / "r.safetensors"))
    same_weights(model, archspec.from_pretrained(tmp_path / "pretrained"))
    config = json.loads((tmp_path / "pretrained" / "config.json").read_text())
    assert config["arch_id"] == model_arch("resnet20") and config["spec"]["name"] == "resnet20"


def model_arch(name: str) -> str:
    return archspec.load(name).arch_id


def test_save_pretrained_from_pretrained(tmp_path: Path) -> None:
    model = archspec.build("resnet20", seed=1)
    archspec.save_pretrained(model, tmp_path / "m", "resnet20", seed=1)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    back = archspec.from_pretrained(tmp_path / "m")
    same_weights(model, back)
    archspec.save_pretrained(back, tmp_path / "again")  # the spec from model.spec
    same_weights(model, archspec.from_pretrained(tmp_path / "again"))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model.eval()(x), back.eval()(x))


def test_from_pretrained_reads_local_directories_only(tmp_path: Path) -> None:
    with pytest.raises(archspec.ArchSpecError, match="downloads nothing"):
        archspec.from_pretrained("someone/resnet20")
    (tmp_path / "empty").mkdir()
    with pytest.raises(archspec.ArchSpecError, match=r"config\.json"):
        archspec.from_pretrained(tmp_path / "empty")


def write_hostile(path: Path, spec_text: str, arch_id: str | None = None) -> Path:
    state = archspec.build("resnet20", seed=0).state_dict()
    meta = {
        "format": "archspec.checkpoint",
        "version": "1",
        "spec": spec_text,
        "arch_id": arch_id or model_arch("resnet20"),
    }
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=meta)
    return path


def test_embedded_spec_reads_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(archspec.load("resnet20").to_yaml())
    hostile = write_hostile(tmp_path / "h.safetensors", "extends: secret.yaml\n")
    with pytest.raises(archspec.ArchSpecError, match="not a preset") as info:
        archspec.load_checkpoint(hostile)
    assert "\n" not in str(info.value).strip()
    # The same through a pretrained directory's config.json.
    archspec.save_pretrained(archspec.build("resnet20"), tmp_path / "p", "resnet20")
    config = json.loads((tmp_path / "p" / "config.json").read_text())
    config["spec"] = {"extends": "../secret.yaml"}
    (tmp_path / "p" / "config.json").write_text(json.dumps(config))
    with pytest.raises(archspec.ArchSpecError, match="not a preset"):
        archspec.from_pretrained(tmp_path / "p")


def test_tensors_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    spec = archspec.load("resnet20")
    state = archspec.build(spec).state_dict()
    meta = {"format": "archspec.checkpoint", "version": "1", "spec": spec.to_yaml()}
    meta["arch_id"] = spec.arch_id
    cases = {
        "missing": {k: v for k, v in state.items() if k != "fc.weight"},
        "another shape": {**state, "fc.weight": torch.zeros(3, 3)},
        "unexpected": {**state, "extra.weight": torch.zeros(1)},
        "int8": {**state, "fc.weight": state["fc.weight"].to(torch.int8)},
    }
    for why, tensors in cases.items():
        path = tmp_path / f"{why.replace(' ', '_')}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
        with pytest.raises(archspec.ArchSpecError, match=why) as info:
            archspec.load_checkpoint(path)
        assert "\n" not in str(info.value)


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(archspec.ArchSpecError, match="not an archspec checkpoint"):
        archspec.load_checkpoint(foreign)
    liar = write_hostile(tmp_path / "liar.safetensors", archspec.load("resnet20").to_yaml(), "x")
    with pytest.raises(archspec.ArchSpecError, match="architecture"):
        archspec.load_checkpoint(liar)
    header = json.dumps({"__metadata__": {"format": "archspec.checkpoint"}, "w": 1}).encode()
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(archspec.ArchSpecError, match="not a safetensors file") as info:
        archspec.load_checkpoint(broken)
    assert "\n" not in str(info.value)


def test_pt2_is_reproducible_and_named_after_its_file(tmp_path: Path) -> None:
    # One from the command line, one in this process after other exports: the same bytes.
    for n in (1, 2):
        (tmp_path / str(n)).mkdir()
    first, second = tmp_path / "1" / "model.pt2", tmp_path / "2" / "model.pt2"
    proc = archspec_cli("build", "resnet20", "--seed", "0", "-o", first)
    assert proc.returncode == 0, proc.stderr
    archspec.export("resnet20", tmp_path / "warm.pt2", seed=1)
    archspec.export("resnet20", second, seed=0)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        assert {name.split("/", 1)[0] for name in z.namelist()} == {"model"}
        assert z.testzip() is None
    program = torch.export.load(second)
    x = torch.randn(3, 3, 32, 32)
    model = archspec.build("resnet20", seed=0).eval()
    torch.testing.assert_close(program.module()(x), model(x))
