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

from archspec.errors import ArchSpecError, GraphError, PortError, SpecError
from archspec.graph.stats import Stats
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.spec.presets import presets
from archspec.sweep import grid, sample, stats_many

if TYPE_CHECKING:
    import networkx as nx
    import torch

    from archspec.analysis.gradflow import GradFlow

__all__ = [
    "ArchSpec",
    "ArchSpecError",
    "GraphError",
    "PortError",
    "SpecError",
    "Stats",
    "build",
    "gradflow",
    "grid",
    "load",
    "lower",
    "port_state_dict",
    "presets",
    "sample",
    "stats",
    "stats_many",
]
__version__ = "0.1.0"

SpecLike = str | Path | ArchSpec
Overrides = Mapping[str, Any] | Sequence[str] | None


def lower(spec: SpecLike, overrides: Overrides = None) -> nx.DiGraph:
    """The graph IR of a spec (preset name, path or ArchSpec): a ``networkx.DiGraph``
    of primitive ops, every shape inferred.

    Example::

        graph = archspec.lower("resnet18")
        graph.nodes["fc"]["shape"]        # (1000,)
    """
    from archspec.graph.lower import lower as _lower

    return _lower(load(spec, overrides))


def stats(spec: SpecLike, overrides: Overrides = None) -> Stats:
    """Parameters, MACs and FLOPs, computed from shapes alone (no weights).

    Example::

        s = archspec.stats("resnet50")
        s.params, s.macs, s.flops         # 25557032, 4089184256, 8178368512
    """
    from archspec.graph.stats import graph_stats

    return graph_stats(lower(spec, overrides))


def build(
    spec: SpecLike,
    *,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    overrides: Overrides = None,
) -> torch.nn.Module:
    """Build the ``nn.Module`` of a spec. ``seed`` makes the initial weights
    reproducible; ``device="meta"`` allocates nothing.

    Example::

        model = archspec.build("resnet50", seed=0)
        model.load_state_dict(torchvision_resnet50.state_dict())   # names match
    """
    from archspec.codegen.torch_module import build_module

    return build_module(lower(spec, overrides), seed=seed, device=device, dtype=dtype)


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
    from archspec.codegen.port import port_state_dict as _port

    return _port(model, foreign)


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
