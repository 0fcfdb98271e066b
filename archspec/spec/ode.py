"""The ``ode`` setting of a stage: integrate one block's residual branch over [0, t].

A residual stage x_{k+1} = x_k + f(x_k) is one Euler step of dx/dt = f(x) (Chen et al.
2018). A stage with ``ode`` lowers its block's branch once (``layerN.func``) and the built
model solves the ODE with torchdiffeq. Example::

    stages:
      - {depth: 1, width: 64, ode: {solver: rk4, steps: 4, t: 1.0}}
      - {depth: 1, width: 64, ode: {solver: euler, steps: 2, time_channel: true}}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from archspec.spec.fields import SpecModel

MAX_STEPS = 10_000
# Function evaluations per step of each fixed-grid solver.
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "rk4": 4}
FIXED = tuple(EVALS_PER_STEP)
ADAPTIVE = ("dopri5",)


class OdeSpec(SpecModel):
    """How an ODE stage is integrated."""

    solver: Literal["euler", "midpoint", "rk4", "dopri5"] = "euler"
    """euler, midpoint, rk4: fixed grid of ``steps`` steps (1, 2, 4 evaluations of the
    branch per step); dopri5: adaptive, to ``rtol``/``atol`` (evaluations depend on the
    data)."""
    steps: Annotated[int, Field(strict=True, ge=1, le=MAX_STEPS)] = 1
    "Steps of a fixed-grid solver over [0, t]; step size t / steps."
    t: Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)] = 1.0
    "End time of the integration."
    rtol: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 1e-3
    "Relative tolerance of an adaptive solver."
    atol: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 1e-4
    "Absolute tolerance of an adaptive solver."
    adjoint: bool = False
    """Gradients by the adjoint method (torchdiffeq's odeint_adjoint): memory constant in
    the number of steps, at the cost of solving backwards in time."""
    time_channel: Annotated[bool, Field(strict=True)] = False
    """Give each conv of f the time t as one more input channel, first (Chen et al.'s
    ConcatConv2d): f(t, x), each conv's weight with ``in_channels + 1`` inputs."""

    @model_validator(mode="after")
    def _settings_apply(self) -> OdeSpec:
        fields = self.model_fields_set
        if self.solver in FIXED and fields & {"rtol", "atol"}:
            raise ValueError(f"rtol and atol apply to adaptive solvers (dopri5), not {self.solver}")
        if self.solver in ADAPTIVE and "steps" in fields:
            raise ValueError("steps applies to fixed-grid solvers (euler, midpoint, rk4)")
        return self

    @property
    def adaptive(self) -> bool:
        return self.solver in ADAPTIVE

    def solver_settings(self) -> dict[str, Any]:
        """Every setting, by field name: what the graph's ``ode`` op records and the
        built stage (archspec.nn.ode.OdeStage) takes, from this one place."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def evaluations(self) -> int | None:
        """Branch evaluations per forward: known for fixed grids, None for adaptive."""
        if self.adaptive:
            return None
        return EVALS_PER_STEP[self.solver] * self.steps
