"""The variants' verdicts in the claims report: the comparison's paired test of each variant
against its vanilla model, read from reports/comparison.json."""

from __future__ import annotations

from seqbench.claims.variants import judge_variant, variant_verdicts, variants_section
from seqbench.models import ARCHITECTURES


def test_every_variant_names_its_base_and_what_it_changes() -> None:
    for name, entry in ARCHITECTURES.items():
        assert (entry.base is None) == (entry.variant is None), name
        assert entry.base is None or entry.base in ARCHITECTURES


def test_a_variant_helps_or_hurts_only_when_the_paired_test_says_so() -> None:
    variant_right = {"p_value": 0.001, "method": "chi-square (cc)", "detail": "b=30 c=5"}
    vanilla_right = {"p_value": 0.001, "method": "chi-square (cc)", "detail": "b=5 c=30"}
    lower_loss = {"p_value": 0.001, "method": "Diebold-Mariano (HLN)", "statistic": -3.0}
    higher_loss = {"p_value": 0.001, "method": "Diebold-Mariano (HLN)", "statistic": 3.0}
    assert judge_variant(+0.01, variant_right, higher=True, alpha=0.05) == "helps"
    assert judge_variant(-0.01, vanilla_right, higher=True, alpha=0.05) == "hurts"
    assert judge_variant(-0.3, lower_loss, higher=False, alpha=0.05) == "helps"
    assert judge_variant(+0.3, higher_loss, higher=False, alpha=0.05) == "hurts"  # more error
    # the means say better, the best seeds' test says worse: no verdict either way
    assert judge_variant(+0.01, vanilla_right, higher=True, alpha=0.05).startswith(
        "no consistent difference"
    )
    weak = {**variant_right, "p_value": 0.2}
    assert judge_variant(+0.3, weak, higher=True, alpha=0.05) == "no significant difference"
    assert judge_variant(+0.3, {**weak, "p_value": 0.04}, higher=True, alpha=0.01) == (
        "no significant difference"
    )
    assert judge_variant(+0.3, None, higher=True, alpha=0.05).startswith("untested")


def variant(arch: str, base: str, delta: float, p: float | None) -> dict:
    statistic = 2.0 if delta > 0 else -2.0  # the test agrees with the means (error: lower wins)
    test = (
        None if p is None else {"p_value": p, "method": "Diebold-Mariano", "statistic": statistic}
    )
    return {
        "arch": arch,
        "base": base,
        "delta": delta,
        "delta_std": 0.01,
        "test": test,
        "parameters_ratio": 2.0,
        "seconds_ratio": 1.7,
    }


def test_the_section_groups_the_variants_and_cites_greff_for_peepholes() -> None:
    comparison = {
        "tasks": [
            {
                "task": "pems",
                "mode": "min",
                "primary": "test/mae",
                "variants": [
                    variant("bilstm", "lstm", -0.0106, 0.52),
                    variant("peephole_lstm", "lstm", +0.0289, 0.0011),
                    variant("birnn", "rnn", +0.0492, 0.0056),
                ],
            },
            {"task": "imdb", "mode": "max", "primary": "test/acc", "variants": []},
        ]
    }
    verdicts = variant_verdicts(comparison, alpha=0.05)
    found = {(v.arch, v.task): (v.variant, v.verdict) for v in verdicts}
    assert found[("bilstm", "pems")] == ("bidirectional", "no significant difference")
    assert found[("peephole_lstm", "pems")] == ("peepholes", "hurts")
    assert found[("birnn", "pems")] == ("bidirectional", "hurts")
    text = "\n".join(variants_section(verdicts, 0.05))
    rows = [line for line in text.splitlines() if line.startswith("| bidirectional |")]
    assert len(rows) == 2 and rows[0].startswith("| bidirectional | pems | bilstm | lstm |")
    assert "| 0.52 (Diebold-Mariano) | **no significant difference** | 2.00 | 1.70 |" in rows[0]
    assert "Greff et al. 2017" in text
    assert "No variant row" in "\n".join(variants_section([], 0.05))
