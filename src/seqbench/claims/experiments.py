"""The claims lab's experiments: the learning-rate study, the length grid, the gradient probe.

Each trains through the ordinary path (``fit`` and ``train_all_seeds``: the task kinds, seeds,
best-validation weights, one test evaluation, MLflow runs with provenance) and returns plain
dicts, which the stages write as JSON and the report reads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seqbench.claims.config import ClaimsConfig, SolvedRule, claims_run, lengths
from seqbench.claims.verdicts import Outcome
from seqbench.data.kinds import dataset_config


def trivial(params: dict[str, Any], task: str, length: int) -> float:
    """The loss of the best input-ignoring predictor on ``task`` at ``length``."""
    from seqbench.data.synthetic import trivial_loss

    return trivial_loss(dataset_config(params, task).problem, length)


def outcome(
    rule: SolvedRule, test: dict[str, float], trivial_loss: float, failed: float
) -> Outcome:
    """``solved`` by the task's rule; ``failed`` when the loss stayed at or above ``failed`` ×
    the trivial loss; else ``inconclusive`` (the run neither converged nor clearly failed)."""
    value = test.get(rule.metric, math.nan)
    if rule.below_trivial is not None:
        solved = value < rule.below_trivial * trivial_loss
    else:
        solved = value > (rule.above or 0.0)
    if solved:
        return "solved"
    loss = test.get(rule.loss, math.nan)
    if not math.isfinite(loss) or loss >= failed * trivial_loss:
        return "failed"
    return "inconclusive"


def lr_study(
    params: dict[str, Any], cfg: ClaimsConfig, task: str, family: str, data_dir: str | Path
) -> dict[str, Any]:
    """``cfg.lr.n_trials`` seeded TPE trials of the learning rate at ``cfg.lr.length`` (seed
    0, the full training budget, the validation metric): the same trials for every family."""
    import optuna

    from seqbench.training.fit import fit

    study_length = cfg.lr.length  # claims_config checked it is a length of every task
    probe = claims_run(
        params, cfg, task, family, study_length, cfg.lr.low, data_dir, stop_when_solved=False
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if probe.task.mode == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(
            seed=cfg.lr.seed, n_startup_trials=min(3, cfg.lr.n_trials)
        ),
    )

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", cfg.lr.low, cfg.lr.high, log=True)
        spec = claims_run(
            params, cfg, task, family, study_length, lr, data_dir, stop_when_solved=False
        )
        value = fit(spec, 0).best_val
        return (
            value if math.isfinite(value) else (math.inf if probe.task.mode == "min" else -math.inf)
        )

    study.optimize(objective, n_trials=cfg.lr.n_trials)
    return {
        "task": task,
        "family": family,
        "length": study_length,
        "monitor": probe.task.monitor,
        "best_lr": float(study.best_params["lr"]),
        "best_value": float(study.best_value),
        "trials": [{"lr": t.params["lr"], "value": t.value} for t in study.trials],
    }


def run_grid(
    params: dict[str, Any],
    cfg: ClaimsConfig,
    task: str,
    family: str,
    lr: float,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    track: bool = True,
    stage: str | None = None,
) -> dict[str, Any]:
    """Train ``family`` on ``task`` at every length, every seed; the outcome of each run.

    Writes ``out_dir/T<length>/`` (seed models, predictions, metrics, curves) and returns the
    summary: per length the parameter count, optimizer steps, each seed's test metrics and
    outcome, and the trivial loss.
    """
    from seqbench.training.seeds import train_all_seeds

    out_dir = Path(out_dir)
    rule = cfg.solved[task]
    summary: dict[str, Any] = {"task": task, "family": family, "lr": lr, "lengths": {}}
    for length in lengths(params, task):
        spec = claims_run(params, cfg, task, family, length, lr, data_dir)
        where = out_dir / f"T{length}"
        name = f"{task}-{family}-T{length}"
        written = train_all_seeds(
            spec,
            models_dir=where,
            metrics_path=where / "metrics.json",
            curves_path=where / "curves.csv",
            track=track,
            experiment=cfg.experiment,
            name=name,
            log_models=False,
            stage=stage,
        )
        base = trivial(params, task, length)
        seeds = {}
        for key, test in sorted(written["seeds"].items()):
            seeds[key] = {**test, "outcome": outcome(rule, test, base, cfg.failed_fraction)}
        batches = math.ceil(dataset_config(params, task).sizes["train"] / spec.train.batch_size)
        summary["lengths"][str(length)] = {
            "parameters": written.get("parameters"),
            "hidden_size": spec.model.hidden_size,
            "steps": batches * spec.train.max_epochs,
            "trivial": base,
            "seeds": seeds,
        }
    return summary


def gradient_probe(
    params: dict[str, Any],
    cfg: ClaimsConfig,
    family: str,
    data_dir: str | Path,
    grid_dir: str | Path,
) -> dict[str, Any]:
    """‖∂L/∂h_t‖ by distance on ``cfg.gradients.task`` at its largest length: for the network
    at initialization (seed 0) and for the trained best-validation seed of ``run_grid``
    (``grid_dir/T<length>``); with each profile's decay rate and reach."""
    import torch

    from seqbench.claims.gradients import decay_rate, gradient_profile, reach
    from seqbench.data.synthetic import adding_inputs
    from seqbench.io import load_splits
    from seqbench.models import build_model
    from seqbench.training.outputs import best_seed

    task = cfg.gradients.task
    length = max(lengths(params, task))
    frame = load_splits(data_dir)["test"]
    x, y = adding_inputs(frame[frame["length"] == length].head(cfg.gradients.batch))
    inputs, targets = torch.as_tensor(x), torch.as_tensor(y)
    trained = best_seed(Path(grid_dir) / f"T{length}")
    torch.manual_seed(0)
    initial = build_model(trained.model_config(), trained.spec())
    out: dict[str, Any] = {"task": task, "family": family, "length": length}
    for stage, model in (("init", initial), ("trained", trained.load())):
        profile = gradient_profile(model, inputs, targets)
        out[stage] = {
            "rate": decay_rate(profile),
            "reach": reach(profile),
            "profile": [float(v) for v in profile],
        }
    return out
