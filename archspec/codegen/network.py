"""The classes of a built model's modules: the network at the top, its generated
containers (stages, blocks, ``se``, ``gate``...), and what a backbone says of its outputs.

Every container is a ``torch.fx.GraphModule`` (its forward is generated source), made as
an instance of :class:`Generated` so that a deep copy or a pickle keeps its class name
and, for the network, the backbone methods and ``feature_info``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.fx.graph_module import reduce_graph_module

from archspec.errors import ArchSpecError

# timm's keys for a feature's entries, and the attribute each reads.
_TIMM_KEYS = {"module": "module", "num_chs": "channels", "reduction": "reduction"}

Index = int | Sequence[int] | None


@dataclass(frozen=True)
class Feature:
    """One output of a backbone: the module that computes it, its channels, and its
    reduction (how many input pixels one of its pixels spans along an axis). It also
    reads as timm's entries do, ``feature["num_chs"]``, and ``dict(feature)`` is timm's."""

    module: str
    channels: int
    reduction: int

    def __getitem__(self, key: str) -> str | int:
        if key not in _TIMM_KEYS:
            raise KeyError(f"{key!r}: a feature has {', '.join(_TIMM_KEYS)}")
        return getattr(self, _TIMM_KEYS[key])  # type: ignore[no-any-return]

    def keys(self) -> list[str]:
        return list(_TIMM_KEYS)


class FeatureInfo(Sequence[Feature]):
    """What each output of a backbone is, in order, as timm's ``feature_info``.

    Example::

        model = archspec.build("resnet50", features=True)
        model.feature_info.channels()     # [64, 256, 512, 1024, 2048]
        model.feature_info.reduction()    # [2, 4, 8, 16, 32]
        model.feature_info.module_name()  # ['relu', 'layer1', 'layer2', 'layer3', 'layer4']
    """

    def __init__(self, features: Sequence[Feature]) -> None:
        self._features = tuple(features)

    def __getitem__(self, i: int) -> Feature:  # type: ignore[override]
        return self._features[i]

    def __len__(self) -> int:
        return len(self._features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features)

    def __repr__(self) -> str:
        return f"FeatureInfo({list(self._features)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureInfo) and self._features == other._features

    def __hash__(self) -> int:
        return hash(self._features)

    def get(self, key: str, idx: Index = None) -> Any:
        """Entry ``key`` (timm's: ``num_chs``, ``reduction``, ``module``) of every output,
        of output ``idx``, or of the outputs listed in ``idx``, as timm's ``get``."""
        if idx is None:
            return [f[key] for f in self._features]
        if isinstance(idx, int):
            return self._features[idx][key]
        return [self._features[i][key] for i in idx]

    def channels(self, idx: Index = None) -> Any:
        """Channels of every output (``channels(-1)``: the last one's), as timm's."""
        return self.get("num_chs", idx)

    def reduction(self, idx: Index = None) -> Any:
        return self.get("reduction", idx)

    def module_name(self, idx: Index = None) -> Any:
        return self.get("module", idx)

    def get_dicts(self, keys: Sequence[str] | None = None, idx: Index = None) -> Any:
        """timm's form: ``[{"module": ..., "num_chs": ..., "reduction": ...}, ...]``, with
        only ``keys`` if given, for output ``idx`` or the outputs it lists if given."""

        def one(f: Feature) -> dict[str, Any]:
            return {k: f[k] for k in (keys if keys is not None else _TIMM_KEYS)}

        if isinstance(idx, int):
            return one(self._features[idx])
        return [one(self._features[i]) for i in (range(len(self)) if idx is None else idx)]


def _real_class(obj: object) -> type:
    # GraphModule gives every instance a class of its own, ``GraphModuleImpl``.
    return next(t for t in type(obj).__mro__ if t.__qualname__.split(".")[-1] != "GraphModuleImpl")


def _restore(cls: type, body: dict[str, Any], import_block: str) -> nn.Module:
    """Unpickle a :class:`Generated`: fx rebuilds its graph from its source, then the
    module gets its class back."""
    training = body.get("training", True)
    plain = reduce_graph_module(body, import_block)
    module = cls(plain, plain.graph, class_name=body["_graphmodule_cls_name"])
    for key in cls.preserved:
        if key in body:
            setattr(module, key, body[key])
    module.training = training  # the children come back with their own modes
    return module


class Generated(fx.GraphModule):
    """A container with a generated forward; class names survive copies and pickles."""

    # Plain attributes a copy or a pickle must keep (GraphModule keeps only modules).
    preserved: tuple[str, ...] = ()

    def __str__(self) -> str:
        # The module tree, as print() shows a hand-written model; fx's own str() appends
        # the generated code (``model.code`` still gives it).
        return nn.Module.__repr__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        _, (body, import_block) = super().__reduce__()
        body["_graphmodule_cls_name"] = type(self).__name__
        return (_restore, (_real_class(self), body, import_block))

    def _deepcopy_init(self) -> Callable[..., None]:
        name = type(self).__name__
        preserved = self.preserved

        def init(res: Generated, fake: nn.Module, graph: fx.Graph) -> None:
            Generated.__init__(res, fake, graph, class_name=name)
            for key in preserved:
                if key in fake.__dict__:
                    setattr(res, key, fake.__dict__[key])

        return init


class Stage(Generated):
    """A stage whose blocks are not a plain chain (a dense stage feeds each layer every
    earlier map, and may start with a transition; a cross-stage partial stage runs its
    ``blocks`` on half its channels): its blocks index as an
    ``nn.Sequential``'s do, ``stage[0]`` .. ``stage[-1]``, and iterate in order."""

    def _blocks(self) -> list[nn.Module]:
        found = [m for name, m in self._modules.items() if name.isdigit() and m is not None]
        inner = self._modules.get("blocks")
        if not found and isinstance(inner, nn.Sequential):
            # A stage with ops around its chain of blocks (a cross-stage partial stage
            # holds them as ``blocks``, as timm's CspNet does).
            return list(inner)
        return found

    def __getitem__(self, i: int) -> nn.Module:
        return self._blocks()[i]

    def __len__(self) -> int:
        return len(self._blocks())

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self._blocks())


