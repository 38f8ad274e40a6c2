"""Forecasting baselines that need no encoder: naive last value, NLinear and DLinear.

Zeng et al. 2023 ("Are Transformers Effective for Time Series Forecasting?", AAAI) show such
linear maps over the input window beating Transformers on ETTh1. Each maps the window's target
channels ``x[..., target_indices]`` (B, L, T) to the forecast (B, H, T) in the scaled space;
other input features are not used (the paper's univariate setting). They take the same
``(x, lengths)`` as every seqbench model; forecasting windows are never padded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from seqbench.models.config import ForecastSpec, ModelConfig


def target_indices(spec: ForecastSpec) -> Tensor:
    """Each target's column among the input features (the first ones when unspecified)."""
    return torch.tensor(spec.target_indices or tuple(range(spec.targets)))


class WindowForecaster(nn.Module):
    """The shared plumbing: pick the target channels of a full window of ``spec.input_length``."""

    def __init__(self, cfg: ModelConfig, spec: ForecastSpec) -> None:
        super().__init__()
        self.register_buffer("target_indices", target_indices(spec), persistent=False)
        self.horizon = spec.horizon
        self.input_length = spec.input_length

    def targets(self, x: Tensor) -> Tensor:
        return x[..., self.target_indices]  # (B, L, T)

    @staticmethod
    def flops(cfg: ModelConfig, spec: ForecastSpec, seq_len: int) -> int:
        """Forward FLOPs on one window (a multiply-add counts as 2)."""
        raise NotImplementedError


class Naive(WindowForecaster):
    """Every future step equals the last observed value (no parameters: evaluated, not fit)."""

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        last = self.targets(x)[:, -1:]  # (B, 1, T)
        return last.expand(-1, self.horizon, -1)  # (B, H, T)

    @staticmethod
    def flops(cfg: ModelConfig, spec: ForecastSpec, seq_len: int) -> int:
        return 0


class NLinear(WindowForecaster):
    """Subtract the last value, one linear map over time (shared by channels), add it back."""

    def __init__(self, cfg: ModelConfig, spec: ForecastSpec) -> None:
        super().__init__(cfg, spec)
        self.linear = nn.Linear(spec.input_length, spec.horizon)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        y = self.targets(x)  # (B, L, T)
        last = y[:, -1:]  # (B, 1, T)
        out = self.linear((y - last).transpose(1, 2))  # (B, T, H)
        return out.transpose(1, 2) + last  # (B, H, T)

    @staticmethod
    def flops(cfg: ModelConfig, spec: ForecastSpec, seq_len: int) -> int:
        return 2 * seq_len * spec.horizon * spec.targets


class DLinear(WindowForecaster):
    """A moving average splits the window into trend and remainder; one linear map each."""

    def __init__(self, cfg: ModelConfig, spec: ForecastSpec) -> None:
        super().__init__(cfg, spec)
        self.kernel = cfg.moving_average
        self.trend = nn.Linear(spec.input_length, spec.horizon)
        self.seasonal = nn.Linear(spec.input_length, spec.horizon)

    def moving_average(self, y: Tensor) -> Tensor:
        """Centred mean over ``kernel`` steps, the ends repeated (as the paper's code)."""
        front = y[:, :1].expand(-1, (self.kernel - 1) // 2, -1)  # (B, ⌊(k-1)/2⌋, T)
        back = y[:, -1:].expand(-1, self.kernel // 2, -1)  # (B, ⌊k/2⌋, T)
        padded = torch.cat([front, y, back], dim=1).transpose(1, 2)  # (B, T, L+k-1)
        return F.avg_pool1d(padded, self.kernel, stride=1).transpose(1, 2)  # (B, L, T)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        y = self.targets(x)  # (B, L, T)
        trend = self.moving_average(y)  # (B, L, T)
        out = self.trend(trend.transpose(1, 2)) + self.seasonal((y - trend).transpose(1, 2))
        return out.transpose(1, 2)  # (B, H, T)

    @staticmethod
    def flops(cfg: ModelConfig, spec: ForecastSpec, seq_len: int) -> int:
        return 2 * 2 * seq_len * spec.horizon * spec.targets


class RevIN(nn.Module):
    """Reversible instance normalization (Kim et al., ICLR 2022) around any forecaster.

    Each window is normalized by its own mean and standard deviation per feature, with a learned
    affine map; the forecast of the target features is mapped back with the same statistics, so
    a level shift between training and test windows does not reach the network.
    """

    def __init__(self, model: nn.Module, spec: ForecastSpec, eps: float = 1e-5) -> None:
        super().__init__()
        self.model = model
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(spec.input_features))
        self.bias = nn.Parameter(torch.zeros(spec.input_features))
        self.register_buffer("target_indices", target_indices(spec), persistent=False)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        mean = x.mean(dim=1, keepdim=True)  # (B, 1, F)
        std = (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt()  # (B, 1, F)
        y = self.model((x - mean) / std * self.weight + self.bias, lengths)  # (B, H, T)
        t = self.target_indices
        y = (y - self.bias[t]) / (self.weight[t] + self.eps**2)
        return y * std[..., t] + mean[..., t]  # (B, H, T)
