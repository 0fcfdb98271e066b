"""The flat fx graph of a whole network -> a tree of modules, each with its own forward.

codegen/torch_module.py first writes the network as one flat ``torch.fx`` graph: a
statement per op, every module called by its full path (``layer1.0.conv1``). This module
cuts that graph along the module paths into nested modules, as a person writes them: the
top module calls ``conv1``, ``bn1`` ... and ``layer1``; a stage calls its blocks; a block
calls its convs and norms, and its ``downsample``. Each container gets a generated
forward of its own (fx's code generation: straight-line code, each value freed after its
last use), so a stage or a block can be called, hooked and traced alone, and the values a
module reads stay alive until it returns, held by its caller, exactly as in hand-written
PyTorch. A container whose children are ``0 .. n-1`` applied in turn becomes a plain
``nn.Sequential`` (torchvision's stages and ``downsample``), indexable as ``layer2[0]``.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import fx, nn


def parent(path: str) -> str:
    """``layer1.0.conv1`` -> ``layer1.0``; a top-level name -> ``""``."""
    return path.rpartition(".")[0]


def _relative(path: str, container: str) -> str:
    return path[len(container) + 1 :] if container else path


def camel(name: str, prefix: str = "Module") -> str:
    """``se`` -> ``Se``, ``pad_skip`` -> ``PadSkip``: a class name made from a name
    (``prefix`` first where it would not start with a letter)."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words if w)
    return out if out[:1].isalpha() else f"{prefix}{out}"


@dataclass
class _Part:
    """One container being cut out: its path and the flat nodes inside it, in order."""

    path: str
    nodes: list[fx.Node] = field(default_factory=list)


@dataclass(frozen=True)
class Cut:
    """A container's generated graph and the modules its graph names (by relative path)."""

    graph: fx.Graph
    modules: dict[str, nn.Module]
    inputs: tuple[fx.Node, ...]  # flat values it reads from outside, in argument order
    outputs: tuple[fx.Node, ...]  # flat values it returns, in order


