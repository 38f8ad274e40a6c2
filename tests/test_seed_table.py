"""The opening table of reports/claims.md: every row of the seed's table, in its order, each claim
with its verdict, figure and files, each named variant with its paired-test verdict, and the
statements no measurement decides marked with a reason."""

from __future__ import annotations

from seqbench.claims.seed_table import (
    NOT_MEASURABLE,
    SEED_VARIANTS,
    UNMEASURABLE,
    Link,
    seed_table,
    table_lines,
)
from seqbench.claims.variants import VariantVerdict
from seqbench.claims.verdicts import CLAIMS, SEED_ROWS, VARIANTS, Verdict


def verdicts() -> list[Verdict]:
    return [
        Verdict(c.family, c.text, "holds", f"{i} ms", c.row, c.kinds) for i, c in enumerate(CLAIMS)
    ]


def variant(arch: str, name: str, task: str, verdict: str) -> VariantVerdict:
    base = "transformer" if arch.startswith("transformer") else arch[2:]
    return VariantVerdict(
        name, task, arch, base, "test/mae", -0.1, 0.05, 0.01, "DM", 2.0, 1.5, verdict
    )


FIGURES = {"cost": (Link("cost against T", "claims/figures/claims-cost.png"),)}
SOURCES = {
    "cost": (Link("cost", "claims/cost"),),
    "variants": (Link("comparison", "comparison.json"),),
}


def test_every_claim_and_every_row_of_the_seed_is_answered_in_the_seed_order() -> None:
    rows = seed_table(verdicts(), [], FIGURES, SOURCES)
    claims = {r.claim: r for r in rows}
    for c in CLAIMS:  # every claim, in the row the seed states it
        assert claims[c.text].row == c.row and claims[c.text].verdict == "holds"
    assert {r.row for r in rows} == set(SEED_ROWS)  # no row of the seed left out
    order = [SEED_ROWS.index(r.row) for r in rows]
    assert order == sorted(order)
    for u in UNMEASURABLE:
        assert claims[u.text].verdict == NOT_MEASURABLE and claims[u.text].evidence == u.reason
    assert "Forms the backbone for models like BERT and GPT" in claims
    named = [r for r in rows if r.row == VARIANTS]
    assert len(named) == sum(len(v) for v in SEED_VARIANTS.values())
    assert all(r.verdict == "not measured" for r in named)  # no variant row ran


def test_a_claim_links_the_figure_and_files_of_its_evidence() -> None:
    rows = {r.claim: r for r in seed_table(verdicts(), None, FIGURES, SOURCES)}
    memory = rows[
        "Can be memory-intensive due to the attention mechanism, especially for long sequences"
    ]
    assert memory.figures == FIGURES["cost"] and memory.sources == SOURCES["cost"]
    spans = rows["Limited memory span"]
    assert spans.figures == () and spans.sources == ()  # nothing given for spans
    assert not any(r.row == VARIANTS for r in rows.values())  # the comparison was not read
    lines = table_lines(list(rows.values()))
    cost_line = next(
        line for line in lines if line.startswith("| disadvantages | transformer | Can be")
    )
    assert "[cost against T](claims/figures/claims-cost.png)" in cost_line
    assert "[cost](claims/cost)" in cost_line and "**holds**" in cost_line
    assert all(line.count("|") == 8 for line in lines)  # 7 cells each: no '|' inside a cell


def test_a_variant_row_gathers_its_verdicts_over_tasks_and_families() -> None:
    measured = [
        variant("bilstm", "bidirectional", "pems", "helps"),
        variant("bigru", "bidirectional", "pems", "no significant difference"),
        variant("bilstm", "bidirectional", "imdb", "helps"),
        variant("transformer_decoder", "decoder-only", "pems", "hurts"),
    ]
    rows = {(r.family, r.claim.split()[0]): r for r in seed_table([], measured, {}, SOURCES)}
    lstm = rows[("lstm", "bidirectional")]
    assert lstm.verdict == "helps" and "pems bilstm: Δ test/mae -0.1" in lstm.evidence
    assert "imdb bilstm" in lstm.evidence and lstm.sources == SOURCES["variants"]
    assert rows[("gru", "bidirectional")].verdict == "no significant difference"
    assert rows[("rnn", "bidirectional")].verdict == "not measured"
    assert rows[("transformer", "decoder-only")].verdict == "hurts"
    assert "encoder-only" in rows[("transformer", "decoder-only")].claim
    mixed = seed_table(
        [], [*measured, variant("bilstm", "bidirectional", "etth1", "hurts")], {}, {}
    )
    row = next(r for r in mixed if r.family == "lstm" and r.claim.startswith("bidirectional"))
    assert row.verdict == "helps on pems bilstm, imdb bilstm; hurts on etth1 bilstm"
