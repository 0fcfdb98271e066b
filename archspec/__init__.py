"""archspec: declarative YAML specs for residual-family networks.

Example::

    import archspec
    spec = archspec.load("resnet50")
    model = archspec.build(spec, seed=0)
    print(archspec.stats(spec).params)   # 25557032
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.arguments import with_features, with_input_size
from archspec.errors import ArchSpecError, GraphError, PortError, SpecError, shown
from archspec.graph.stats import Stats
from archspec.render import render_graph as _render_graph  # first: see render()
from archspec.report.summary import Summary
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.spec.presets import presets
from archspec.sweep import grid, sample, stats_many

if TYPE_CHECKING:
    import torch

    from archspec.analysis.gradflow import GradFlow
    from archspec.graph.records import IRGraph

__all__ = [
    "ArchSpec",
    "ArchSpecError",
    "GraphError",
    "PortError",
    "SpecError",
    "Stats",
    "Summary",
    "build",
    "emit_python",
    "export",
    "from_pretrained",
    "gradflow",
    "grid",
    "load",
    "load_checkpoint",
    "lower",
    "port_state_dict",
    "presets",
    "render",
    "sample",
    "save_checkpoint",
    "save_pretrained",
    "stats",
    "stats_many",
    "summary",
]
__version__ = "0.1.0"

SpecLike = str | Path | ArchSpec
Overrides = Mapping[str, Any] | Sequence[str] | None
FeaturesArg = bool | Sequence[str] | None


def lower(spec: SpecLike, overrides: Overrides = None, *, features: FeaturesArg = None) -> IRGraph:
    """The graph IR of a spec (preset name, path or ArchSpec): a ``networkx.DiGraph``
    of primitive ops, every shape inferred. ``features`` as in :func:`build` (here and
    in :func:`stats`, :func:`summary`, :func:`render`, :func:`emit_python`).

    Example::

        graph = archspec.lower("resnet18")
        graph.nodes["fc"].shape        # (1000,)
        archspec.lower("resnet18", features=["layer2"]).graph["output_shape"]  # (128, 28, 28)
    """
    return _lowered(with_features(load(spec, overrides), features), spec, overrides)


def _lowered(loaded: ArchSpec, spec: SpecLike, overrides: Overrides = None) -> IRGraph:
    """Lower ``loaded`` (``spec`` with ``overrides``); a GraphError in a stage says where
    that stage is written."""
    from archspec.lowering import lower as _lower
    from archspec.spec.load import with_stage_line

    try:
        return _lower(loaded)
    except GraphError as exc:
        raise with_stage_line(exc, spec, overrides) from None


def stats(spec: SpecLike, overrides: Overrides = None, *, features: FeaturesArg = None) -> Stats:
    """Parameters, MACs and FLOPs, computed from shapes alone (no weights).

    Example::

        s = archspec.stats("resnet50")
        s.params, s.macs, s.flops         # 25557032, 4089184256, 8178368512
    """
    from archspec.graph.stats import graph_stats

    return graph_stats(lower(spec, overrides, features=features))


def build(
    spec: SpecLike,
    *,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    overrides: Overrides = None,
    features: FeaturesArg = None,
) -> torch.nn.Module:
    """Build the ``nn.Module`` of a spec: a module tree as hand-written PyTorch is
    (``model.layer2[0]`` is a block; each module can be called and hooked alone).
    ``seed`` makes the initial weights reproducible; ``device="meta"`` allocates nothing.

    ``features`` makes it a backbone whose forward returns a list of feature maps:
    ``True`` for the stem's last activation and each stage's output (timm's
    ``features_only``), or a list of module paths (``["layer2", "layer3.5"]``);
    ``model.feature_info`` tells each output's module, channels and reduction (on a
    classifier, as on timm's, those of the maps its backbone would return).

    Example::

        model = archspec.build("resnet50", seed=0)
        model.load_state_dict(torchvision_resnet50.state_dict())   # names match
        backbone = archspec.build("resnet50", features=True)
        backbone.feature_info.channels()                        # [64, 256, 512, 1024, 2048]
    """
    from archspec.arguments import check_device, check_dtype, check_seed, check_weights_fit
    from archspec.codegen.torch_module import build_module

    seed, device, dtype = check_seed(seed), check_device(device), check_dtype(dtype)
    graph = _lowered(with_features(load(spec, overrides), features), spec, overrides)
    check_weights_fit(graph, device, dtype)
    return build_module(graph, seed=seed, device=device, dtype=dtype)


def summary(
    spec: SpecLike,
    *,
    input_size: Sequence[int] | None = None,
    depth: int = 3,
    overrides: Overrides = None,
    measure_ode: bool = False,
    features: FeaturesArg = None,
) -> Summary:
    """Params, MACs and FLOPs (analytic, per stage) with torchinfo's layer table from a
    forward pass on the meta device: seconds, and no memory, even for 10^10 parameters.
    ``input_size`` is ``(N, C, *spatial)`` (or ``(C, *spatial)``) at any rank: ``(N, C, L)``,
    ``(N, C, H, W)``, ``(N, C, D, H, W)``; counts are for the batch.
    ``measure_ode`` runs one random batch on the CPU to count the evaluations of each
    adaptive ODE stage (``notes`` gives them; the MACs count one evaluation).

    Example::

        s = archspec.summary("resnet50")
        s.params, s.macs, s.flops, s.torchinfo_mult_adds
        print(s.torchinfo_table)
    """
    from archspec.arguments import MAX_DEPTH_LEVELS, check_int
    from archspec.report.summary import summarize

    check_int("depth", depth, 0, MAX_DEPTH_LEVELS)
    loaded, batch = with_input_size(with_features(load(spec, overrides), features), input_size)
    graph = _lowered(loaded, spec, overrides)
    return summarize(graph, batch=batch, depth=depth, measure_ode=measure_ode)


def render(
    spec: SpecLike,
    path: str | Path,
    *,
    detail: str = "block",
    overrides: Overrides = None,
    features: FeaturesArg = None,
) -> Path:
    """Draw a spec to ``path``: ``.svg``, ``.png``, ``.pdf`` (Graphviz's dot layout),
    ``.dot`` (the Graphviz source), ``.mmd`` (a Mermaid flowchart for Markdown pages) or
    ``.html`` (a self-contained page to pan, zoom, expand and search), at ``detail``
    ``stage``, ``block`` (runs of identical blocks drawn once, ×N) or ``layer`` (every
    op). The file is written atomically.

    Example::

        archspec.render("resnet50", "resnet50.svg", detail="block")
        archspec.render("resnet50", "resnet50.mmd", detail="stage")
    """
    # The package archspec.render is imported at the top of this module, before this
    # function is defined: importing a subpackage binds its name on the parent package,
    # so a later first import would replace this function with the package.
    path, loaded = _output_beside(spec, overrides, path)
    return _render_graph(
        _lowered(with_features(loaded, features), spec, overrides), path, detail=detail
    )


def _output_beside(spec: SpecLike, overrides: Overrides, path: object) -> tuple[Path, ArchSpec]:
    """The checked output path and the loaded spec; an ArchSpecError if the output would
    overwrite a file the spec was read from (the spec itself, a file it extends)."""
    from archspec.arguments import check_path
    from archspec.files import refuse_overwriting, writable_target
    from archspec.spec.load import load_with_files

    checked = check_path(path)
    writable_target(checked)
    loaded, read = load_with_files(spec, overrides)
    refuse_overwriting([checked], read)
    return checked, loaded


def emit_python(
    spec: SpecLike, overrides: Overrides = None, *, features: FeaturesArg = None
) -> str:
    """Standalone PyTorch source for a spec: it needs no archspec, builds the same
    module hierarchy (the same ``state_dict`` loads) and computes the same outputs.

    Example::

        Path("resnet50_model.py").write_text(archspec.emit_python("resnet50"))
    """
    from archspec.codegen.emit import emit_python as _emit

    loaded = with_features(load(spec, overrides), features)
    return _emit(_lowered(loaded, spec, overrides), spec_yaml=loaded.to_yaml())


def save_checkpoint(
    model: torch.nn.Module, spec: SpecLike, path: str | Path, *, seed: int | None = None
) -> Path:
    """Save a model's ``state_dict`` with its normalized spec (a ``.pt`` file that
    :func:`load_checkpoint` rebuilds from alone).

    Example::

        archspec.save_checkpoint(model, "resnet50", "resnet50.pt", seed=0)
    """
    from archspec.arguments import check_module, check_seed
    from archspec.checkpoint import save_checkpoint as _save

    check_module(model)
    seed = check_seed(seed)
    path, loaded = _output_beside(spec, None, path)
    return _save(model, loaded, path, seed=seed)


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The model saved by ``archspec build SPEC -o model.pt`` (or :func:`save_checkpoint`),
    rebuilt from the spec inside and loaded strictly; ``model.spec`` is that spec.

    Example::

        model = archspec.load_checkpoint("resnet50.pt")
    """
    from archspec.arguments import check_device, check_path
    from archspec.checkpoint import load_checkpoint as _load_checkpoint

    return _load_checkpoint(check_path(path), device=check_device(device))


