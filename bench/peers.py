"""Seconds per epoch and test error of the PeMS LSTM in seqbench, Darts and neuralforecast.

Run by hand in its own environment: ``make bench-peers`` installs the ``peers`` extra into
``.venv-peers`` (Darts and neuralforecast pin an older pytorch-lightning than seqbench's
lock) and runs this script. Four contenders train the same model, hidden 32, 12 lags -> 1
step, on the same windows: seqbench's own training path (``resolve_run`` + ``fit``), a bare
PyTorch loop (the floor), Darts' ``BlockRNNModel`` and neuralforecast's ``LSTM``. Every one
gets the windows and min-max scaler of seqbench's prepare stage (windows never cross a gap),
L1 loss, batch 64, no dropout, fused AdamW at the tuned learning rate and weight decay
(``data/tuning/pems-lstm.json``; else params.yaml), a cosine schedule stepped per epoch,
gradient clipping at params' ``clip_norm``, deterministic algorithms and ``--threads`` torch
threads. Each run is a fresh process (seed = round), and the order of the contenders rotates
from round to round. Aligning the peers' protocols:

* an epoch is one pass over the training windows. Darts draws, per epoch, as many samples from
  every series as the longest one has, so shorter series are oversampled: the gap-free
  segments are cut into chunks that all hold the same number of windows (their gcd).
  neuralforecast samples ``windows_batch_size`` windows per step from all series: its epoch is
  ``ceil(windows / 64)`` steps, each a fresh draw without replacement (not a permutation).
* neuralforecast keeps windows that reach into the zero padding of shorter series unless
  ``training_data_availability_threshold`` is 1.0, scales each window robustly unless
  ``scaler_type`` is ``identity``, and decodes with an MLP unless ``decoder_layers`` is 1 (one
  linear layer, like the others' heads).
* s/epoch is the wall time of an epoch's training steps (data loading, optimizer and
  scheduler included), validation excluded: seqbench validates every epoch to keep its
  best-validation weights (its own ``seconds_per_epoch``, validation included, is printed
  below the table); the others do not validate.

Not aligned: seqbench's network projects the input to 32 features before its LSTM (the
others feed the one feature to it: see the params column), seqbench tests its best-validation
epoch while the others test their last, and each library initializes weights its own way.
Test MAE/RMSE are in vehicles per 5 minutes over all test windows.

    make bench-peers PEERS_ARGS="--rounds 1 --epochs 2"
    .venv-peers/bin/python bench/peers.py --rounds 5 --epochs 40 --only seqbench darts
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from seqbench import runtime
from seqbench.data.timeseries import Scaler, WindowDataset, frequency, make_windows
from seqbench.io import load_splits
from seqbench.training.run import RunConfig, load_best_params, resolve_run
from seqbench.typed import load_params

TASK, ARCH = "pems", "lstm"
CONTENDERS = ("seqbench", "bare", "darts", "neuralforecast")
NEEDS = {"darts": "darts", "neuralforecast": "neuralforecast"}  # contender -> module
TUNED = Path("data/tuning/pems-lstm.json")
HIDDEN = 32
PACKAGES = ("torch", "lightning", "pytorch-lightning", "darts", "neuralforecast")


# ---------------------------------------------------------------------------------------------
# The shared setup: one resolved run, its windows and scaler
# ---------------------------------------------------------------------------------------------


def run_spec(params_path: str, epochs: int, threads: int) -> RunConfig:
    """seqbench's run of the PeMS LSTM at hidden 32, the tuned optimizer, no early stopping."""
    params = load_params(params_path)
    tuned = load_best_params(TUNED) if TUNED.is_file() else {}
    overrides = {
        "model.hidden_size": HIDDEN,
        "model.num_layers": 1,
        "model.dropout": 0.0,  # the peers have none at one layer
        "optim.name": "adamw",
        "optim.scheduler": "cosine",
        "train.max_epochs": epochs,
        "train.patience": 0,
        "train.batch_size": 64,
        "train.fraction": 1.0,
        "train.threads": threads,
        "task.loss": "mae",
    }
    overrides.update({k: tuned[k] for k in ("optim.lr", "optim.weight_decay") if k in tuned})
    return resolve_run(params, TASK, ARCH, overrides=overrides)


