"""Short against long sequences on real text: the text rows retrained on their reviews cut to a
shorter max_length, the RNN's "suitable for tasks with short sequences" verdict, and the report."""

from __future__ import annotations

import json

import pytest
from pipeline_outputs import cached_outputs
from test_claims import hand_made

from seqbench.claims.learning import LengthsConfig, length_curve, lengths_config
from seqbench.claims.report import _lengths_section as lengths_section
from seqbench.claims.report import curve as report_curve
from seqbench.claims.verdicts import Curve, judge
from seqbench.data.tokenize import load_encoded
from seqbench.typed import ConfigError

CLAIM = "Suitable for tasks with short sequences"


def curve(arch: str, accuracy: dict[int, float], std: float = 0.005, seeds: int = 2) -> Curve:
    points = {float(k): v for k, v in accuracy.items()}
    return Curve(
        arch,
        "recurrent",
        "test/acc",
        points,
        dict.fromkeys(points, std),
        True,
        10.0,
        dict.fromkeys(points, seeds),
    )


def short_verdict(rnn: dict[int, float], seeds: int = 2) -> tuple[str, str]:
    evidence = hand_made()
    lengths = {"imdb": {"rnn": curve("rnn", rnn, seeds=seeds), "gru": curve("gru", GRU)}}
    ev = type(evidence)(**{**evidence.__dict__, "lengths": lengths})
    (found,) = [v for v in judge(ev) if v.claim == CLAIM]
    return found.verdict, found.evidence


GRU = {64: 0.80, 128: 0.84, 256: 0.87}


def test_the_short_sequence_verdict_reads_where_the_rnn_keeps_up_on_text() -> None:
    synthetic = "holds only when T ≤ 25"  # hand_made(): the RNN's span on the synthetic tasks
    # keeps up at 64 (0.005 behind, within the combined std 0.007), falls behind from 128
    verdict, evidence = short_verdict({64: 0.795, 128: 0.80, 256: 0.78})
    assert verdict == f"synthetic: {synthetic}; imdb: holds only when max_length ≤ 64"
    assert "imdb test/acc at max_length 64: 0.795 against gru 0.8" in evidence
    # keeps up everywhere: the claim holds on text (short sequences suit it, as do long ones)
    verdict, _ = short_verdict({64: 0.80, 128: 0.84, 256: 0.866})
    assert verdict == f"synthetic: {synthetic}; imdb: holds"
    # behind already at the shortest: does not hold on text
    assert short_verdict({64: 0.70, 128: 0.84, 256: 0.87})[0].endswith("imdb: does not hold")
    # behind at short, level at long: not a short-sequence advantage
    assert short_verdict({64: 0.70, 128: 0.80, 256: 0.87})[0].endswith("imdb: does not hold")
    # one seed gives no spread: nothing decided on text
    assert short_verdict({64: 0.795, 128: 0.80, 256: 0.78}, seeds=1)[0].endswith(
        "imdb: inconclusive"
    )


def test_without_text_rows_the_verdict_is_the_synthetic_one() -> None:
    (found,) = [v for v in judge(hand_made()) if v.claim == CLAIM]
    assert found.verdict == "holds only when T ≤ 25" and "max_length" not in found.evidence


def test_length_rows_must_be_text_networks_the_main_comparison_trains() -> None:
    from pipeline_outputs import params

    p = params()
    p["text_lengths"] = {"tasks": ["toy"], "architectures": ["gru"]}
    with pytest.raises(ConfigError, match=r"^text_lengths: toy-gru: expected a network of the"):
        lengths_config(p)
    p["text_lengths"] = {"tasks": ["imdb"], "architectures": ["lstm"]}
    with pytest.raises(ConfigError, match=r"^text_lengths: imdb-lstm is not trained"):
        lengths_config(p)
    p["text_lengths"] = {"tasks": ["imdb"], "architectures": ["gru"], "max_lengths": [128, 64]}
    with pytest.raises(ConfigError, match="max_lengths"):
        lengths_config(p)
    p["text_lengths"] = {"tasks": ["imdb"], "architectures": ["gru"]}
    assert lengths_config(p).rows() == [("imdb", "gru")]


