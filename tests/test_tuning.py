"""Tuning machinery: space translation, exact trial counts, kill/resume, workers, NaN, MLflow."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from seqbench.tuning import TuneConfig, parse_space, suggest, tune, tune_config
from seqbench.tuning.config import BudgetConfig, PrunerConfig, SamplerConfig
from seqbench.tuning.objective import NonFiniteValueError
from seqbench.tuning.study import FINGERPRINT_ATTR, JOURNAL_FILE, OWNER_ATTR, storage_for
from seqbench.typed import ConfigError

SPACE = {
    "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "model.hidden_size": {"type": "int", "low": 32, "high": 256, "step": 32},
    "model.num_layers": {"type": "int", "low": 1, "high": 3},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "train.batch_size": {"type": "categorical", "choices": [32, 64]},
}


def make_cfg(
    n_trials: int = 4, *, mlflow: bool = False, pruner: str = "none", **budget
) -> TuneConfig:
    return TuneConfig(
        budget=BudgetConfig(n_trials=n_trials, max_epochs=3, **budget),
        sampler=SamplerConfig(seed=7, n_startup_trials=2),
        pruner=PrunerConfig(kind=pruner, n_startup_trials=1, n_warmup_steps=0),
        space=parse_space(SPACE, "tune.space.test"),
        mlflow=mlflow,
        experiment="tuning-test",
    )


@dataclass(frozen=True)
class Quadratic:
    """Cheap objective: (lr - 0.01)^2-like bowl, reported per epoch; some trials misbehave."""

    metric: str = "val/loss"
    direction: str = "minimize"
    epochs: int = 3
    sleep_s: float = 0.0
    nan_trial: int | None = None
    nonfinite_error_trial: int | None = None
    raise_trials: tuple[int, ...] = ()

    def __call__(self, trial: optuna.Trial) -> float:
        p = suggest(trial, make_cfg().space)
        base = (math.log10(p["optim.lr"]) + 2) ** 2 + p["model.dropout"] + p["model.num_layers"]
        if trial.number in self.raise_trials:
            raise RuntimeError("boom in trial")
        value = base
        for epoch in range(self.epochs):
            time.sleep(self.sleep_s)
            value = base + 1.0 / (epoch + 1)
            if trial.number == self.nonfinite_error_trial and epoch == 1:
                raise NonFiniteValueError("loss is nan at step 7")
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}")
        return float("nan") if trial.number == self.nan_trial else value


def load(study_dir: Path, name: str = "t-a") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage_for(None, study_dir))


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


# ---------------------------------------------------------------------------------------------
# search spaces and config
# ---------------------------------------------------------------------------------------------


def test_space_translates_each_type_into_its_distribution():
    study = optuna.create_study()
    trial = study.ask()
    values = suggest(trial, parse_space(SPACE, "tune.space.x"))
    d = trial.distributions
    assert d["optim.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert d["model.hidden_size"] == IntDistribution(32, 256, step=32)
    assert d["model.num_layers"] == IntDistribution(1, 3)
    assert d["model.dropout"] == FloatDistribution(0.0, 0.5)
    assert d["train.batch_size"] == CategoricalDistribution([32, 64])
    assert values["model.hidden_size"] % 32 == 0 and 32 <= values["model.hidden_size"] <= 256
    assert 1e-4 <= values["optim.lr"] <= 1e-1 and values["train.batch_size"] in (32, 64)
    assert isinstance(values["model.num_layers"], int)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "float", "low": 1.0, "high": 0.1}, "x.optim.lr.low: expected a number <= high"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "low: expected a number > 0"),
        ({"type": "uniform", "low": 0, "high": 1}, "x.optim.lr.type: expected one of"),
        ({"type": "int", "low": 0.5, "high": 4}, "low: expected an integer for type int"),
        ({"type": "categorical", "choices": []}, "choices: expected a non-empty list"),
        ({"type": "float", "low": 1e-3, "high": 1, "log": True, "step": 0.1}, "no step with log"),
        ({"type": "float", "high": 1.0}, "low: expected a number for type float"),
        ({"type": "float", "low": 0, "high": 1, "lowest": 0}, "lowest: unknown key"),
    ],
)
def test_bad_spec_names_the_key(spec, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_space({"optim.lr": spec}, "x")


def test_space_key_must_be_a_dotted_override():
    with pytest.raises(ConfigError, match=r"x\.lr: expected a dotted override key"):
        parse_space({"lr": {"type": "float", "low": 0.1, "high": 1}}, "x")


def test_tune_config_gives_every_arch_of_a_task_the_same_budget():
    params = {
        "tune": {
            "budget": {"n_trials": 10, "max_epochs": 5},
            "tasks": {"imdb": {"n_trials": 3, "max_trial_seconds": 60}},
            "sampler": {"seed": 1},
            "space": {"lstm": SPACE, "gru": {"optim.lr": SPACE["optim.lr"]}},
        }
    }
    lstm, gru = tune_config(params, "imdb", "lstm"), tune_config(params, "imdb", "gru")
    assert lstm.budget == gru.budget == BudgetConfig(3, 5, max_trial_seconds=60.0)
    assert tune_config(params, "etth1", "gru").budget.n_trials == 10
    with pytest.raises(ConfigError, match=r"tune\.space\.rnn: required key is missing"):
        tune_config(params, "imdb", "rnn")
    params["tune"]["tasks"]["imdb"]["n_trials"] = 0
    with pytest.raises(ConfigError, match=r"tune\.tasks\.imdb\.n_trials: expected an integer >= 1"):
        tune_config(params, "imdb", "lstm")


def test_task_space_overrides_the_arch_space_key_by_key():
    params = {
        "tune": {
            "budget": {"n_trials": 4, "max_epochs": 2},
            "tasks": {
                "imdb": {
                    "n_trials": 3,
                    "space": {
                        "lstm": {
                            "model.hidden_size": {"type": "categorical", "choices": [64, 128]},
                            "model.num_layers": None,
                        }
                    },
                }
            },
            "space": {"lstm": SPACE},
        }
    }
    imdb = tune_config(params, "imdb", "lstm")
    assert imdb.budget.n_trials == 3
    assert imdb.space["model.hidden_size"].choices == [64, 128]
    assert "model.num_layers" not in imdb.space
    assert imdb.space["optim.lr"] == tune_config(params, "pems", "lstm").space["optim.lr"]
    assert tune_config(params, "pems", "lstm").space.keys() == parse_space(SPACE, "x").keys()
    params["tune"]["tasks"]["imdb"]["space"]["lstm"]["model.dropout"] = {"type": "float"}
    with pytest.raises(ConfigError, match=r"tune\.tasks\.imdb\.space\.lstm\.model\.dropout"):
        tune_config(params, "imdb", "lstm")


# ---------------------------------------------------------------------------------------------
# studies
# ---------------------------------------------------------------------------------------------


def test_tiny_study_finishes_with_exactly_n_trials_and_resumes_to_no_more(tmp_path):
    cfg = make_cfg(5, pruner="median")
    summary = tune(cfg, Quadratic(), name="t-a", study_dir=tmp_path)
    study = load(tmp_path)
    assert len(study.trials) == 5 and len(finished(study)) == 5
    assert summary["trials"]["complete"] + summary["trials"]["pruned"] == 5
    assert summary["best_value"] == pytest.approx(study.best_value)
    assert set(summary["best_params"]) == set(SPACE)
    assert summary["metric"] == "val/loss" and summary["direction"] == "minimize"
    assert (tmp_path / JOURNAL_FILE).exists()
    # re-running a finished study runs nothing; raising n_trials continues it
    tune(cfg, Quadratic(), name="t-a", study_dir=tmp_path)
    assert len(load(tmp_path).trials) == 5
    first = [(t.number, t.params, t.value, t.state) for t in load(tmp_path).trials]
    tune(make_cfg(7, pruner="median"), Quadratic(), name="t-a", study_dir=tmp_path)
    grown = load(tmp_path).trials
    assert len(finished(load(tmp_path))) == 7 == len(grown)
    assert [(t.number, t.params, t.value, t.state) for t in grown[:5]] == first  # continued
    assert list(tmp_path.glob("journal.*.log")) == []  # nothing was set aside


def test_a_study_with_the_earlier_fingerprint_is_continued_not_restarted(tmp_path):
    cfg = make_cfg(3, pruner="median")
    tune(cfg, Quadratic(), name="t-a", study_dir=tmp_path)
    study = load(tmp_path)
    study.set_user_attr(FINGERPRINT_ATTR, cfg.legacy_fingerprint(3))  # as seqbench stored it
    first = [(t.params, t.value) for t in study.trials]
    tune(make_cfg(5, pruner="median"), Quadratic(), name="t-a", study_dir=tmp_path)
    study = load(tmp_path)
    assert [(t.params, t.value) for t in study.trials[:3]] == first and len(study.trials) == 5
    assert study.user_attrs[FINGERPRINT_ATTR] == cfg.fingerprint()
    assert cfg.fingerprint() == make_cfg(5, pruner="median").fingerprint()
    assert list(tmp_path.glob("journal.*.log")) == []


def test_seeded_study_is_reproducible(tmp_path):
    tune(make_cfg(4), Quadratic(), name="t-a", study_dir=tmp_path / "a")
    tune(make_cfg(4), Quadratic(), name="t-a", study_dir=tmp_path / "b")
    first, second = load(tmp_path / "a"), load(tmp_path / "b")
    assert [t.params for t in first.trials] == [t.params for t in second.trials]


def test_changed_space_starts_a_new_study_and_keeps_the_old_journal(tmp_path):
    tune(make_cfg(2), Quadratic(), name="t-a", study_dir=tmp_path)
    cfg = make_cfg(2)
    changed = TuneConfig(
        cfg.budget, cfg.sampler, PrunerConfig(kind="median"), cfg.space, mlflow=False
    )
    tune(changed, Quadratic(), name="t-a", study_dir=tmp_path)
    assert len(load(tmp_path).trials) == 2
    assert len(list(tmp_path.glob("journal.*.log"))) == 1


def test_nan_and_errors_are_pruned_or_failed_with_reason_and_the_study_completes(tmp_path):
    objective = Quadratic(nan_trial=1, nonfinite_error_trial=2, raise_trials=(3,))
    summary = tune(make_cfg(5), objective, name="t-a", study_dir=tmp_path)
    study = load(tmp_path)
    by_number = {t.number: t for t in study.trials}
    assert by_number[1].state == TrialState.PRUNED
    assert by_number[1].user_attrs["reason"] == "non-finite value: nan"
    assert by_number[2].state == TrialState.PRUNED
    assert by_number[2].user_attrs["reason"].startswith("non-finite loss: loss is nan")
    assert by_number[3].state == TrialState.FAIL
    assert by_number[3].user_attrs["reason"] == "RuntimeError: boom in trial"
    assert len(finished(study)) == 5 and len(study.trials) == 6  # the failure was replaced
    assert summary["trials"]["fail"] == 1 and summary["trials"]["pruned"] == 2


def test_failures_beyond_the_allowance_stop_with_an_error(tmp_path):
    from seqbench.tuning import TuningError

    with pytest.raises(TuningError, match=r"t-a: 2 of 3 trials finished; 2 failed"):
        tune(
            make_cfg(3, max_failures=1),
            Quadratic(raise_trials=(0, 1)),
            name="t-a",
            study_dir=tmp_path,
        )
    states = [t.state for t in load(tmp_path).trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import optuna
    from seqbench.tuning import suggest, tune
    sys.path.insert(0, {tests!r})
    from test_tuning import make_cfg

    study_dir, marker, hang = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "hang"
    tracked = sys.argv[4:] == ["mlflow"]

    class Obj:
        metric, direction = "val/loss", "minimize"

        def __call__(self, trial):
            p = suggest(trial, make_cfg().space)
            if hang and trial.number == 2:
                marker.write_text(str(trial.number))
                time.sleep(120)
            trial.report(p["optim.lr"], 0)
            return p["optim.lr"] + p["model.dropout"]

    tune(make_cfg(5, mlflow=tracked), Obj(), name="t-a", study_dir=study_dir)
    """
)


