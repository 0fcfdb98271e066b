"""The builder block lowerings write through: one method per primitive op.

Each call adds a node to an :class:`~archspec.graph.records.IRGraph` (a networkx
DiGraph) whose record (:class:`~archspec.graph.records.NodeRecord`) holds its op, op
parameters, output shape and scope (the dotted module path it gets in the built model),
checks shapes at once, and returns a :class:`Value` to feed the next op. Shape errors
become a :class:`~archspec.errors.GraphError` that names the block and the shapes. Edge
attributes: ``role`` (``main``, ``skip`` or ``gate``) and ``shape``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import networkx as nx

from archspec.errors import GraphError
from archspec.graph.ops import OPS, Shape, ShapeMismatch
from archspec.graph.records import BlockRecord, IRGraph, NodeRecord, StageRecord


@dataclass(frozen=True)
class Value:
    """An op's output as block code sees it: the node that makes it, and its shape."""

    node: str
    shape: Shape

    @property
    def channels(self) -> int:
        return self.shape[0]


class GraphBuilder:
    """Builds the graph IR; block lowerings call its op methods inside a scope."""

    def __init__(self, name: str, input_shape: Shape) -> None:
        self.graph = IRGraph(name=name, input_shape=tuple(input_shape), blocks=[], stages=[])
        self._scope: list[str] = []
        self._path = "main"
        self._block = ""
        self._stage = ""
        self._uses: dict[str, int] = {}
        self._region: list[str] | None = None
        # Blocks in the whole network, set by the lowering before the first stage, so a
        # block can know how deep it sits (stochastic depth rates rise with depth).
        self.total_blocks = 0
        # The dilation of the block being lowered, set by the lowering before each block:
        # (for the conv that would carry a stride, for the block's later convs). A stage
        # that trades its stride for dilation gives its first block (d, d·stride), as
        # torchvision's _make_layer hands its first block previous_dilation.
        self.dilation: tuple[int, int] = (1, 1)
        # The time of an ODE stage with a time channel (lowering/ode.py): every conv made
        # while it is set reads its input with t as one more channel, first.
        self._time: Value | None = None
        self.input = self._node("input", "input", [], {}, tuple(input_shape))

    # -- scopes -------------------------------------------------------------------
    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Open a module scope: ops created inside get ``name.`` prefixed to theirs."""
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    @contextmanager
    def stage(self, name: str, **info: Any) -> Iterator[StageRecord]:
        """A stage of the network (``layer2``); ``info`` fills its :class:`StageRecord`."""
        record = StageRecord(self._prefixed(name), **info)
        self.graph.graph["stages"].append(record)
        outer, self._stage = self._stage, record.scope
        try:
            with self.scope(name):
                yield record
        finally:
            self._stage = outer

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Mark ops outside the stages (``stem``, ``head``) for per-part reports."""
        outer, self._stage = self._stage, name
        try:
            yield
        finally:
            self._stage = outer

    @contextmanager
    def block(self, name: str, x: Value, **info: Any) -> Iterator[BlockRecord]:
        """One block (``layer2.0``); ``info`` fills its :class:`BlockRecord`, and the
        caller sets ``record.out_shape`` to its output's shape."""
        record = BlockRecord(self._prefixed(name), self._stage, x.shape, **info)
        self.graph.graph["blocks"].append(record)
        outer, self._block = self._block, record.scope
        try:
            with self.scope(name):
                yield record
        finally:
            self._block = outer

    def depth_fraction(self) -> float:
        """l / L for the block being lowered: the l-th (from 1) of the network's L blocks."""
        done = len(self.graph.graph["blocks"])
        return done / max(self.total_blocks, done, 1)

    @contextmanager
    def checkpoint(self) -> Iterator[None]:
        """Ops created inside form one region that the built model recomputes in backward
        instead of keeping its activations (``torch.utils.checkpoint``). A region is a
        chain: optionally a concat of its inputs, then single-input ops, one output.
        Regions are listed in ``graph.graph["checkpoints"]`` (node ids, in order)."""
        if self._region is not None:
            raise RuntimeError("checkpoint regions do not nest")
        self._region = region = []
        try:
            yield
        finally:
            self._region = None
        if region:
            self.graph.graph.setdefault("checkpoints", []).append(region)

    @contextmanager
    def path(self, path: str) -> Iterator[None]:
        """Mark the ops created inside as the skip (or main) side of a residual."""
        outer, self._path = self._path, path
        try:
            yield
        finally:
            self._path = outer

    @contextmanager
    def time_channel(self, t: Value) -> Iterator[None]:
        """Convs created inside take ``t`` as one more input channel (an ODE's f(t, x))."""
        outer, self._time = self._time, t
        try:
            yield
        finally:
            self._time = outer

    def _with_time(self, name: str, inputs: list[Value], params: dict[str, Any]) -> tuple:
        """A conv's input with t joined to it as channel 0, and its params to match."""
        if params.get("groups", 1) != 1:
            raise self.refuse(
                f"a grouped conv ({params['groups']} groups) cannot take the ODE time as one "
                "more input channel; use time_channel: false, or block settings that leave "
                "its convs ungrouped",
                name=name,
            )
        t, self._time = self._time, None
        try:
            joined = self._node("time_concat", f"{name}_time", [inputs[0], t], {})
        finally:
            self._time = t
        return [joined, *inputs[1:]], {**params, "in_channels": params["in_channels"] + 1}

    def _prefixed(self, name: str) -> str:
        return ".".join([*self._scope, name]) if name else ".".join(self._scope)

    def refuse(self, message: str, shapes: Sequence[Shape] = (), *, name: str = "") -> GraphError:
        """The error a lowering raises where it cannot build what it was given, named
        as the builder names its own: the module path here (``name`` below it), and the
        block it is in.

        Example: ``raise g.refuse("instance norm cannot normalize a 1x1 map")``."""
        where = self._prefixed(name)
        scope = self._block or where
        # Outside a block (a stage's own refusal) the scope is the path: said once.
        text = message if where == scope else f"{where}: {message}"
        return GraphError(text, scope=scope, shapes=shapes)

    # -- the one place nodes are made ----------------------------------------------
    def _node(
        self,
        op: str,
        name: str,
        inputs: list[Value],
        params: dict[str, Any],
        shape: Shape | None = None,
        roles: list[str] | None = None,
        init: str | None = None,
    ) -> Value:
        if op == "conv" and self._time is not None:
            inputs, params = self._with_time(name, inputs, params)
        scope = self._prefixed(name)
        if shape is None:
            try:
                shape = OPS[op].shape(params, [v.shape for v in inputs])
            except ShapeMismatch as err:
                raise self.refuse(str(err), [v.shape for v in inputs], name=name) from None
        # A module path names a module; a second op at the same path is a second call
        # of that module (a parameter-free activation), so the node id gets a suffix.
        graph = self.graph
        node_id = scope
        call = 0
        if node_id in graph._succ:
            # Only a call of the same parameter-free op may reuse a path: anything else
            # would make two layers share one module (and its weights or its settings).
            first = graph._node[scope]
            if (
                first.op != op
                or first.params != params
                or OPS[op].params(params, [v.shape for v in inputs])
            ):
                raise self.refuse(
                    f"two layers would share this module path ({first.op} and {op} with "
                    "settings of their own)",
                    name=name,
                )
            self._uses[scope] = self._uses.get(scope, 1) + 1
            node_id = f"{scope}#{self._uses[scope]}"
            call = self._uses[scope] - 1
        shape = tuple(shape)
        # Written straight into networkx's adjacency dicts (the data structure its docs
        # describe: _node, _succ, _pred), as add_node/add_edge would leave them: their
        # per-call checks were a third of lowering time, and sweeps lower thousands of
        # specs. Inputs are always nodes made here already, so nothing needs creating.
        graph._node[node_id] = NodeRecord(
            op,
            params,
            scope,
            shape,
            tuple([v.node for v in inputs]),
            self._block,
            self._stage,
            self._path,
            init,
            call,
        )
        graph._succ[node_id] = {}
        preds = graph._pred[node_id] = {}
        for i, v in enumerate(inputs):
            succ = graph._succ[v.node]
            edge = succ.get(node_id)
            if edge is None:  # one edge per pair, as add_edge keeps it
                edge = succ[node_id] = preds[v.node] = {}
            edge["role"] = roles[i] if roles else self._path
            edge["shape"] = v.shape
        if self._region is not None:
            self._region.append(node_id)
        return Value(node_id, shape)

    # -- ops --------------------------------------------------------------------------
    def conv(
        self,
        x: Value,
        out_channels: int,
        kernel: int | tuple[int, ...] = 3,
        *,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | None = None,
        groups: int = 1,
        dilation: int = 1,
        bias: bool = False,
        name: str = "conv",
        init: str | None = None,
    ) -> Value:
        if x.channels % groups or out_channels % groups:
            raise GraphError(
                f"{self._prefixed(name)}: {x.channels} -> {out_channels} channels do not "
                f"divide into {groups} groups",
                scope=self._block,
                shapes=[x.shape],
            )
        params = {
            "in_channels": x.channels,
            "out_channels": out_channels,
            "kernel": kernel,
            "stride": stride,
            # "same" padding: dilation · (kernel − 1) / 2 per axis, torchvision's padding=dilation
            "padding": _half(kernel, dilation) if padding is None else padding,
            "groups": groups,
            "bias": bias,
        }
        if dilation != 1:  # only where set, so undilated nets keep their params
            params["dilation"] = dilation
        return self._node("conv", name, [x], params, init=init)

    def norm(self, x: Value, kind: Any, *, name: str = "bn", init: str | None = None) -> Value:
        """A norm of ``kind``: a name (``batch``) or a spec's setting with ``kind`` and
        ``groups`` (``NormSetting``)."""
        name_of = getattr(kind, "kind", kind)
        if name_of == "none":
            return x
        params: dict[str, Any] = {"kind": name_of, "channels": x.channels}
        if getattr(kind, "groups", None) is not None:
            params["groups"] = kind.groups
        return self._node("norm", name, [x], params, init=init)

    def act(self, x: Value, kind: Any, *, name: str = "relu") -> Value:
        """An activation of ``kind``: a name (``relu``) or a spec's setting with ``kind``
        and ``slope`` (``ActSetting``)."""
        name_of = getattr(kind, "kind", kind)
        if name_of == "none":
            return x
        params: dict[str, Any] = {"kind": name_of}
        if getattr(kind, "slope", None) is not None:
            params["slope"] = kind.slope
        return self._node("act", name, [x], params)

    def pool(
        self,
        x: Value,
        kind: str,
        kernel: int | tuple[int, ...],
        stride: int | tuple[int, ...],
        padding: int | tuple[int, ...] = 0,
        *,
        name: str,
    ) -> Value:
        params = {"kind": kind, "kernel": kernel, "stride": stride, "padding": padding}
        return self._node("pool", name, [x], params)

    def global_pool(self, x: Value, kind: str = "avg", *, name: str = "avgpool") -> Value:
        return self._node("global_pool", name, [x], {"kind": kind})

    def flatten(self, x: Value, *, name: str = "flatten") -> Value:
        return self._node("flatten", name, [x], {})

    def linear(self, x: Value, out_features: int, *, bias: bool = True, name: str = "fc") -> Value:
        params = {"in_features": x.shape[0], "out_features": out_features, "bias": bias}
        return self._node("linear", name, [x], params)

    def dropout(self, x: Value, p: float, *, name: str = "dropout") -> Value:
        if p <= 0:
            return x
        return self._node("dropout", name, [x], {"p": p})

    def add(self, a: Value, b: Value, *, name: str = "add") -> Value:
        """A plain sum, inside a branch (a block's own parallel paths)."""
        return self._node("add", name, [a, b], {}, roles=["main", "main"])

    def merge(self, main: Value, skip: Value, *, name: str = "add") -> Value:
        """A block's residual merge: its branch plus its skip (blocks/skips.py)."""
        return self._node("merge", name, [main, skip], {}, roles=["main", "skip"])

    def concat(self, xs: list[Value], *, name: str = "cat") -> Value:
        return self._node("concat", name, xs, {})

    def pad_skip(
        self, x: Value, out_channels: int, stride: int | tuple[int, ...], *, name: str
    ) -> Value:
        return self._node("pad_skip", name, [x], {"stride": stride, "out_channels": out_channels})

    def op(
        self,
        op: str,
        name: str,
        inputs: list[Value],
        roles: list[str] | None = None,
        init: str | None = None,
        **params: Any,
    ) -> Value:
        """Any registered op, for block types that bring their own primitives."""
        return self._node(op, name, inputs, params, roles=roles, init=init)

    def finish(self, out: Value) -> nx.DiGraph:
        nx._clear_cache(self.graph)  # what add_node/add_edge would have done; _node skips it
        self.graph.graph["output"] = out.node
        self.graph.graph["outputs"] = (out.node,)
        self.graph.graph["output_shape"] = out.shape
        self.graph.graph["output_shapes"] = (out.shape,)
        return self.graph


def _half(kernel: int | tuple[int, ...], dilation: int = 1) -> int | tuple[int, ...]:
    """Same-size padding of an odd kernel, per axis: 3 -> 1, (3, 7, 7) -> (1, 3, 3);
    dilated, dilation · (kernel // 2)."""
    if isinstance(kernel, int):
        return dilation * (kernel // 2)
    return tuple(dilation * (k // 2) for k in kernel)