class Network(Generated):
    """The top module of a built network: an ``nn.Module`` tree as hand-written PyTorch
    is (``model.conv1``, ``model.layer2[0]``, ``model.fc``), with timm's backbone methods.

    ``feature_info`` describes the outputs of a backbone (``archspec.build(spec,
    features=True)``); on a classifier, as on timm's, the maps its backbone would return.
    ``backbone`` says which of the two the forward returns.
    """

    preserved = (
        "backbone",
        "feature_info",
        "features_path",
        "classifier",
        "num_features",
        "num_classes",
    )

    # Set by the builder (no class annotations: TorchScript would read them as types):
    # backbone, whether the forward returns feature maps; feature_info; features_path,
    # the top-level calls from the input to the last stage's map, one input to one
    # output each (``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1`` ..), for
    # forward_features; classifier, the path of the final linear
    # layer or None, for reset_classifier; timm's num_features (the channels of
    # forward_features' map, None where there is none) and num_classes (the
    # classifier's outputs, 0 without one).

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map (after the final norm, where the network has one),
        before the head: timm's ``forward_features``.

        Example::

            model = archspec.build("resnet50")
            model.forward_features(torch.randn(1, 3, 224, 224)).shape  # (1, 2048, 7, 7)
        """
        if not self.features_path:
            raise ArchSpecError("this network's stem and stages are not a chain of modules")
        for name in self.features_path:
            x = self.get_submodule(name)(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The head alone, on the map forward_features returns, so that
        ``model.forward_head(model.forward_features(x))`` is ``model(x)``;
        ``pre_logits=True`` stops before the classifier (the pooled, flattened features).
        As timm's ``forward_head``.

        Example::

            model = archspec.build("resnet50")
            feats = model.forward_head(model.forward_features(x), pre_logits=True)  # (N, 2048)
        """
        # A pickle made before ``backbone`` existed: feature_info marked a backbone then.
        if getattr(self, "backbone", self.feature_info is not None):
            raise ArchSpecError("a backbone (built with features) has no head")
        if not self.features_path:
            raise ArchSpecError("this network's stem and stages are not a chain of modules")
        # The top forward's calls, in order: the first len(features_path) are the trunk.
        calls = [n for n in self.graph.nodes if n.op != "placeholder"]
        values: dict[fx.Node, Any] = {calls[len(self.features_path) - 1]: x}

        def value(node: fx.Node) -> Any:
            if node not in values:
                raise ArchSpecError(f"the head reads {node.name}, not only the last stage's map")
            return values[node]

        for node in calls[len(self.features_path) :]:
            args = fx.node.map_arg(node.args, value)
            if node.op == "output":
                return args[0]  # type: ignore[no-any-return]
            if pre_logits and node.op == "call_module" and node.target == self.classifier:
                return args[0]  # type: ignore[no-any-return]
            kwargs = fx.node.map_arg(node.kwargs, value)
            if node.op == "call_module":
                values[node] = self.get_submodule(str(node.target))(*args, **kwargs)
            elif node.op == "call_function":
                values[node] = node.target(*args, **kwargs)  # type: ignore[operator]
            else:
                values[node] = getattr(args[0], str(node.target))(*args[1:], **kwargs)
        raise ArchSpecError("the network's forward returns nothing")  # fx always has one

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``fc``), as timm's ``get_classifier``."""
        if self.classifier is None:
            raise ArchSpecError("this network has no classifier (a backbone, or head: none)")
        return self.get_submodule(self.classifier)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final linear layer by a new one with ``num_classes`` outputs (its
        initialization PyTorch's default); 0 makes it the identity, so the forward returns
        the pooled features. As timm's ``reset_classifier``.

        Example::

            model = archspec.build("resnet50", seed=0)
            model.reset_classifier(10)      # a new 2048 -> 10 fc
        """
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ArchSpecError(f"num_classes must be a whole number >= 0, got {num_classes!r}")
        old = self.get_classifier()
        if isinstance(old, nn.Linear):
            in_features, bias, weight = old.in_features, old.bias is not None, old.weight
        else:  # reset to 0 before: the identity remembers the width it passes on
            in_features, bias, weight = old.in_features, True, None  # type: ignore[attr-defined]
        if num_classes == 0:
            new: nn.Module = nn.Identity()
            new.in_features = in_features  # type: ignore[assignment]
        else:
            ref = weight if weight is not None else next(self.parameters())
            new = nn.Linear(in_features, num_classes, bias=bias, device=ref.device)
            new = new.to(ref.dtype)
        *parents, leaf = self.classifier.split(".")  # type: ignore[union-attr]
        owner = self.get_submodule(".".join(parents)) if parents else self
        setattr(owner, leaf, new)
        self.num_classes = num_classes
