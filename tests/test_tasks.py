"""Lightning tasks: losses fall on tiny data; metrics equal hand computations; NaN loss stops."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seqbench.tasks import NonFiniteLossError, OptimConfig, TaskConfig
from seqbench.tasks.metrics import ForecastErrors
from seqbench.tasks.modules import ClassificationModule as ClassificationTask
from seqbench.tasks.modules import ForecastingModule as ForecastingTask

CLS = TaskConfig(kind="classification", monitor="val/acc", mode="max")
FC = TaskConfig(kind="forecasting", loss="mse", report_scaled=True)


class BagOfWords(nn.Module):
    """Stand-in text model with the registry's signature: (ids (B, T), lengths (B,)) -> (B, C)."""

    def __init__(self, vocab: int = 20, classes: int = 2) -> None:
        super().__init__()
        self.emb = nn.EmbeddingBag(vocab, 8, mode="mean", padding_idx=0)
        self.out = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.emb(x))  # (B, C)


class LinearForecaster(nn.Module):
    """Stand-in numeric model: (B, L, F) -> (B, H, T)."""

    def __init__(self, length: int, features: int, horizon: int, targets: int) -> None:
        super().__init__()
        self.shape = (horizon, targets)
        self.lin = nn.Linear(length * features, horizon * targets)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.lin(x.flatten(1)).view(len(x), *self.shape)  # (B, H, T)


class Fixed(nn.Module):
    """Returns a fixed output per batch position (for metric checks)."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.out[: len(x)] + 0 * self.dummy


def trainer(epochs: int = 1, **kw) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        deterministic=True,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kw,
    )


def text_data(n: int = 256, seed: int = 0) -> TensorDataset:
    """Label 1 when token 3 outnumbers token 4."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 5, (n, 12), generator=gen)
    labels = ((ids == 3).sum(1) > (ids == 4).sum(1)).long()
    return TensorDataset(ids, torch.full((n,), 12), labels)


def series_data(n: int = 256, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 2, generator=gen)
    y = (x[:, -2:, :1] * 0.5 + 0.1).contiguous()  # (n, 2, 1)
    return TensorDataset(x, y)


def test_classification_loss_goes_down() -> None:
    L.seed_everything(0)
    task = ClassificationTask(BagOfWords(), CLS, OptimConfig(lr=0.05))
    data = DataLoader(text_data(), batch_size=32)
    first = trainer(1)
    first.validate(task, data, verbose=False)
    before = first.callback_metrics["val/loss"].item()
    t = trainer(8)
    t.fit(task, data, data)
    assert t.callback_metrics["val/loss"].item() < 0.7 * before
    assert t.callback_metrics["val/acc"].item() > 0.8
    assert {"train/loss", "train/acc", "train/f1", "train/auroc"} <= set(t.callback_metrics)