@pytest.mark.slow
def test_a_length_curve_retrains_on_cut_reviews_and_reports_them(tmp_path_factory) -> None:
    out = cached_outputs(tmp_path_factory.getbasetemp())
    longest = json.loads((out.tokenized / "imdb" / "meta.json").read_text())["max_length"]
    assert longest == 24 and load_encoded(out.tokenized / "imdb", "train").lengths.max() == 24
    cfg = LengthsConfig(["imdb"], ["gru", "transformer"], max_lengths=[8], seeds=[0, 1])
    rows = {}
    for arch in cfg.architectures:
        summary = length_curve(
            out.params,
            cfg,
            "imdb",
            arch,
            out.metrics / f"imdb-{arch}.json",
            data_dir=out.tokenized / "imdb",
            track=False,
        )
        assert list(summary["max_lengths"]) == ["8", "24"]
        full = json.loads((out.metrics / f"imdb-{arch}.json").read_text())
        assert summary["max_lengths"]["24"]["seeds"] == full["seeds"]  # the main run's point
        short = summary["max_lengths"]["8"]
        assert sorted(short["seeds"]) == ["s0", "s1"] and short["max_epochs"] == 2
        assert short["seeds"]["s0"] != full["seeds"]["s0"]  # trained on 8 tokens, not 24
        rows[arch] = summary
    with pytest.raises(ConfigError, match=r"^text_lengths.max_lengths: expected lengths below 24"):
        length_curve(
            out.params,
            LengthsConfig(["imdb"], ["gru"], max_lengths=[24]),
            "imdb",
            "gru",
            out.metrics / "imdb-gru.json",
            data_dir=out.tokenized / "imdb",
            track=False,
        )
    evidence = type(hand_made())(spans={}, lengths={"imdb": {}})
    evidence.lengths["imdb"].update({a: report_curve(s, "max_lengths") for a, s in rows.items()})
    lines = lengths_section(evidence, {"imdb": rows})
    assert "| row | max_length 8 | max_length 24 |" in lines
    gru = rows["gru"]["max_lengths"]
    low, high = (gru[k]["mean"]["test/acc"] for k in ("8", "24"))
    (row,) = [line for line in lines if line.startswith("| gru |")]
    assert f"| {low:.4g} ± " in row and f"| {high:.4g} ± " in row and row.endswith("(2) |")


def test_the_report_draws_every_curve_beside_the_cost_figure(tmp_path) -> None:
    from seqbench.claims.report import figures

    def summary(axis: str, points: list) -> dict:
        return {
            "arch": "gru",
            "family": "recurrent",
            "metric": "test/acc",
            "mode": "max",
            axis: {
                str(p): {"mean": {"test/acc": 0.6 + 0.1 * i}, "std": {}, "seeds": {"s0": {}}}
                for i, p in enumerate(points)
            },
        }

    point = {"length": 8, "step_seconds": 0.01, "saved_bytes_per_sequence": 1024.0}
    cost = {"gru": {"points": [point, {**point, "length": 16}], "device": "cpu"}}
    drawn = figures(
        None,
        {},
        {},
        tmp_path,
        learning={"imdb": {"gru": summary("shares", [0.5, 1])}},
        cost=cost,
        lengths={"imdb": {"gru": summary("max_lengths", [32, 64])}},
    )
    assert [(f.kind, f.name) for f in drawn] == [
        ("cost", "cost against T"),
        ("learning", "imdb learning curves"),
        ("lengths", "imdb against max_length"),
    ]
    assert all((tmp_path / f"claims-{k}.png").is_file() for k in ("cost", "lengths-imdb"))