def gradflow(
    spec: SpecLike,
    *,
    input_size: int | Sequence[int] | None = None,
    batch: int = 8,
    seed: int = 0,
) -> GradFlow:
    """Gradient norms at each block's output and on each block's parameters at
    initialization: one forward and backward pass on random inputs and labels (see
    :mod:`archspec.analysis.gradflow`).

    Example::

        run = archspec.gradflow("plain56", batch=32, seed=0)
        [b.output_grad_norm for b in run.blocks]
    """
    from archspec.analysis.gradflow import gradflow as _gradflow

    return _gradflow(spec, input_size=input_size, batch=batch, seed=seed)


def port_state_dict(model: torch.nn.Module, foreign: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Load a state_dict saved from another implementation of the same network (other
    module names), pairing tensors by structure: module order and shapes. Returns which
    foreign key each of the model's keys took; raises :class:`PortError` (missing, left
    over, shape mismatches, all listed) and loads nothing when they do not pair up.

    Example::

        model = archspec.build("densenet121")
        mapping = archspec.port_state_dict(model, torchvision_densenet121.state_dict())
        mapping["fc.weight"]              # 'classifier.weight'
    """
    from archspec.arguments import check_module, check_state_dict
    from archspec.codegen.port import port_state_dict as _port

    return _port(check_module(model), check_state_dict(foreign, "foreign"))


def export(
    spec: SpecLike,
    path: str | Path,
    *,
    seed: int | None = None,
    overrides: Overrides = None,
    model: torch.nn.Module | None = None,
) -> Path:
    """Build a spec (or take ``model``, built from it) and write it to ``path`` in the
    format its suffix names, as ``archspec build SPEC -o PATH`` does: ``.pt2``, ``.pt``,
    ``.onnx`` (the ``onnx`` extra), ``.safetensors``, or no suffix for a directory of
    ``config.json`` + ``model.safetensors`` (see :mod:`archspec.formats`).

    Example::

        archspec.export("resnet20", "resnet20.onnx", seed=0)
    """
    from archspec.arguments import check_module, check_path, check_seed
    from archspec.formats import describe, write

    seed = check_seed(seed)
    if describe(check_path(path)) is None:
        raise ArchSpecError(
            f"{shown(str(path))}: export writes .pt2, .pt, .onnx, .safetensors or a "
            "directory (no suffix)"
        )
    from archspec.files import refuse_overwriting, writable_target
    from archspec.formats import outputs
    from archspec.spec.load import load_with_files

    path = check_path(path)
    files = outputs(path)
    for file in files:
        writable_target(file)
    loaded, read = load_with_files(spec, overrides)
    refuse_overwriting(files, read)
    if model is None:
        model = build(loaded, seed=seed)
    write(check_module(model), loaded, path, seed=seed)
    return path


def save_pretrained(
    model: torch.nn.Module,
    directory: str | Path,
    spec: SpecLike | None = None,
    *,
    seed: int | None = None,
) -> Path:
    """Write ``directory/config.json`` (the spec, its arch_id) and
    ``directory/model.safetensors``, the Hugging Face layout. ``spec`` defaults to
    ``model.spec`` (a model from :func:`load_checkpoint` or :func:`from_pretrained`).

    Example::

        archspec.save_pretrained(archspec.build("resnet20", seed=0), "resnet20", "resnet20")
    """
    from archspec.arguments import check_module, check_path, check_seed
    from archspec.formats.pretrained import save_pretrained as _save

    check_module(model)
    seed = check_seed(seed)
    spec = getattr(model, "spec", None) if spec is None else spec
    if spec is None:
        raise ArchSpecError("save_pretrained needs the spec the model was built from: spec=")
    return _save(model, load(spec), check_path(directory, "directory"), seed=seed)


def from_pretrained(
    directory: str | Path, *, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """The model of a directory written by :func:`save_pretrained` (or ``archspec build
    SPEC -o DIR``), rebuilt from its config.json and loaded strictly. A local directory
    only: nothing is downloaded.

    Example::

        model = archspec.from_pretrained("resnet20")
    """
    from archspec.arguments import check_device, check_path
    from archspec.formats.pretrained import from_pretrained as _from

    return _from(check_path(directory, "directory"), device=check_device(device))
