"""When the built model frees its activations: where hand-written modules do.

fx's generated forward drops every value right after its last use. Hand-written PyTorch
frees later: a module's inputs stay referenced until the module returns (the caller's
variable and the call's arguments hold them), at every level of the hierarchy. A stage's
input lives until its last block returns, a block's input until its last op, and the
input of a ``downsample`` Sequential until its norm. That makes no difference to what is
computed. It does change what the C allocator sees: glibc trims its heap, and then faults
the pages back in, depending on the order in which blocks are freed. With fx's earlier
frees, ResNet-50's forward took 1.1 to 1.4 times the page faults of torchvision's and ran
2 to 10% slower, for a 7% lower peak (docs/performance.md).

So the forward frees in the same order as the equivalent nested modules would: a value
read inside module ``m`` from outside it is kept alive until ``m``'s last op has run.
One call of :func:`keep_alive` at that op holds the values that would die before it
(in a dense block, most are read by later layers anyway), and fx frees them right after
it. For the ResNets, the sequence of allocations and frees is then exactly
torchvision's (``tests/test_lifetimes.py`` checks it against the hand-written model).
``archspec.build(spec, lifetimes="last_use")`` keeps fx's order, for the lower inference
peak (7% for ResNet-50, up to 29% for a CIFAR net of small blocks).
"""

from __future__ import annotations

from typing import Literal, get_args

import networkx as nx
import torch
from torch import fx

from archspec.codegen.checkpoint import Region

# "modules": freed where nested hand-written modules free them (the default);
# "last_use": right after the last op that reads them, fx's own order.
Lifetimes = Literal["modules", "last_use"]
LIFETIMES: tuple[str, ...] = get_args(Lifetimes)


def keep_alive(value: torch.Tensor, held: list[torch.Tensor]) -> torch.Tensor:
    """``value`` itself; ``held`` stay referenced until this call, as a module's inputs
    stay referenced until it returns. It adds no op: ``torch.compile`` and
    ``torch.export`` trace straight through it (and TorchScript compiles it)."""
    return value


def _containers(scope: str) -> list[str]:
    """The modules around the one at ``scope``, innermost first: ``layer1.0.conv1`` ->
    ``layer1.0``, ``layer1``."""
    parts = scope.split(".")[:-1]
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _inside(scope: str, container: str) -> bool:
    return scope == container or scope.startswith(container + ".")


def hold_module_inputs(
    graph: nx.DiGraph,
    fx_graph: fx.Graph,
    env: dict[str, fx.Node],
    checkpointed: dict[str, Region],
) -> None:
    """Keep each value a module reads from outside it alive until the module's last op.

    ``env`` maps the IR nodes to the fx nodes computing them; it is updated where a
    value now reaches its later readers through a :func:`keep_alive` call.
    """
    last: dict[str, str] = {}  # module path -> its last op
    reads: dict[str, dict[str, None]] = {}  # module path -> values it reads from outside
    for node, data in graph.nodes(data=True):
        for container in _containers(data["scope"]):
            last[container] = node
            outside = reads.setdefault(container, {})
            for source in data["inputs"]:
                read = graph.nodes[source]
                # The network's input needs no holding: its caller holds it.
                if read["op"] != "input" and not _inside(read["scope"], container):
                    outside[source] = None

    # Where several modules end at one op (a stage and its last block), the innermost is
    # released first, as its call returns first.
    held_at: dict[str, dict[str, None]] = {}
    for container, end in sorted(last.items(), key=lambda item: -item[0].count(".")):
        region = checkpointed.get(end)
        if region is not None:  # a region is one call, made at its last op
            end = region.nodes[-1]
        held_at.setdefault(end, {}).update(reads[container])

    order = {node: i for i, node in enumerate(graph.nodes)}

    def dies_before(value: str, end: str) -> bool:  # else a later op keeps it anyway
        return max(order[user] for user in graph.succ[value]) < order[end]

    for end in sorted(held_at, key=order.__getitem__):
        held = [env[v] for v in held_at[end] if v != end and v in env and dies_before(v, end)]
        if not held or end not in env:
            continue
        out = env[end]
        with fx_graph.inserting_after(out):
            kept = fx_graph.call_function(keep_alive, (out, held))
        kept.meta["archspec_node"] = end  # its result is the value of ``end``
        out.replace_all_uses_with(kept, delete_user_cb=lambda user, kept=kept: user is not kept)
        env[end] = kept
