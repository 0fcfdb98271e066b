"""Lowering: a validated spec becomes the graph IR.

This package sits between ``spec/`` and ``blocks/`` above and ``graph/`` below: it is the
one place that reads a spec and calls block types' lowering rules, so the IR package
itself depends on neither. Example::

    import archspec
    from archspec.lowering import lower

    graph = lower(archspec.load("resnet18"))
"""

from archspec.lowering.network import lower
from archspec.lowering.ode import eager_only_stages, lower_ode_stage

__all__ = ["eager_only_stages", "lower", "lower_ode_stage"]
