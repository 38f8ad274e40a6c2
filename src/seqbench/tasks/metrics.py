"""Forecast error metrics per horizon step and averaged: MAE, MSE, RMSE, MAPE (non-zero targets)."""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection


class WeightedMean(Metric):
    """The mean of per-batch values weighted by their batch sizes (a NaN value stays NaN).

    States update out of place, so states reset under inference mode (a ``validate`` before
    ``fit``) still accept the training loop's updates.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: float) -> None:
        self.total = self.total + value.detach().float() * weight
        self.weight = self.weight + weight

    def compute(self) -> torch.Tensor:
        return self.total / self.weight


class ForecastErrors(Metric):
    """Accumulates errors of ``(B, H, T)`` forecasts per horizon step.

    ``compute()`` returns ``{name: (H+1,)}`` for ``mae, mse, rmse, mape``: entry ``h`` is step
    ``h + 1`` and the last entry pools every step and target. MAPE (in percent) ignores targets
    equal to zero; it is NaN when every target is zero. With ``pooled`` set to one of those
    names, ``compute()`` returns just that pooled scalar (so Lightning can log the metric object).
    """

    full_state_update = False

    def __init__(self, horizon: int, pooled: str | None = None) -> None:
        super().__init__()
        self.horizon = horizon
        self.pooled = pooled
        for name in ("abs_sum", "sq_sum", "count", "ape_sum", "ape_count"):
            self.add_state(name, torch.zeros(horizon, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        err = pred.double() - target.double()  # (B, H, T)
        nonzero = target != 0  # (B, H, T)
        ape = torch.where(nonzero, err.abs() / target.double().abs().clamp_min(1e-300), 0.0)
        self.abs_sum += err.abs().sum(dim=(0, 2))  # (H,)
        self.sq_sum += err.square().sum(dim=(0, 2))
        self.count += torch.full_like(self.count, err.shape[0] * err.shape[2])
        self.ape_sum += ape.sum(dim=(0, 2))
        self.ape_count += nonzero.sum(dim=(0, 2)).double()

    def compute(self) -> dict[str, torch.Tensor] | torch.Tensor:
        def with_total(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
            return torch.cat([num / den, (num.sum() / den.sum()).reshape(1)])  # (H+1,)

        mse = with_total(self.sq_sum, self.count)
        out = {
            "mae": with_total(self.abs_sum, self.count),
            "mse": mse,
            "rmse": mse.sqrt(),
            "mape": 100.0 * with_total(self.ape_sum, self.ape_count),
        }
        return out if self.pooled is None else out[self.pooled][-1]


def pooled_errors(horizon: int, names: tuple[str, ...], suffix: str = "") -> MetricCollection:
    """Scalar metrics ``<name><suffix>`` sharing one accumulation (a torchmetrics compute group)."""
    return MetricCollection({f"{n}{suffix}": ForecastErrors(horizon, n) for n in names})
