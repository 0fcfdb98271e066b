"""An ODE stage: dx/dt = f(t, x) integrated over [0, t] (Chen et al. 2018, "Neural
Ordinary Differential Equations"), f being one block's residual branch.

Fixed-grid solvers (euler, midpoint, rk4) step in plain torch here (:class:`FixedGridOde`,
which emit_python copies into standalone source), the same schemes as torchdiffeq's (its
rk4 is the 3/8 rule), so the stage runs under ``torch.compile``, ``torch.export`` and
TorchScript (torchdiffeq's own loop branches on tensor values, which none can trace).
The adaptive dopri5 and the adjoint method call torchdiffeq, eagerly only.

Example::

    stage = OdeStage(branch, solver="rk4", steps=4, t=1.0)
    y = stage(x)            # x + integral of branch(x(s)) ds over [0, 1]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class FixedGridOde(nn.Module):
    """dx/dt = f(t, x) solved from the input over [0, t] by a fixed-grid solver (euler,
    midpoint or rk4, torchdiffeq's schemes) in plain torch; ``func`` is the block's branch
    (its state-dict names are ``func.conv1.weight`` ...), called ``func(x, t)`` where it
    takes the time as a channel. Pure torch, so emit_python copies it as it is."""

    # Constants to TorchScript, which then compiles only the branches the stage takes
    # (not func(x, t) where func takes x alone, nor a first block it lacks).
    __constants__ = ("has_first", "time_channel")

    def __init__(
        self,
        func: nn.Module,
        solver: str = "euler",
        steps: int = 1,
        t: float = 1.0,
        time_channel: bool = False,
        first: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if first is not None:  # the discrete block that changes the shape, as layerN.0
            self.add_module("0", first)
        self.has_first = first is not None
        self.func = func
        self.solver, self.steps, self.t = solver, int(steps), float(t)
        # f(t, x): func takes t too, as one more input channel of each conv (func(x, t)).
        self.time_channel = bool(time_channel)

    def extra_repr(self) -> str:
        time = ", time_channel=True" if self.time_channel else ""
        return f"solver={self.solver}, steps={self.steps}, t={self.t:g}{time}"

    def f(self, t: float, x: torch.Tensor) -> torch.Tensor:
        """dx/dt at time t: the branch, given t where it takes it."""
        # Each if has its else: TorchScript would compile a call after the if as well.
        if self.time_channel:
            if torch.jit.is_scripting():
                # a scripted func types its unannotated t as a tensor
                return self.func(x, torch.tensor(t, dtype=x.dtype, device=x.device))
            else:
                return self.func(x, t)
        else:
            return self.func(x)

    def before(self, x: torch.Tensor) -> torch.Tensor:
        """The discrete block before the ODE, where the stage has one."""
        if self.has_first:
            x = getattr(self, "0")(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.solve(self.before(x))

    def solve(self, x: torch.Tensor) -> torch.Tensor:
        h = self.t / self.steps
        for k in range(self.steps):
            t0 = k * h  # as torchdiffeq's grid, whose last point is t itself
            t1 = self.t if k == self.steps - 1 else (k + 1) * h
            if self.solver == "euler":
                fx = self.f(t0, x)
                if torch.is_grad_enabled():
                    x = torch.add(x, fx, alpha=h)
                else:
                    # Into f(x)'s fresh buffer, as the discrete block's `out += identity`:
                    # a new output each step costs a page-faulted allocation. Not under
                    # autograd, where f's last op may have saved its output.
                    x = (fx if h == 1.0 else fx.mul_(h)).add_(x)
            elif self.solver == "midpoint":
                x = x + h * self.f(t0 + 0.5 * h, x + (0.5 * h) * self.f(t0, x))
            else:  # rk4, the 3/8 rule, as torchdiffeq's rk4
                k1 = self.f(t0, x)
                k2 = self.f(t0 + h / 3, x + (h / 3) * k1)
                k3 = self.f(t0 + h * 2 / 3, x + h * (k2 - k1 / 3))
                k4 = self.f(t1, x + h * (k1 - k2 + k3))
                x = x + (h / 8) * (k1 + 3 * (k2 + k3) + k4)
        return x


class OdeStage(FixedGridOde):
    """An ODE stage as built: a fixed-grid solver in plain torch, or the adaptive dopri5
    and the adjoint method through torchdiffeq (eagerly only)."""

    def __init__(
        self,
        func: nn.Module,
        *,
        solver: str = "euler",
        steps: int = 1,
        t: float = 1.0,
        rtol: float = 1e-3,
        atol: float = 1e-4,
        adjoint: bool = False,
        time_channel: bool = False,
        first: nn.Module | None = None,
    ) -> None:
        super().__init__(func, solver, steps, t, time_channel, first)
        self.rtol, self.atol, self.adjoint = float(rtol), float(atol), bool(adjoint)
        # Branch evaluations of the last eager forward (counted for adaptive solvers).
        self.last_evals = 0

    @property
    def eager_only(self) -> bool:
        """dopri5 or the adjoint: torchdiffeq's loop, which export and compile refuse."""
        return self.solver == "dopri5" or self.adjoint

    def extra_repr(self) -> str:
        if self.solver == "dopri5":
            how = f"rtol={self.rtol:g}, atol={self.atol:g}"
        else:
            how = f"steps={self.steps}"
        time = ", time_channel=True" if self.time_channel else ""
        return f"solver={self.solver}, {how}, t={self.t:g}, adjoint={self.adjoint}{time}"

    def __prepare_scriptable__(self) -> OdeStage:
        # torch.jit.script asks each module first: refused here, in a line, rather than
        # deep in torchdiffeq's source, which TorchScript cannot compile.
        if self.eager_only:
            from archspec.errors import ArchSpecError

            what = "the adjoint method" if self.adjoint else f"the adaptive solver {self.solver}"
            raise ArchSpecError(
                f"{what} runs eagerly only (torchdiffeq's loop), so torch.jit.script cannot "
                "compile this ODE stage; use a fixed-grid solver (euler, midpoint, rk4) "
                "without adjoint"
            )
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.before(x)
        if x.is_meta and self.eager_only:
            return x + self.f(0.0, x)  # shapes only: meta tensors hold no values to adapt to
        # Nested: TorchScript skips the body of `if not is_scripting()` only when the if
        # tests nothing else (and __prepare_scriptable__ refuses such a stage anyway).
        if self.eager_only:  # noqa: SIM102
            if not torch.jit.is_scripting():
                return self._torchdiffeq(x)
        return self.solve(x)

    def _torchdiffeq(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling() or torch.compiler.is_exporting():
            from archspec.errors import ArchSpecError

            what = "the adjoint method" if self.adjoint else f"the adaptive solver {self.solver}"
            raise ArchSpecError(
                f"{what} runs eagerly only (torchdiffeq's loop branches on tensor values); "
                "torch.compile(fullgraph=True) and torch.export need a fixed-grid solver "
                "without adjoint (torch.compile without fullgraph runs the stage eagerly)"
            )
        return self._solve_eagerly(x)

    # Never traced: under torch.compile without fullgraph, Dynamo runs the refusal above
    # eagerly and then would trace torchdiffeq's (and scipy's) import and loop, failing
    # inside them; disabled, the stage runs eagerly between compiled graphs.
    @torch.compiler.disable
    def _solve_eagerly(self, x: torch.Tensor) -> torch.Tensor:
        try:
            import torchdiffeq
        except ImportError:
            from archspec.errors import ArchSpecError

            raise ArchSpecError(
                "ODE stages with dopri5 or adjoint need torchdiffeq: pip install 'archspec[ode]'"
            ) from None
        counter = _Counted(self.func, self.time_channel)
        span = torch.tensor([0.0, self.t], dtype=x.dtype, device=x.device)
        options: dict[str, Any] = {}
        kwargs: dict[str, Any] = {"method": self.solver}
        if self.solver == "dopri5":
            kwargs.update(rtol=self.rtol, atol=self.atol)
        else:
            options["step_size"] = self.t / self.steps
            if self.solver == "rk4":
                options["perturb"] = False
            kwargs["options"] = options
        if self.adjoint:
            # The adjoint solves backwards through the branch's parameters only.
            params = tuple(p for p in self.func.parameters() if p.requires_grad)
            out = torchdiffeq.odeint_adjoint(counter, x, span, adjoint_params=params, **kwargs)
        else:
            out = torchdiffeq.odeint(counter, x, span, **kwargs)
        self.last_evals = counter.calls
        return out[-1]


class _Counted(nn.Module):
    """f(t, x) that counts its calls (the evaluations an adaptive solver chose)."""

    def __init__(self, func: nn.Module, time_channel: bool = False) -> None:
        super().__init__()
        self.func = func
        self.time_channel = time_channel
        self.calls = 0

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.func(x, t) if self.time_channel else self.func(x)


def time_concat(h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """t broadcast as one more channel before h's (Chen et al.'s ConcatConv2d): t a
    number (eagerly), a 0-d tensor (a solver's) or one value per sample."""
    # Nested: TorchScript skips the fx check only in an `if` that tests nothing else.
    if not torch.jit.is_scripting():  # noqa: SIM102
        if isinstance(h, torch.fx.Proxy):
            # Loading a pickle re-traces the generated forward: this stays one call, as
            # built (its reshape needs h's rank, which a proxy does not have).
            return h.tracer.create_proxy("call_function", time_concat, (h, t), {})
    t = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape([-1] + [1] * (h.dim() - 1))
    return torch.cat([torch.ones_like(h[:, :1]) * t, h], 1)