def kill_during_trial_2(tmp_path: Path, *flags: str) -> tuple[Path, Path]:
    """Run the study script until it hangs in trial 2, then SIGKILL it; (script, study folder)."""
    script = tmp_path / "run_study.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    marker, study_dir = tmp_path / "running", tmp_path / "study"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(study_dir), str(marker), "hang", *flags]
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "study never reached trial 2"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return script, study_dir


@pytest.mark.slow
def test_sigkilled_study_resumes_to_exactly_n_trials_and_fails_the_stale_trial(tmp_path):
    script, study_dir = kill_during_trial_2(tmp_path)
    marker = tmp_path / "running"
    killed = load(study_dir)
    assert killed.trials[2].state == TrialState.RUNNING
    assert len(finished(killed)) == 2

    subprocess.run([sys.executable, str(script), str(study_dir), str(marker), "fast"], check=True)
    study = load(study_dir)
    assert len(finished(study)) == 5
    assert study.trials[2].state == TrialState.FAIL
    assert study.trials[2].user_attrs["reason"].startswith("stale: worker ")
    assert len(study.trials) == 6 and study.trials[5].state != TrialState.WAITING
    params = [tuple(sorted(t.params.items())) for t in finished(study)]
    assert len(set(params)) == 5  # the resumed sampler did not replay finished trials