@dataclass(frozen=True)
class Split:
    """One split's scaled target values and the first input row of each of its windows."""

    values: np.ndarray  # (N,) scaled flow, float32
    starts: np.ndarray  # (W,)

    def runs(self, span: int) -> list[tuple[int, int]]:
        """Row ranges [a, b) of the gap-free stretches that hold the windows (stride 1)."""
        breaks = np.flatnonzero(np.diff(self.starts) != 1) + 1
        return [(int(r[0]), int(r[-1]) + span) for r in np.split(self.starts, breaks)]


@dataclass(frozen=True)
class Data:
    splits: dict[str, Split]
    scaler: Scaler
    target: str
    input_length: int
    horizon: int

    @property
    def span(self) -> int:
        return self.input_length + self.horizon

    def windows(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """All windows of ``split``, built by seqbench's WindowDataset: x (W, L, 1), y (W, 1)."""
        s = self.splits[split]
        values = torch.as_tensor(s.values)[:, None]  # (N, 1)
        ds = WindowDataset(values, torch.as_tensor(s.starts), self.input_length, 1, [0], [0])
        x, y = ds.__getitems__(list(range(len(ds))))  # (W, L, 1), (W, 1, 1)
        return x, y[:, :, 0]

    def targets(self, split: str) -> np.ndarray:
        """Original-unit targets of ``split``'s windows, in window order: (W,)."""
        s = self.splits[split]
        return self.original(s.values[s.starts + self.input_length])

    def original(self, scaled: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.asarray(scaled, dtype=np.float64))[:, None]  # (W, 1)
        return self.scaler.inverse(t, [self.target])[:, 0].numpy()  # (W,)


def load_data(spec: RunConfig) -> Data:
    """The processed splits windowed and scaled exactly as seqbench's ForecastDataModule does."""
    cfg = spec.dataset
    if list(cfg.features) != list(cfg.targets) or len(cfg.targets) != 1:
        raise SystemExit(f"{TASK}: expected one feature that is the target; got {cfg.features}")
    if cfg.window.horizon != 1 or cfg.window.stride != 1:
        raise SystemExit(f"{TASK}: expected horizon 1 and stride 1; got {cfg.window}")
    frames = load_splits(spec.processed_dir)
    step = frequency(cfg, frames["train"])
    windows = make_windows(frames, cfg.window, step, cfg.borrow_context)
    scaler = Scaler.load(spec.processed_dir / "scaler.json")
    target = cfg.targets[0]
    splits = {}
    for name, w in windows.items():
        raw = w.rows[[target]].to_numpy(dtype=np.float64)  # (N, 1)
        scaled = scaler.transform(raw, [target])[:, 0].astype(np.float32)  # (N,)
        splits[name] = Split(scaled, np.asarray(w.starts, dtype=np.int64))
    return Data(splits, scaler, target, cfg.window.input_length, cfg.window.horizon)


def cosine_factor(step: int, steps_per_epoch: int, epochs: int, min_ratio: float) -> float:
    """The lr factor of CosineAnnealingLR(T_max=epochs) stepped once per epoch, at a step."""
    epoch = step // steps_per_epoch
    return min_ratio + (1 - min_ratio) * (1 + math.cos(math.pi * epoch / epochs)) / 2


def errors(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """MAE and RMSE of original-unit predictions (W,) against targets (W,)."""
    diff = np.asarray(pred, dtype=np.float64) - true
    return float(np.abs(diff).mean()), float(np.sqrt((diff**2).mean()))


# ---------------------------------------------------------------------------------------------
# Timing inside Lightning (seqbench's lightning, the peers' pytorch_lightning)
# ---------------------------------------------------------------------------------------------


class _StepTimer:
    """Wall time of every ``steps`` training steps, the time spent validating taken out.

    A mark at the start of each epoch's first step and one when training ends, so an epoch's
    time runs from its first step to the next epoch's first step (loader, optimizer, scheduler
    and epoch-end hooks included). Mixed into the Callback class of each Lightning package.
    """

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step = 0
        self.validating = 0.0
        self.marks: list[tuple[float, float]] = []  # (clock, validation seconds so far)
        self._val_start = 0.0

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if self.step % self.steps == 0:
            self.marks.append((time.perf_counter(), self.validating))
        self.step += 1

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.validating += time.perf_counter() - self._val_start

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.marks.append((time.perf_counter(), self.validating))

    def seconds(self) -> list[float]:
        return [(t1 - t0) - (v1 - v0) for (t0, v0), (t1, v1) in itertools.pairwise(self.marks)]


def outcome(
    data: Data, pred: np.ndarray, net: nn.Module, epoch_seconds: list[float], steps: int
) -> dict[str, Any]:
    """A contender's result: test MAE/RMSE of its scaled predictions ``pred`` (Wt,) in original
    units, its parameter count, epoch times and optimizer steps."""
    mae, rmse = errors(data.original(pred), data.targets("test"))
    return {
        "epoch_seconds": epoch_seconds,
        "mae": mae,
        "rmse": rmse,
        "parameters": sum(p.numel() for p in net.parameters()),
        "steps": steps,
    }


def step_timer(callback_base: type, steps: int) -> _StepTimer:
    return type("StepTimer", (_StepTimer, callback_base), {})(steps)


# ---------------------------------------------------------------------------------------------
# Contenders: each returns epoch seconds, test MAE/RMSE in original units, parameter count
# ---------------------------------------------------------------------------------------------


def run_seqbench(spec: RunConfig, data: Data, seed: int) -> dict[str, Any]:
    from lightning.pytorch import Callback

    from seqbench.training.fit import fit

    steps = math.ceil(len(data.splits["train"].starts) / spec.train.batch_size)
    timer = step_timer(Callback, steps)
    result = fit(spec, seed, callbacks=[timer], evaluate_test=True)
    assert result.test is not None
    return {
        "epoch_seconds": timer.seconds(),
        "mae": result.test["test/mae"],
        "rmse": result.test["test/rmse"],
        "parameters": result.parameters,
        "own_seconds_per_epoch": result.seconds_per_epoch,
        "steps": timer.step,
    }


class BareLSTM(nn.Module):
    """nn.LSTM over the lags, a linear head on the last state (the peers' network)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(x)  # (B, L, H)
        return self.head(states[:, -1])  # (B, 1)


def run_bare(spec: RunConfig, data: Data, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    opt_cfg, batch, epochs = spec.optim, spec.train.batch_size, spec.train.max_epochs
    x, y = data.windows("train")  # (W, L, 1), (W, 1)
    net = BareLSTM(HIDDEN)
    opt = torch.optim.AdamW(
        net.parameters(), lr=opt_cfg.lr, weight_decay=opt_cfg.weight_decay, fused=True
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=epochs, eta_min=opt_cfg.lr * opt_cfg.min_lr_ratio
    )
    gen = torch.Generator().manual_seed(seed)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(x), generator=gen)  # (W,)
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]  # (B,)
            loss = nn.functional.l1_loss(net(x[idx]), y[idx])  # (B, 1) against (B, 1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if opt_cfg.clip_norm:
                nn.utils.clip_grad_norm_(net.parameters(), opt_cfg.clip_norm)
            opt.step()
        sched.step()
        seconds.append(time.perf_counter() - start)
    net.eval()
    xt, _ = data.windows("test")  # (Wt, L, 1)
    with torch.inference_mode():
        pred = net(xt)[:, 0].numpy()  # (Wt,)
    return outcome(data, pred, net, seconds, epochs * math.ceil(len(x) / batch))


def run_darts(spec: RunConfig, data: Data, seed: int, workdir: Path) -> dict[str, Any]:
    import pytorch_lightning as pl
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    opt_cfg, batch, epochs = spec.optim, spec.train.batch_size, spec.train.max_epochs
    train = data.splits["train"]
    # Equal-sized chunks (k windows each, k the gcd of the stretches' window counts), so that
    # Darts' epoch (series × the largest per-series sample count) is one pass over the windows.
    runs = train.runs(data.span)
    k = math.gcd(*(b - a - data.span + 1 for a, b in runs))
    chunks = [
        TimeSeries.from_values(train.values[c : c + k - 1 + data.span])  # (k + L, 1) rows
        for a, b in runs
        for c in range(a, b - data.span + 1, k)
    ]
    assert len(chunks) * k == len(train.starts)
    timer = step_timer(pl.Callback, math.ceil(len(train.starts) / batch))
    model = BlockRNNModel(
        model="LSTM",
        input_chunk_length=data.input_length,
        output_chunk_length=1,
        hidden_dim=HIDDEN,
        n_rnn_layers=1,
        hidden_fc_sizes=None,
        dropout=0.0,
        loss_fn=nn.L1Loss(),
        optimizer_cls=torch.optim.AdamW,
        optimizer_kwargs={"lr": opt_cfg.lr, "weight_decay": opt_cfg.weight_decay, "fused": True},
        lr_scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR,
        lr_scheduler_kwargs={"T_max": epochs, "eta_min": opt_cfg.lr * opt_cfg.min_lr_ratio},
        batch_size=batch,
        n_epochs=epochs,
        random_state=seed,
        work_dir=str(workdir),
        save_checkpoints=False,
        force_reset=True,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "devices": 1,
            "callbacks": [timer],
            "gradient_clip_val": opt_cfg.clip_norm or None,
            "deterministic": True,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(workdir),
        },
    )
    model.fit(chunks, verbose=False)
    test = data.splits["test"]
    series = [TimeSeries.from_values(test.values[a:b]) for a, b in test.runs(data.span)]
    forecasts = model.historical_forecasts(
        series,
        forecast_horizon=1,
        stride=1,
        retrain=False,
        last_points_only=True,
        verbose=False,
        show_warnings=False,
    )
    pred = np.concatenate([f.values()[:, 0] for f in forecasts])  # (Wt,) scaled
    return outcome(data, pred, model.model, timer.seconds(), timer.step)


def run_neuralforecast(spec: RunConfig, data: Data, seed: int, workdir: Path) -> dict[str, Any]:
    import pandas as pd
    import pytorch_lightning as pl
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MAE
    from neuralforecast.models import LSTM
    from neuralforecast.tsdataset import TimeSeriesDataset

    opt_cfg, batch, epochs = spec.optim, spec.train.batch_size, spec.train.max_epochs
    train = data.splits["train"]
    runs = train.runs(data.span)
    steps = math.ceil(len(train.starts) / batch)  # one epoch: as many windows as one pass
    timer = step_timer(pl.Callback, steps)
    model = LSTM(
        h=1,
        input_size=data.input_length,
        encoder_n_layers=1,
        encoder_hidden_size=HIDDEN,
        encoder_dropout=0.0,
        decoder_layers=1,  # one linear layer: decoder_hidden_size unused
        recurrent=False,
        loss=MAE(),
        max_steps=epochs * steps,
        learning_rate=opt_cfg.lr,
        val_check_steps=epochs * steps,
        batch_size=len(runs),  # every series in each step's draw: uniform over all windows
        windows_batch_size=batch,
        start_padding_enabled=False,
        training_data_availability_threshold=1.0,  # no window into the zero padding
        step_size=1,
        scaler_type="identity",
        random_seed=seed,
        optimizer=torch.optim.AdamW,
        optimizer_kwargs={"weight_decay": opt_cfg.weight_decay, "fused": True},
        lr_scheduler=torch.optim.lr_scheduler.LambdaLR,
        lr_scheduler_kwargs={
            "lr_lambda": functools.partial(
                cosine_factor, steps_per_epoch=steps, epochs=epochs, min_ratio=opt_cfg.min_lr_ratio
            )
        },
        accelerator="cpu",
        devices=1,
        callbacks=[timer],
        gradient_clip_val=opt_cfg.clip_norm or None,
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(workdir),
    )

    def frame(split: Split, ranges: list[tuple[int, int]]) -> pd.DataFrame:
        return pd.concat(
            pd.DataFrame({"unique_id": i, "ds": np.arange(b - a), "y": split.values[a:b]})
            for i, (a, b) in enumerate(ranges)
        )

    nf = NeuralForecast(models=[model], freq=1)
    nf.fit(df=frame(train, runs))
    fitted = nf.models[0]
    timer = next(c for c in fitted.trainer_kwargs["callbacks"] if isinstance(c, _StepTimer))
    test = data.splits["test"]
    preds = []
    for a, b in test.runs(data.span):
        dataset, *_ = TimeSeriesDataset.from_df(frame(test, [(a, b)]))
        fitted.set_test_size(b - a - data.input_length)  # a forecast for every window
        preds.append(fitted.predict(dataset=dataset, step_size=1)[:, 0])  # (b - a - L,)
    pred = np.concatenate(preds)  # (Wt,) scaled
    return outcome(data, pred, fitted, timer.seconds(), timer.step)


def worker(args: argparse.Namespace) -> None:
    """One contender, one seed, in this process; writes its result as JSON to ``args.out``.

    Every contender runs under seqbench's process settings (subnormals flushed to zero, see
    ``seqbench.runtime``), so the table compares the libraries' training paths, not FTZ."""
    runtime.configure()
    torch.set_num_threads(args.threads)
    spec = run_spec(args.params, args.epochs, args.threads)
    data = load_data(spec)
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        if args.worker == "seqbench":
            out = run_seqbench(spec, data, args.seed)
        elif args.worker == "bare":
            out = run_bare(spec, data, args.seed)
        elif args.worker == "darts":
            out = run_darts(spec, data, args.seed, Path(tmp))
        else:
            out = run_neuralforecast(spec, data, args.seed, Path(tmp))
    per_epoch = math.ceil(len(data.splits["train"].starts) / spec.train.batch_size)
    if out["steps"] != args.epochs * per_epoch:  # each epoch one pass over the windows
        raise SystemExit(f"{args.worker}: {out['steps']} steps, not {args.epochs} x {per_epoch}")
    if len(out["epoch_seconds"]) != args.epochs:
        raise SystemExit(
            f"{args.worker}: timed {len(out['epoch_seconds'])} epochs, not {args.epochs}"
        )
    out["threads"] = torch.get_num_threads()
    Path(args.out).write_text(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# The driver: alternating runs, one process each, and the table
# ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_one(args: argparse.Namespace, name: str, seed: int, logs: Path) -> dict[str, Any]:
    """Run ``name`` with ``seed`` in a fresh interpreter; its output goes to a log file."""
    out, log = logs / f"{name}-{seed}.json", logs / f"{name}-{seed}.log"
    cmd = [
        sys.executable,
        __file__,
        *("--worker", name, "--seed", str(seed), "--out", str(out)),
        *("--epochs", str(args.epochs), "--threads", str(args.threads), "--params", args.params),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    with log.open("w") as fh:
        code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if code != 0 or not out.is_file():
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        return {"error": lines[-1] if lines else f"exit status {code}", "log": str(log)}
    return json.loads(out.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="runs per contender, alternating")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--logs", default=None, help="keep each run's output here (default: temp)")
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    console = Console(width=140)
    spec = run_spec(args.params, args.epochs, args.threads)
    data = load_data(spec)
    tuned = "tuned" if TUNED.is_file() else "params.yaml"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"{datetime.datetime.now().isoformat(timespec='seconds')}  {cpu_model()}, "
        f"{os.cpu_count()} CPUs, load average {load}, {args.threads} torch threads\n"
        + "  ".join(f"{d} {version(d)}" for d in PACKAGES)
        + f"\nPeMS LSTM hidden {HIDDEN}, {data.input_length} lags -> 1, L1 loss, batch "
        f"{spec.train.batch_size}, AdamW lr {spec.optim.lr:.4g} weight decay "
        f"{spec.optim.weight_decay:.4g} ({tuned}), cosine, clip {spec.optim.clip_norm}\n"
        f"{len(data.splits['train'].starts)} train / {len(data.splits['test'].starts)} test "
        f"windows; epochs {args.epochs}, rounds {args.rounds}, the order rotating per round",
        highlight=False,
    )
    missing = {
        n: NEEDS[n] for n in args.only if n in NEEDS and not importlib.util.find_spec(NEEDS[n])
    }
    names = [n for n in args.only if n not in missing]
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in args.only}
    for name, module in missing.items():
        results[name].append({"error": f"module {module!r} not importable (make bench-peers)"})
    with tempfile.TemporaryDirectory(prefix="peers-logs-") as tmp:
        logs = Path(args.logs or tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)] if names else []
            for name in order:
                start = time.perf_counter()
                res = run_one(args, name, r, logs)
                results[name].append(res)
                took = time.perf_counter() - start
                if "error" in res:
                    console.print(f"round {r + 1} {name}: error: {res['error']}", highlight=False)
                    if args.logs is None:
                        console.print(Path(res["log"]).read_text(errors="replace")[-3000:])
                    continue
                console.print(
                    f"round {r + 1} {name}: {statistics.median(res['epoch_seconds']):.2f} s/epoch "
                    f"(median), test MAE {res['mae']:.3f}, {took:.0f} s with start-up",
                    highlight=False,
                )
    console.print(table(results, args))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(f"load average at the end {load}", highlight=False)
    for name, rs in results.items():
        for res in (r for r in rs if "error" in r):
            console.print(f"[red]{name}: error: {res['error']}[/red]", highlight=False)


