"""``archspec build``: the files it writes load and compute what archspec's model
computes: a torch.export program (.pt2), a checkpoint (.pt) and standalone source
(--emit-python) run in an interpreter that cannot import archspec."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from cli_helpers import archspec_cli, assert_fails_cleanly, tiny_spec_data, write_spec

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.checkpoint import read_checkpoint
from archspec.codegen.emit import emit_python
from archspec.codegen.torch_module import _class_name
from archspec.spec.load import from_data

SITE_PACKAGES = Path(torch.__file__).resolve().parent.parent


def run_emitted(source: str, spec: archspec.ArchSpec, state: dict) -> torch.nn.Module:
    """The emitted module class, built and given ``state`` strictly."""
    namespace: dict = {"__name__": "emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)
    model = namespace[_class_name(spec.name)]()
    model.load_state_dict(state, strict=True)
    return model.eval()


def test_pt2_is_a_loadable_export_program(tmp_path: Path) -> None:
    out = tmp_path / "resnet20.pt2"
    proc = archspec_cli("build", "resnet20", "--seed", "0", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress output in a pipe
    program = torch.export.load(out)
    model = archspec.build("resnet20", seed=0).eval()
    for batch in (1, 3):  # any batch size
        x = torch.randn(batch, 3, 32, 32)
        torch.testing.assert_close(program.module()(x), model(x))


def test_checkpoint_and_standalone_source(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "tiny.yaml", tiny_spec_data("bottleneck", skip="pad"))
    ckpt, source = tmp_path / "tiny.pt", tmp_path / "tiny_model.py"
    sets = ["--set", "stages.1.depth=3"]
    proc = archspec_cli(
        "build", spec_path, "--seed", "3", "-o", ckpt, "--emit-python", source, *sets
    )
    assert proc.returncode == 0, proc.stderr
    spec = archspec.load(spec_path, overrides={"stages.1.depth": 3})
    reference = archspec.build(spec, seed=3).eval()

    model = archspec.load_checkpoint(ckpt).eval()
    assert model.spec == spec and model.spec.arch_id == spec.arch_id
    assert read_checkpoint(ckpt).seed == 3
    assert model.state_dict().keys() == reference.state_dict().keys()
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key

    # A fresh interpreter: no site (so no .pth file puts archspec's sources on the path),
    # only torch's site-packages; the emitted file loads the checkpoint itself.
    x = torch.randn(2, 3, 16, 16)
    torch.save(x, tmp_path / "x.pt")
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import importlib.util, sys
        sys.path.append({str(SITE_PACKAGES)!r})
        import torch
        spec = importlib.util.spec_from_file_location("tiny_model", {str(source)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.load({str(ckpt)!r}).eval()
        with torch.no_grad():
            torch.save(model(torch.load({str(tmp_path / "x.pt")!r})), "y.pt")
        assert not any(name.split(".")[0] == "archspec" for name in sys.modules)
        # Out of reach, too: site-packages holds at most the presets of an editable
        # install (archspec/specs), none of archspec's code.
        assert importlib.util.find_spec("archspec.cli") is None, "archspec is importable"
        """)
    )
    run = subprocess.run(
        [sys.executable, "-I", "-S", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "y.pt"), reference(x))


def _emit_cases() -> list[tuple[str, dict]]:
    cases = [
        (name, {"skip": kind})
        for name, block_type in blocks().items()
        for kind in block_type.config.skip_kinds or tuple(SKIPS)
    ]
    cases += [("basic", {"downsample": kind}) for kind in DOWNSAMPLES]
    for name, block_type in blocks().items():  # each boolean option switched on
        for key, field in block_type.config.model_fields.items():
            if field.annotation is bool and field.default is False:
                if key == "dilate" and not block_type.config.takes_dilation:
                    continue  # a spec error for this type (tests/test_dilation.py)
                cases.append((name, {key: True}))
    return cases


@pytest.mark.parametrize(("block", "settings"), _emit_cases())
def test_emitted_source_computes_the_same_outputs(block: str, settings: dict) -> None:
    spec = from_data(tiny_spec_data(block, **settings), "<test>")
    graph = archspec.lower(spec)
    source = emit_python(graph)
    assert "import archspec" not in source and "from archspec" not in source
    reference = archspec.build(spec, seed=1).eval()
    model = run_emitted(source, spec, reference.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
    assert dict(model.named_modules()).keys() == dict(reference.named_modules()).keys()


def test_bad_outputs_are_refused(tmp_path: Path) -> None:
    assert_fails_cleanly(archspec_cli("build", "resnet20", "-o", tmp_path / "m.xyz"), 2)
    assert_fails_cleanly(archspec_cli("build", "resnet20", "--emit-python", tmp_path / "m"), 2)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(archspec.ArchSpecError, match="not a checkpoint"):
        archspec.load_checkpoint(junk)
    torch.save({"state_dict": {}}, tmp_path / "bare.pt")
    with pytest.raises(archspec.ArchSpecError, match="not an archspec checkpoint"):
        archspec.load_checkpoint(tmp_path / "bare.pt")