@pytest.mark.slow
def test_the_run_of_a_sigkilled_trial_is_closed_as_killed_on_resume(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    script, study_dir = kill_during_trial_2(tmp_path, "mlflow")
    args = [sys.executable, str(script), str(study_dir), str(tmp_path / "running")]
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("tuning-test")
    running = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    assert {r.data.tags.get("optuna.trial") for r in running} == {None, "2"}  # parent + trial 2
    subprocess.run([*args, "fast", "mlflow"], check=True)
    runs = client.search_runs([exp.experiment_id])
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    killed = [r for r in runs if r.data.tags.get("optuna.trial") == "2"]
    assert [r.info.status for r in killed] == ["KILLED"]
    assert killed[0].data.tags["seqbench.end_reason"].startswith("process ")
    assert [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags] == ["FINISHED"]


@pytest.mark.slow
def test_two_workers_together_produce_exactly_n_trials(tmp_path):
    summary = tune(make_cfg(6), Quadratic(sleep_s=0.1), name="t-a", study_dir=tmp_path, workers=2)
    study = load(tmp_path)
    assert len(study.trials) == 6 and len(finished(study)) == 6
    assert summary["trials"]["complete"] == 6
    owners = {t.user_attrs[OWNER_ATTR].split(":")[1] for t in study.trials}
    assert len(owners) == 2 and str(os.getpid()) not in owners


# ---------------------------------------------------------------------------------------------
# MLflow
# ---------------------------------------------------------------------------------------------


def test_each_trial_is_a_nested_mlflow_run_under_the_study_parent(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    summary = tune(
        make_cfg(3, mlflow=True),
        Quadratic(raise_trials=(1,)),
        name="t-a",
        study_dir=tmp_path / "study",
        tracking_uri=uri,
    )
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("tuning-test")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4  # 3 finished + 1 failed
    states = sorted(r.data.tags["optuna.state"] for r in children)
    assert states == ["complete", "complete", "complete", "fail"]
    failed = next(r for r in children if r.data.tags["optuna.state"] == "fail")
    assert failed.data.tags["optuna.reason"] == "RuntimeError: boom in trial"
    done = next(r for r in children if r.data.tags["optuna.state"] == "complete")
    assert set(done.data.params) == set(SPACE)
    history = client.get_metric_history(done.info.run_id, "val/loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert done.data.metrics["trial/duration_s"] > 0
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best/val/loss"] == pytest.approx(summary["best_value"])
    assert parent.data.params["best.train.batch_size"] == str(
        summary["best_params"]["train.batch_size"]
    )
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "optuna")}
    assert {"optuna/optimization_history.png", "optuna/param_importances.png"} <= artifacts


def test_optuna_integration_pruning_callback_works_with_pinned_lightning():
    import lightning as L
    import torch
    from optuna_integration import PyTorchLightningPruningCallback

    class Tiny(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(2, 1)

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 2), torch.randn(16, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=-1, n_warmup_steps=1))
    trial = study.ask()
    trainer = L.Trainer(
        max_epochs=5,
        callbacks=[PyTorchLightningPruningCallback(trial, monitor="val/loss")],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        trainer.fit(Tiny(), loader, loader)
    frozen = study.tell(trial, state=TrialState.PRUNED)
    assert sorted(frozen.intermediate_values) == [0, 1]  # one report per epoch, then pruned


def test_an_empty_search_space_skips_the_study_and_writes_an_empty_result(tmp_path):
    from conftest import toy_datasets

    from seqbench.tuning.service import tune_task

    report = tmp_path / "validation"
    report.mkdir()
    (report / "summary.json").write_text(json.dumps({"success": True, "checks": []}))
    params = {
        "datasets": toy_datasets(),
        "train": {
            "tasks": {"series": ["toy"]},
            "architectures": {"series": ["naive"]},
            "toy": {"task": {"loss": "mae", "monitor": "val/mae"}},
        },
        "tune": {"space": {"naive": {}}, "mlflow": False},
    }
    summary = tune_task(
        params,
        "toy",
        "naive",
        validation_dir=report,
        data_dir=tmp_path / "nowhere",  # never read: there is nothing to try
        out=tmp_path / "toy-naive.json",
        study_dir=tmp_path / "toy-naive",
    )
    assert summary["best_params"] == {} and summary["n_trials"] == 0
    assert json.loads((tmp_path / "toy-naive.json").read_text())["best_params"] == {}
    assert (tmp_path / "toy-naive").is_dir() and not (
        tmp_path / "toy-naive" / JOURNAL_FILE
    ).exists()
    with pytest.raises(ConfigError, match=r"tune\.space\.naive: expected a mapping"):
        tune_config({**params, "tune": {"space": {"naive": None}}}, "toy", "naive")
