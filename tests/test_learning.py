"""Learning curves (data hunger): seeded nested shares of the training split only, the curve of
a trained row, its verdict and its section of the claims report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pipeline_outputs import cached_outputs

from seqbench.claims.learning import LearningConfig, learning_config, learning_curve
from seqbench.claims.report import _learning_section as learning_section
from seqbench.claims.report import curve as report_curve
from seqbench.claims.verdicts import Curve, Evidence, judge
from seqbench.data.subset import split_index
from seqbench.data.text import TextDataModule
from seqbench.training.run import resolve_run
from seqbench.typed import ConfigError

CLAIM = "Requires a large amount of data and computing power for training"


def test_training_shares_are_nested_seeded_and_never_touch_evaluation() -> None:
    n = 1000
    for split in ("val", "test"):  # evaluation never depends on the share or the seed
        assert split_index(n, split, 1.0, 0.1, seed=3) is None
        assert np.array_equal(
            split_index(n, split, 0.5, 0.1, seed=3), split_index(n, split, 0.5, 1.0, seed=0)
        )
    for fraction in (1.0, 0.4):
        base = split_index(n, "train", fraction)
        pool = set(range(n) if base is None else base.tolist())
        previous: set[int] = set()
        for share in (0.1, 0.25, 0.5):
            index = split_index(n, "train", fraction, share, seed=1)
            assert len(index) == round(share * len(pool)) and set(index) <= pool
            assert previous <= set(index)  # a larger share adds examples to the smaller one
            assert np.array_equal(index, split_index(n, "train", fraction, share, seed=1))
            previous = set(index)
        assert set(split_index(n, "train", fraction, 0.25, seed=2)) != set(
            split_index(n, "train", fraction, 0.25, seed=1)
        )


def test_the_text_rows_and_the_baselines_read_the_same_examples(tmp_path_factory) -> None:
    """A neural row's datamodule and a bag-of-n-grams baseline's raw reviews pick the same rows
    of every split (their test predictions are paired by those row ids)."""
    out = cached_outputs(tmp_path_factory.getbasetemp())
    spec = resolve_run(
        out.params,
        "imdb",
        "gru",
        {"train.fraction": 0.5, "train.train_share": 0.5},
        data_dir=out.tokenized / "imdb",
        processed_dir=out.processed / "imdb",
    )
    dm = spec.kind.datamodule(spec, seed=1)
    assert isinstance(dm, TextDataModule)
    texts = spec.kind.raw_texts(spec, seed=1)
    for split in ("train", "val", "test"):
        assert np.array_equal(dm.split(split).index, texts[split][2])
        assert len(texts[split][0]) == len(texts[split][1]) == len(texts[split][2])
    whole = resolve_run(out.params, "imdb", "gru", processed_dir=out.processed / "imdb")
    full = len(spec.kind.raw_texts(whole, seed=1)["train"][0])
    assert len(texts["train"][0]) == round(0.5 * round(0.5 * full))


def curve(
    arch: str, family: str, low: float, full: float, std: float = 0.01, seeds: int = 2
) -> Curve:
    points = {0.1: seeds, 1.0: seeds}
    stds = {0.1: std, 1.0: std}
    return Curve(arch, family, "test/acc", {0.1: low, 1.0: full}, stds, True, 9.0, points)


def verdict(learning: dict) -> tuple[str, str]:
    found = [v for v in judge(Evidence(spans={}, learning=learning)) if v.claim == CLAIM]
    return found[0].verdict, found[0].evidence


def test_the_data_hunger_verdict_compares_the_cost_of_the_smallest_share() -> None:
    from seqbench.claims.verdicts import CLAIMS

    claim = [c for c in CLAIMS if c.text == CLAIM]
    assert len(claim) == 1 and claim[0].family == "transformer"
    hungry = curve("transformer", "transformer", 0.60, 0.85)  # loses 0.25
    probe = curve("minilm_frozen", "pretrained", 0.78, 0.82)  # loses 0.04
    lstm = curve("lstm", "recurrent", 0.62, 0.86)  # loses 0.24: within the noise of 0.25
    assert verdict({"imdb": {"transformer": hungry, "minilm_frozen": probe}})[0] == "holds"
    both = {"imdb": {"transformer": hungry, "minilm_frozen": probe, "lstm": lstm}}
    found, evidence = verdict(both)
    assert found == "holds only against minilm_frozen on imdb"  # lstm: 0.01 apart, noise 0.02
    assert "transformer (transformer) +0.25 ± 0.014" in evidence and "9 s per seed" in evidence
    thrifty = curve("transformer", "transformer", 0.84, 0.85)
    assert verdict({"imdb": {"transformer": thrifty, "lstm": lstm}})[0] == "does not hold"
    assert verdict({"imdb": {"transformer": hungry}})[0] == "inconclusive"
    one_seed = curve("minilm_frozen", "pretrained", 0.78, 0.82, std=0.0, seeds=1)
    found, evidence = verdict({"imdb": {"transformer": hungry, "minilm_frozen": one_seed}})
    assert found == "inconclusive" and "fewer than 2 seeds" in evidence  # no spread, no verdict
    found, evidence = verdict({})
    assert found == "inconclusive" and "learning" in evidence
    mae = Curve("transformer", "transformer", "test/mae", {0.1: 9.0, 1.0: 7.0}, {}, False)
    assert mae.cost()[0] == pytest.approx(2.0)  # lower is better: a rise in error is a cost


def test_learning_rows_must_be_trained_by_the_main_comparison() -> None:
    from pipeline_outputs import params

    p = params()
    p["learning"] = {"tasks": ["imdb"], "architectures": ["gru", "lstm"]}
    with pytest.raises(ConfigError, match=r"^learning: imdb-lstm is not trained"):
        learning_config(p)
    p["learning"] = {"tasks": ["imdb"], "architectures": ["gru"], "shares": [0.5, 1.0]}
    with pytest.raises(ConfigError, match="shares"):
        learning_config(p)
    p["learning"] = {"tasks": ["imdb"], "architectures": ["gru"]}
    assert learning_config(p).rows() == [("imdb", "gru")]


@pytest.mark.slow
def test_a_learning_curve_retrains_on_shares_and_reports_them(tmp_path_factory) -> None:
    out = cached_outputs(tmp_path_factory.getbasetemp())
    cfg = LearningConfig(["imdb"], ["gru", "transformer"], shares=[0.25], seeds=[0, 1])
    learning = {"imdb": {}}
    for arch in cfg.architectures:
        summary = learning_curve(
            out.params,
            cfg,
            "imdb",
            arch,
            out.metrics / f"imdb-{arch}.json",
            data_dir=out.tokenized / "imdb",
            track=False,
        )
        assert list(summary["shares"]) == ["0.25", "1"]
        assert summary["metric"] == "test/acc" and summary["mode"] == "max"
        assert sorted(summary["shares"]["0.25"]["seeds"]) == ["s0", "s1"]
        full = json.loads((out.metrics / f"imdb-{arch}.json").read_text())
        assert summary["shares"]["1"]["seeds"] == full["seeds"]  # the main run, not retrained
        learning["imdb"][arch] = summary
    gru = learning["imdb"]["gru"]["shares"]
    # equal optimizer steps: a quarter of the data trains 2 / 0.25 epochs (no early stopping)
    assert gru["0.25"]["max_epochs"] == 8 and gru["1"]["max_epochs"] == 2
    assert gru["0.25"]["seeds"]["s0"]["epochs"] == 8
    assert gru["0.25"]["seeds"]["s0"] != gru["1"]["seeds"]["s0"]  # trained on less data
    curves = {a: report_curve(s) for a, s in learning["imdb"].items()}
    lines = learning_section(Evidence(spans={}, learning={"imdb": curves}), learning, cfg.seeds)
    rows = [line for line in lines if line.startswith("| gru |")]
    low, high = (gru[s]["mean"]["test/acc"] for s in ("0.25", "1"))
    assert len(rows) == 1 and f"| {low:.4g} ± " in rows[0] and f"| {high:.4g} ± " in rows[0]
    assert "(seeds 0, 1;" in "\n".join(lines)
    assert "equal optimizer steps" in "\n".join(lines) and "share 0.25: 8" in "\n".join(lines)
    verdicts = {v.claim: v for v in judge(Evidence(spans={}, learning={"imdb": curves}))}
    assert verdicts[CLAIM].verdict in ("holds", "does not hold", "inconclusive") or verdicts[
        CLAIM
    ].verdict.startswith("holds only against")
    assert f"{curves['transformer'].cost()[0]:+.3g}" in verdicts[CLAIM].evidence
