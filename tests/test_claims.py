"""The claims lab: generators, the validation gate, equal budgets, gradient flow, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqbench.claims.config import claims_config, claims_run, model_spec, sized_model
from seqbench.claims.experiments import gradient_probe, outcome, run_grid, trivial
from seqbench.claims.gradients import decay_rate, gradient_profile, reach
from seqbench.claims.report import render
from seqbench.claims.verdicts import CLAIMS, Evidence, judge, memory_span
from seqbench.data.config import SyntheticConfig
from seqbench.data.kinds import dataset_config
from seqbench.data.synthetic import (
    DELIMITER,
    adding_inputs,
    copy_inputs,
    example_keys,
    generate,
    prepare,
    trivial_loss,
)
from seqbench.models import ForecastSpec, TaggingSpec, build_model, count_parameters
from seqbench.training.fit import fit
from seqbench.typed import ConfigError
from seqbench.validation.core import DataValidationError, validate_frames
from seqbench.validation.synthetic import add_facts, suite


def config(kind: str, lengths=(6, 12), sizes=(200, 50, 50), seed: int = 3) -> SyntheticConfig:
    train, val, test = sizes
    return SyntheticConfig(
        kind=kind,
        lengths=list(lengths),
        sizes={"train": train, "val": val, "test": test},
        seed=seed,
    )


# -- generators -------------------------------------------------------------------------------


def test_adding_marks_one_position_in_each_half_and_targets_their_sum():
    frames = generate(config("adding_problem"))
    for frame in frames.values():
        for length in (6, 12):
            rows = frame[frame["length"] == length]
            x, y = adding_inputs(rows)
            assert x.shape == (len(rows), length, 2) and y.shape == (len(rows), 1, 1)
            marks = x[..., 1]
            assert (marks.sum(axis=1) == 2).all()
            assert (marks[:, : length // 2].sum(axis=1) == 1).all()  # one in each half
            assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()
            np.testing.assert_allclose(y[:, 0, 0], (x[..., 0] * marks).sum(axis=1), rtol=1e-6)


def test_copy_layout_is_symbols_blanks_delimiters_and_the_target_repeats_the_symbols():
    frame = generate(config("copy_memory", lengths=(5,)))["train"]
    x, y = copy_inputs(frame)
    assert x.shape == y.shape == (len(frame), 5 + 20)
    symbols = x[:, :10]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (x[:, 10:14] == 0).all() and (x[:, 14:] == DELIMITER).all()  # T-1 blanks, 11 marks
    assert (y[:, :15] == 0).all() and (y[:, 15:] == symbols).all()


@pytest.mark.parametrize("kind", ["adding_problem", "copy_memory"])
def test_splits_are_seeded_and_never_share_an_example(kind):
    a, b = generate(config(kind)), generate(config(kind))
    other = generate(config(kind, seed=4))
    for split in ("train", "val", "test"):
        assert a[split].equals(b[split])
        assert not a[split].equals(other[split])
        assert len(a[split]) == {"train": 200, "val": 50, "test": 50}[split] * 2
    problem = "adding" if kind == "adding_problem" else "copy"
    keys = [set(example_keys(a[s], problem)) for s in ("train", "val", "test")]
    assert sum(map(len, keys)) == len(set.union(*keys))  # no example in two splits


def test_copy_redraws_repeated_examples_when_the_space_is_small():
    """With T=2 and many examples collisions are likely only by the generator's own choice of
    symbols; force them with a tiny space by checking uniqueness over a large draw."""
    frames = generate(config("copy_memory", lengths=(2,), sizes=(3000, 1000, 1000)))
    keys = [k for s in frames.values() for k in example_keys(s, "copy")]
    assert len(keys) == len(set(keys)) == 5000


def test_trivial_losses_are_those_of_input_ignoring_predictors():
    frame = generate(config("adding_problem", lengths=(20,), sizes=(20000, 10, 10)))["train"]
    _, y = adding_inputs(frame)
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(trivial_loss("adding", 20), rel=0.02)
    frame = generate(config("copy_memory", lengths=(30,)))["train"]
    _, y = copy_inputs(frame)  # blanks for sure, then a uniform guess among the 8 symbols
    logits = torch.full((*y.shape, 10), -1e9)
    logits[:, :-10, 0] = 0.0
    logits[:, -10:, 1:9] = 0.0
    loss = F.cross_entropy(logits.flatten(0, 1), torch.as_tensor(y).flatten())
    assert float(loss) == pytest.approx(trivial_loss("copy", 30), rel=1e-6)
    assert trivial_loss("copy", 30) == pytest.approx(10 * math.log(8) / 50)


@pytest.mark.parametrize("kind", ["adding_problem", "copy_memory"])
def test_the_suite_passes_generated_data_and_names_a_broken_rule(kind, tmp_path):
    cfg = config(kind)
    frames = generate(cfg)
    summary = validate_frames(kind, add_facts(cfg, frames), suite(cfg), tmp_path / "ok")
    assert summary["success"]
    broken = {k: v.copy() for k, v in frames.items()}
    if kind == "adding_problem":
        broken["val"].loc[0, "first"] = broken["val"].loc[0, "length"] - 1  # both marks late
        rule = "marks_one_per_half"
    else:
        broken["test"].loc[3, "symbols"] = broken["train"].loc[0, "symbols"]  # a train example
        broken["test"].loc[3, "length"] = broken["train"].loc[0, "length"]
        rule = "example"
    with pytest.raises(DataValidationError, match=rule):
        validate_frames(kind, add_facts(cfg, broken), suite(cfg), tmp_path / "bad")


# -- equal budgets ----------------------------------------------------------------------------

SPECS = [
    ForecastSpec(input_features=2, horizon=1, targets=1, input_length=100),
    TaggingSpec(vocab_size=11, num_classes=10, pad_id=10),
]


@pytest.mark.parametrize("spec", SPECS, ids=["adding", "copy"])
def test_every_family_is_sized_to_the_same_parameter_count(spec):
    shared = {"num_layers": 1, "num_heads": 2, "dropout": 0.0}
    counts = {}
    for family in ("rnn", "lstm", "gru", "transformer"):
        cfg = sized_model(family, shared, spec, 8000, 0.1, 100)
        counts[family] = count_parameters(build_model(cfg, spec))
        if family == "transformer":
            assert cfg.max_length >= 121  # positions told apart over the whole copy input
    assert all(abs(n - 8000) <= 800 for n in counts.values()), counts
    with pytest.raises(ConfigError, match="cannot be sized to 30"):
        sized_model("lstm", shared, spec, 30, 0.1, 100)


def lab_params(
    tmp_path, lengths=(10,), sizes=(2000, 200, 200), epochs: int = 10, parameters: int = 10000
) -> dict:
    train, val, test = sizes
    data = {"lengths": list(lengths), "sizes": {"train": train, "val": val, "test": test}}
    return {
        "datasets": {
            "adding": {"kind": "adding_problem", **data, "seed": 1},
            "copy": {"kind": "copy_memory", **data, "seed": 2},
        },
        "claims": {
            "tasks": ["adding", "copy"],
            "seeds": [0],
            "parameters": parameters,
            "solved": {
                "adding": {"metric": "test/mse", "below_trivial": 0.01, "loss": "test/mse"},
                "copy": {"metric": "test/recall_acc", "above": 0.99, "loss": "test/loss"},
            },
            "lr": {"length": lengths[0], "n_trials": 1},
            "gradients": {"task": "adding", "batch": 32},
            "task": {
                "adding": {
                    "loss": "mse",
                    "monitor": "val/mse",
                    "mode": "min",
                    "primary": "test/mse",
                },
                "copy": {
                    "loss": "cross_entropy",
                    "monitor": "val/loss",
                    "mode": "min",
                    "primary": "test/loss",
                },
            },
            "model": {"num_layers": 1, "num_heads": 2, "dropout": 0.0},
            "optim": {"name": "adam", "clip_norm": 1.0},
            "train": {"max_epochs": epochs, "batch_size": 50, "threads": 1},
        },
    }


def prepared(params: dict, tmp_path, task: str):
    out = tmp_path / "processed" / task
    prepare(dataset_config(params, task), tmp_path / "raw", out)
    return out


def test_an_lstm_solves_the_adding_problem_at_t10_and_the_trivial_predictor_does_not(tmp_path):
    params = lab_params(tmp_path)
    cfg = claims_config(params)
    data = prepared(params, tmp_path, "adding")
    spec = claims_run(params, cfg, "adding", "lstm", 10, 1e-2, data)
    result = fit(spec, 0, evaluate_test=True)  # at most 400 optimizer steps
    base = trivial(params, "adding", 10)
    assert outcome(cfg.solved["adding"], result.test, base, cfg.failed_fraction) == "solved"
    assert result.test["test/mse"] < 0.01 * base
    # it stopped once solved: the last epoch is the first below the goal, and the goal is met
    goal = spec.train.stop_at.value
    assert result.epochs < 10 and result.history[-1]["val/mse"] < goal
    assert all(h["val/mse"] >= goal for h in result.history[:-1])
    _, y = adding_inputs(__import__("pandas").read_parquet(data / "test.parquet"))
    always_one = {"test/mse": float(((y - 1.0) ** 2).mean())}
    assert outcome(cfg.solved["adding"], always_one, base, cfg.failed_fraction) == "failed"


def test_the_stopping_goal_is_the_solved_rule_on_validation_with_a_margin(tmp_path):
    params = lab_params(tmp_path)
    params["claims"]["stop_margin"] = 0.5
    cfg = claims_config(params)
    adding = claims_run(params, cfg, "adding", "gru", 10, 1e-3, tmp_path).train.stop_at
    assert (adding.metric, adding.mode) == ("val/mse", "min")
    assert adding.value == pytest.approx(0.5 * 0.01 * trivial(params, "adding", 10))
    copy = claims_run(params, cfg, "copy", "gru", 10, 1e-3, tmp_path).train.stop_at
    assert (copy.metric, copy.mode, copy.value) == ("val/recall_acc", "max", pytest.approx(0.995))
    study = claims_run(params, cfg, "copy", "gru", 10, 1e-3, tmp_path, stop_when_solved=False)
    assert study.train.stop_at is None
    params["claims"]["stop_when_solved"] = False
    off = claims_config(params)
    assert claims_run(params, off, "adding", "gru", 10, 1e-3, tmp_path).train.stop_at is None
    params["claims"]["stop_margin"] = 0
    with pytest.raises(ConfigError, match="stop_margin"):
        claims_config(params)


def test_outcomes_separate_solved_failed_and_cut_short():
    rule = claims_config(lab_params(None))  # only the rules are read
    adding = rule.solved["adding"]
    assert outcome(adding, {"test/mse": 0.001}, 1 / 6, 0.9) == "solved"
    assert outcome(adding, {"test/mse": 0.16}, 1 / 6, 0.9) == "failed"
    assert outcome(adding, {"test/mse": 0.05}, 1 / 6, 0.9) == "inconclusive"
    assert outcome(adding, {"test/mse": float("nan")}, 1 / 6, 0.9) == "failed"


# -- gradient flow ----------------------------------------------------------------------------


def test_decay_rate_and_reach_of_a_known_profile():
    profile = 10.0 ** (-0.05 * np.arange(200))  # 0.05 decades per step
    assert decay_rate(profile) == pytest.approx(0.05)
    assert reach(profile) == 121  # 10^-6 of the first value after 120 steps
    assert decay_rate(np.ones(50)) == pytest.approx(0.0, abs=1e-12)
    underflow = np.concatenate([profile[:50], np.zeros(150)])
    assert decay_rate(underflow) == pytest.approx(0.05) and reach(underflow) == 50


def test_the_plain_rnn_gradient_vanishes_faster_than_the_transformers():
    spec = SPECS[0]
    torch.manual_seed(0)
    x, y = torch.rand(16, 100, 2), torch.rand(16, 1, 1)
    rates = {}
    for family in ("rnn", "transformer"):
        torch.manual_seed(0)
        model = build_model(sized_model(family, {"num_heads": 2}, spec, 4000, 0.1, 100), spec)
        profile = gradient_profile(model, x, y)
        assert profile.shape == (100,) and profile[0] > 0
        rates[family] = decay_rate(profile)
    assert rates["rnn"] > 0.05 > abs(rates["transformer"])


# -- verdicts ---------------------------------------------------------------------------------

S, X, Q = "solved", "failed", "inconclusive"
GRID = [25, 50, 100, 200, 400]


def spans_of(span: int, longer: str = X):
    return memory_span({t: [S, S, X] if t <= span else [longer] * 3 for t in GRID})


def test_memory_span_needs_two_of_three_seeds_and_clear_failures_above():
    assert memory_span({25: [S, S, X], 50: [S, X, X], 100: [X] * 3}).length == 25
    exact = memory_span({25: [S] * 3, 50: [X] * 3})
    assert exact.exact and exact.text() == "T = 25"
    bound = memory_span({25: [S] * 3, 50: [Q, Q, X]})
    assert not bound.exact and bound.text().startswith("≥ T = 25")
    assert memory_span({25: [X] * 3}).length == 0


def hand_made(copy_gru: int = 100, copy_lstm: int = 400, inconclusive: bool = False) -> Evidence:
    above = Q if inconclusive else X
    return Evidence(
        spans={
            "adding": {
                "rnn": spans_of(50),
                "lstm": spans_of(200),
                "gru": spans_of(200),
                "transformer": spans_of(400),
            },
            "copy": {
                "rnn": spans_of(25, above),
                "lstm": spans_of(copy_lstm),
                "gru": spans_of(copy_gru),
                "transformer": spans_of(400),
            },
        },
        decay={
            "init": {"rnn": 0.3, "lstm": 0.13, "gru": 0.16, "transformer": 0.0},
            "trained": {"rnn": 0.2, "lstm": 0.01, "gru": 0.02, "transformer": 0.0},
        },
        params_at_width={"gru": 30, "lstm": 40},
    )


def verdicts_of(evidence: Evidence) -> dict[tuple[str, str], str]:
    """(family, the claim's first three words) -> verdict."""
    return {(v.family, " ".join(v.claim.split()[:3])): v.verdict for v in judge(evidence)}


def test_the_verdicts_of_hand_made_evidence():
    verdicts = verdicts_of(hand_made())
    assert len(verdicts) == len(CLAIMS)  # every claim of the seed's table gets a verdict
    assert verdicts[("rnn", "Suffers from the")] == "holds"
    assert verdicts[("rnn", "Limited memory span")] == "holds"
    assert verdicts[("rnn", "Suitable for tasks")] == "holds only when T ≤ 25"
    assert verdicts[("lstm", "Can capture and")] == "holds only when T ≤ 200"
    assert verdicts[("lstm", "Mitigates the vanishing")] == "holds"
    assert verdicts[("gru", "Simplified structure while")] == "holds only on adding"
    assert verdicts[("gru", "Might not capture")] == "holds (on copy)"
    assert verdicts[("transformer", "Can capture long-range")] == "holds"
    same = verdicts_of(hand_made(copy_gru=400))
    assert same[("gru", "Might not capture")] == "does not hold"
    assert same[("gru", "Simplified structure while")] == "holds"


def test_runs_cut_short_give_no_verdict():
    verdicts = verdicts_of(hand_made(inconclusive=True))
    assert verdicts[("rnn", "Limited memory span")] == "inconclusive"
    assert verdicts[("rnn", "Suffers from the")] == "inconclusive"


def test_short_sequences_are_judged_only_where_the_shortest_t_is_decided():
    evidence = hand_made()
    for outcome_at_shortest, verdict in ((X, "holds only on adding"), (Q, "inconclusive")):
        evidence.spans["copy"]["rnn"] = memory_span({t: [outcome_at_shortest] * 3 for t in GRID})
        assert verdicts_of(evidence)[("rnn", "Suitable for tasks")] == verdict
    assert evidence.spans["copy"]["rnn"].text() == "none of T ≥ 25 solved (not all clearly failed)"


# -- the whole lab on tiny sizes ---------------------------------------------------------------


@pytest.mark.slow
def test_the_lab_runs_every_family_and_reports_every_claim(tmp_path):
    params = lab_params(tmp_path, lengths=(4, 8), sizes=(100, 40, 40), epochs=1, parameters=4000)
    cfg = claims_config(params)
    summaries, gradients = {}, {}
    for task in cfg.tasks:
        data = prepared(params, tmp_path, task)
        summaries[task] = {}
        for family in cfg.families:
            out = tmp_path / "models" / f"{task}-{family}"
            summary = run_grid(params, cfg, task, family, 1e-2, data, out, track=False)
            row = summary["lengths"]["8"]
            assert row["steps"] == 2 and abs(row["parameters"] - 4000) <= 400
            assert {s["outcome"] for s in row["seeds"].values()} <= {S, X, Q}
            summaries[task][family] = summary
            if task == "adding":
                gradients[family] = gradient_probe(params, cfg, family, data, out)
                assert len(gradients[family]["trained"]["profile"]) == 8
    from seqbench.claims.cost import SPEC, CostConfig, cost_curve, equal_width

    costs = CostConfig(lengths=[8, 32], tokens=64, repeats=1, width=8, width_length=16)
    cost = {}
    for family in cfg.families:
        sized = sized_model(family, cfg.model, SPEC, cfg.parameters, cfg.tolerance, 32)
        cost[family] = cost_curve(sized, costs.lengths, costs.tokens, repeats=1)
        cost[family]["equal_width"] = equal_width(family, cfg.model, costs, torch.device("cpu"))
    text, data = render(cfg, summaries, gradients, cost=cost)
    for claim in CLAIMS:
        assert claim.text in text
    assert len(data["verdicts"]) == len(CLAIMS)
    assert "| *trivial predictor* |" in text and "Gradient flow" in text
    assert "## Cost against sequence length (cpu" in text and "| T = 8 | T = 32 |" in text
    verdicts = {v["claim"]: v["verdict"] for v in data["verdicts"]}
    assert verdicts["Processes data in parallel rather than sequentially"] == "holds"
    assert verdicts["Simple structure"] == "holds"
    assert model_spec(claims_run(params, cfg, "copy", "gru", 4, 1e-3, tmp_path)).num_classes == 10


def test_a_solved_rule_needs_exactly_one_bound():
    from seqbench.claims.config import SolvedRule

    for bounds in ({}, {"below_trivial": 0.01, "above": 0.99}):
        with pytest.raises(ConfigError, match="exactly one of below_trivial and above"):
            SolvedRule("test/mse", **bounds)