def test_classification_metrics_match_hand_computation() -> None:
    logits = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 0.5], [3.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([1, 1, 0, 0, 1])
    data = DataLoader(
        TensorDataset(torch.ones(5, 3).long(), torch.full((5,), 3), labels), batch_size=5
    )
    t = trainer()
    t.test(ClassificationTask(Fixed(logits), CLS, OptimConfig()), data, verbose=False)
    m = {k: v.item() for k, v in t.callback_metrics.items()}
    # predictions 1,0,1,0,1 -> tp=2 fp=1 fn=1 tn=1
    assert m["test/acc"] == pytest.approx(3 / 5)
    assert m["test/f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    p = logits.softmax(-1)[:, 1]
    pos, neg = p[labels == 1], p[labels == 0]
    auc = ((pos[:, None] > neg[None]).float() + 0.5 * (pos[:, None] == neg[None]).float()).mean()
    assert m["test/auroc"] == pytest.approx(auc.item())
    ce = nn.functional.cross_entropy(logits, labels).item()
    assert m["test/loss"] == pytest.approx(ce, rel=1e-6)


def test_forecast_errors_by_hand_ignore_zero_targets_in_mape() -> None:
    metric = ForecastErrors(horizon=2)
    target = torch.tensor([[[2.0], [0.0]], [[4.0], [5.0]]])  # (B=2, H=2, T=1)
    pred = torch.tensor([[[3.0], [1.0]], [[2.0], [5.0]]])
    metric.update(pred, target)
    out = {k: v.tolist() for k, v in metric.compute().items()}
    # step 1 errors: 1, -2; step 2 errors: 1, 0
    assert out["mae"] == pytest.approx([1.5, 0.5, 1.0])
    assert out["rmse"] == pytest.approx([math.sqrt(2.5), math.sqrt(0.5), math.sqrt(1.5)])
    # step 1: |1|/2, |2|/4 -> 50%; step 2: only target 5 counts -> 0%; all: (0.5+0.5+0)/3
    assert out["mape"] == pytest.approx([50.0, 0.0, 100 * 1.0 / 3])


def test_forecasting_metrics_apply_inverse_scaling() -> None:
    y = torch.tensor([[[1.0], [0.0]], [[-1.0], [2.0]]])  # scaled (B, H, T)
    pred = torch.tensor([[[1.5], [0.0]], [[-1.0], [1.0]]])
    inverse = lambda t: t * 10.0 + 20.0  # noqa: E731 - original = 10 * scaled + 20
    task = ForecastingTask(Fixed(pred), FC, OptimConfig(), horizon=2, inverse=inverse)
    t = trainer()
    t.test(task, DataLoader(TensorDataset(torch.zeros(2, 3, 1), y), batch_size=2), verbose=False)
    m = {k: v.item() for k, v in t.callback_metrics.items()}
    err = torch.tensor([5.0, 0.0, 0.0, -10.0])  # original units
    assert m["test/mae"] == pytest.approx(err.abs().mean().item())
    assert m["test/rmse"] == pytest.approx(err.square().mean().sqrt().item())
    truth = torch.tensor([30.0, 20.0, 10.0, 40.0])
    assert m["test/mape"] == pytest.approx(100 * (err.abs() / truth).mean().item())
    assert m["test/mse_scaled"] == pytest.approx((0.25 + 1.0) / 4)
    assert m["test/mae_scaled"] == pytest.approx(1.5 / 4)
    assert task.per_step["test"]["mae"] == pytest.approx([2.5, 5.0])


def test_forecasting_loss_goes_down_with_every_scheduler() -> None:
    for scheduler in ("none", "cosine", "plateau", "onecycle"):
        L.seed_everything(0)
        task = ForecastingTask(
            LinearForecaster(6, 2, 2, 1), FC, OptimConfig(lr=0.05, scheduler=scheduler), horizon=2
        )
        data = DataLoader(series_data(), batch_size=32)
        t = trainer(6, gradient_clip_val=1.0)
        t.fit(task, data, data)
        assert t.callback_metrics["val/loss"].item() < 0.05, scheduler
        assert {"train/mae", "train/rmse", "train/mape", "train/mse_scaled"} <= set(
            t.callback_metrics
        )


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_other_optimizers_train(optimizer: str) -> None:
    L.seed_everything(0)
    task = ForecastingTask(
        LinearForecaster(6, 2, 2, 1), FC, OptimConfig(name=optimizer, lr=0.05), horizon=2
    )
    data = DataLoader(series_data(), batch_size=32)
    t = trainer(6)
    t.fit(task, data, data)
    assert t.callback_metrics["val/loss"].item() < 0.05


def test_non_finite_loss_raises() -> None:
    pred = torch.full((4, 2, 1), float("nan"))
    task = ForecastingTask(Fixed(pred), FC, OptimConfig(), horizon=2)
    data = DataLoader(TensorDataset(torch.zeros(4, 3, 1), torch.zeros(4, 2, 1)), batch_size=4)
    with pytest.raises(NonFiniteLossError, match="train/loss"):
        trainer().fit(task, data, data)


def test_task_config_rejects_mismatched_loss() -> None:
    from seqbench.typed import ConfigError

    with pytest.raises(ConfigError, match="loss"):
        TaskConfig(kind="forecasting", loss="cross_entropy")
    with pytest.raises(ConfigError, match="monitor"):
        TaskConfig(kind="classification", monitor="test/acc")


class Lookup(nn.Module):
    """Logits ``table[ids[:, 0]]``: each example's own fixed output, in any batch."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.table[ids[:, 0]] + 0 * self.dummy  # (B, C)


def test_the_epoch_loss_is_the_mean_over_examples_with_unequal_batches() -> None:
    table = torch.tensor([[0.0, 3.0], [2.0, 0.0], [0.0, 0.1], [1.0, 0.0], [0.0, -4.0]])
    labels = torch.tensor([1, 1, 0, 0, 1])
    ids = torch.arange(5).unsqueeze(1).repeat(1, 3)  # (5, 3): the example's index
    data = DataLoader(TensorDataset(ids, torch.full((5,), 3), labels), batch_size=2)  # 2, 2, 1
    t = trainer()
    t.test(ClassificationTask(Lookup(table), CLS, OptimConfig()), data, verbose=False)
    expected = torch.nn.functional.cross_entropy(table, labels).item()
    batch_means = [
        torch.nn.functional.cross_entropy(table[i : i + 2], labels[i : i + 2]).item()
        for i in (0, 2, 4)
    ]
    assert t.callback_metrics["test/loss"].item() == pytest.approx(expected, rel=1e-6)
    assert abs(sum(batch_means) / 3 - expected) > 0.1  # an unweighted mean would be wrong
    assert t.callback_metrics["test/acc"].item() == pytest.approx(2 / 5)


def test_weighted_mean_keeps_a_nan_visible() -> None:
    from seqbench.tasks.metrics import WeightedMean

    mean = WeightedMean()
    mean.update(torch.tensor(1.0), 3)
    mean.update(torch.tensor(3.0), 1)
    assert mean.compute().item() == pytest.approx(1.5)
    mean.update(torch.tensor(float("nan")), 2)
    assert math.isnan(mean.compute().item())


class EpochReader(L.Callback):
    """Reads the epoch's metrics where seqbench's MLflow callback does (before the module's own
    epoch-end hook) and where BestState does (a monitoring callback, after it)."""

    def __init__(self) -> None:
        self.early: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.early.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def test_training_metrics_count_every_training_batch_once_per_epoch() -> None:
    """Training batches are added to the metrics in one pass after the epoch's last batch; the
    epoch values must equal the whole training set's, where every callback reads them."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(70, 6, 2, generator=gen), torch.randn(70, 2, 1, generator=gen)
    model = Fixed(torch.zeros(0))  # replaced below: a frozen linear map plus 0 · a parameter
    linear = LinearForecaster(6, 2, 2, 1).requires_grad_(False)
    model.forward = lambda x, lengths=None: linear(x) + 0 * model.dummy  # type: ignore[method-assign]
    task = ForecastingTask(model, FC, OptimConfig(weight_decay=0.0), horizon=2)
    reader = EpochReader()
    t = trainer(2, callbacks=[reader])
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)  # 32 + 32 + 6
    t.fit(task, train, DataLoader(TensorDataset(x[:10], y[:10]), batch_size=4))
    with torch.no_grad():
        err = linear(x) - y  # the map never moves: (70, 2, 1)
    for epoch in reader.early:
        assert epoch["train/loss"] == pytest.approx(err.square().mean().item(), rel=1e-5)
        assert epoch["train/mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)
        assert epoch["train/mse_scaled"] == pytest.approx(err.square().mean().item(), rel=1e-5)
    assert len(reader.early) == 2 and not task.pending