class TreeCutter:
    """Cuts a flat fx graph into nested containers.

    ``owner(node)`` names the container a flat node belongs to (the parent of its module
    path); ``leaves`` maps full module paths to the modules the flat graph calls;
    ``make(path, cut)`` turns a cut container into its module (a ``GraphModule`` of the
    right class, or ``nn.Sequential``), and is called innermost first.
    """

    def __init__(
        self,
        flat: fx.Graph,
        leaves: dict[str, nn.Module],
        owner: Callable[[fx.Node], str],
        make: Callable[[str, Cut], nn.Module],
    ) -> None:
        self.flat = flat
        self.leaves = leaves
        self.make = make
        self.position = {node: i for i, node in enumerate(flat.nodes)}
        # Each node's inputs, read once: fx's all_input_nodes walks the arguments anew
        # on every call, and each node is looked at once per level of the tree.
        self.reads = {node: tuple(node.all_input_nodes) for node in flat.nodes}
        self.owner: dict[fx.Node, str] = {}
        for node in reversed(flat.nodes):
            if node.op == "get_attr":  # a module handed to a function: its user's
                self.owner[node] = self.owner[next(iter(node.users))]
            elif node.op in ("placeholder", "output"):
                self.owner[node] = ""
            else:
                self.owner[node] = owner(node)

    def cut(self) -> Cut:
        """The top container (path ``""``): its graph takes the network's input."""
        return self._cut(_Part("", list(self.flat.nodes)), top=True)

    def _child(self, node: fx.Node, container: str) -> str | None:
        """The child container of ``container`` that ``node`` lies in; None: its own."""
        own = self.owner[node]
        if own == container:
            return None
        rest = _relative(own, container)
        head = rest.split(".", 1)[0]
        return f"{container}.{head}" if container else head

    def _cut(self, part: _Part, top: bool = False, inline: bool = False) -> Cut:
        inside = set(part.nodes)
        # Items in this container: its own nodes, and one item per child container.
        children: dict[str, _Part] = {}
        item_of: dict[fx.Node, object] = {}
        for node in part.nodes:
            child = None if inline else self._child(node, part.path)
            if child is None:
                item_of[node] = node
            else:
                item_of[node] = children.setdefault(child, _Part(child))
                children[child].nodes.append(node)

        order = self._order(part, item_of)
        if order is None:
            # A child's ops interleave with this container's (a plugin's sub-scope that
            # reads what its parent computes from the child's own output): this forward
            # calls the child's leaves itself, and the child only holds them.
            return self._cut(part, top, inline=True)

        found: dict[fx.Node, None] = {}  # in order of first read
        if not top:
            for node in part.nodes:
                for arg in self.reads[node]:
                    if arg not in inside:
                        found[arg] = None
        inputs = list(found)
        outputs = [] if top else [n for n in part.nodes if any(u not in inside for u in n.users)]

        graph = fx.Graph()
        env: dict[fx.Node, fx.Node] = {}
        for i, value in enumerate(inputs):
            env[value] = graph.placeholder("x" if len(inputs) == 1 else f"x{i}")
        modules: dict[str, nn.Module] = {}
        for item in order:
            if isinstance(item, _Part):
                sub = self._cut(item)
                name = _relative(item.path, part.path)
                modules[name] = self.make(item.path, sub)
                call = graph.call_module(name, tuple(env[v] for v in sub.inputs))
                call.meta["archspec_module"] = item.path
                # the IR nodes whose values the call returns
                call.meta["archspec_outputs"] = tuple(
                    v.meta.get("archspec_node") for v in sub.outputs
                )
                if len(sub.outputs) == 1:
                    env[sub.outputs[0]] = call
                else:
                    for k, value in enumerate(sub.outputs):
                        env[value] = graph.call_function(operator.getitem, (call, k))
                continue
            node = item
            target = node.target
            if node.op in ("call_module", "get_attr"):
                target = _relative(str(node.target), part.path)
                modules[target] = self.leaves[str(node.target)]
            args, kwargs = fx.map_arg((node.args, node.kwargs), lambda arg: env[arg])
            copy = graph.create_node(node.op, target, args, kwargs, name=self._name(node, part))
            copy.meta = dict(node.meta)
            env[node] = copy
        if not top:
            values = [env[v] for v in outputs]
            graph.output(values[0] if len(values) == 1 else tuple(values))
        return Cut(graph, modules, tuple(inputs), tuple(outputs))

    def _name(self, node: fx.Node, part: _Part) -> str:
        """A local name as a person would write it: ``conv1``, ``add``, not the flat
        graph's ``layer2_0_conv1``."""
        if node.op in ("placeholder", "output"):
            return node.name
        scope = node.meta.get("archspec_scope") or str(node.target)
        return re.sub(r"\W", "_", _relative(scope, part.path)) or node.name

    def _order(self, part: _Part, item_of: dict[fx.Node, object]) -> list[object] | None:
        """The items in an order their data allows, each as early as its first flat node
        (so ops keep the flat order wherever they can); None where two items need each
        other (a child container is not contiguous)."""
        first: dict[int, int] = {}
        items: dict[int, object] = {}
        deps: dict[int, set[int]] = {}
        for node in part.nodes:
            key = id(item_of[node])
            items.setdefault(key, item_of[node])
            first.setdefault(key, self.position[node])
            needs = deps.setdefault(key, set())
            for arg in self.reads[node]:
                other = item_of.get(arg)
                if other is not None and id(other) != key:
                    needs.add(id(other))
        users: dict[int, list[int]] = {k: [] for k in items}
        for key, needs in deps.items():
            for need in needs:
                users[need].append(key)
        waiting = {key: len(needs) for key, needs in deps.items()}
        ready = [(first[k], k) for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[object] = []
        while ready:
            _, key = heapq.heappop(ready)
            order.append(items[key])
            for user in users[key]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (first[user], user))
        return order if len(order) == len(items) else None


def is_chain(cut: Cut) -> bool:
    """True if the container applies children ``0 .. n-1`` in turn to its one input, so
    an ``nn.Sequential`` computes it."""
    nodes = list(cut.graph.nodes)
    if len(cut.inputs) != 1 or len(cut.outputs) != 1 or len(nodes) < 3:
        return False
    previous = nodes[0]
    for i, node in enumerate(nodes[1:-1]):
        if node.op != "call_module" or node.target != str(i) or node.kwargs:
            return False
        if node.args != (previous,):
            return False
        previous = node
    return nodes[-1].args == (previous,) and len(cut.modules) == len(nodes) - 2