def table(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> Table:
    def spread(xs: list[float]) -> str:
        sd = f" ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else ""
        return f"{statistics.fmean(xs):.3f}{sd}"

    ok = {n: [r for r in rs if "error" not in r] for n, rs in results.items()}
    seconds = {n: [s for r in rs for s in r["epoch_seconds"]] for n, rs in ok.items() if rs}
    median = {n: statistics.median(xs) for n, xs in seconds.items()}
    own = ", ".join(f"{r['own_seconds_per_epoch']:.3f}" for r in ok.get("seqbench", []))
    out = Table(
        title=f"PeMS LSTM, epochs {args.epochs}, threads {args.threads} (s/epoch: every epoch of "
        "every round; test error: mean ± sd over rounds)",
        caption=f"seqbench's own seconds_per_epoch, validation included: {own or '—'}",
    )
    columns = ("contender", "params", "runs", "s/epoch min", "s/epoch median")
    for col in (*columns, "test MAE", "test RMSE", "× seqbench"):
        out.add_column(col, justify="left" if col == "contender" else "right")
    for name, rs in results.items():
        good = ok[name]
        failed = f" ({len(rs) - len(good)} failed)" if len(rs) > len(good) else ""
        if not good:
            out.add_row(name, "—", f"0{failed}", "—", "—", "—", "—", "—")
            continue
        ratio = f"{median[name] / median['seqbench']:.2f}" if "seqbench" in median else "—"
        out.add_row(
            name,
            f"{good[0]['parameters']:,}",
            f"{len(good)}{failed}",
            f"{min(seconds[name]):.3f}",
            f"{median[name]:.3f}",
            spread([r["mae"] for r in good]),
            spread([r["rmse"] for r in good]),
            ratio,
        )
    return out


if __name__ == "__main__":
    main()
