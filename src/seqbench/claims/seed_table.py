"""The opening table of ``reports/claims.md``: every row of the seed's table answered.

The seed compares the four families in six rows (overview, key characteristics, advantages,
disadvantages, use cases, model variants). Each claim it states gets its computed verdict with
the numbers, the figure and the files behind it; each named variant gets the variants section's
paired-test verdicts; what states no testable claim is listed as such, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seqbench.claims.variants import VariantVerdict
from seqbench.claims.verdicts import (
    CHARACTERISTICS,
    OVERVIEW,
    SEED_ROWS,
    USE_CASES,
    VARIANTS,
    Verdict,
)

NOT_MEASURABLE = "*not a measurable claim*"


@dataclass(frozen=True)
class Unmeasurable:
    """A statement of the seed's table that no measurement can decide, and why."""

    row: str
    family: str
    text: str
    reason: str


UNMEASURABLE = (
    Unmeasurable(
        OVERVIEW,
        "all",
        "what each family is (its definition)",
        "a definition: `src/seqbench/models` implements each family as defined",
    ),
    Unmeasurable(
        CHARACTERISTICS,
        "all",
        "the mechanism of each family (a hidden state carried step to step; the LSTM's cell and "
        "input, forget and output gates; the GRU's update and reset gates; self-attention)",
        "describes the architecture the model code implements; its consequences are the claims "
        "measured in this table",
    ),
    Unmeasurable(
        USE_CASES,
        "all",
        "the applications each family is listed for",
        "a list of applications, not a property; reports/comparison.md measures two of them "
        "(traffic forecasting, sentiment)",
    ),
    Unmeasurable(
        USE_CASES,
        "transformer",
        "Forms the backbone for models like BERT and GPT",
        "a fact about other models' history; the pre-trained MiniLM rows (a BERT-style encoder, "
        "profiles/pretrained.yaml) measure what such a backbone brings",
    ),
)

# The variants the seed names for each family (the "model variants" row), as the registry's
# ``variant`` labels; the Transformer's are judged against the encoder-only model.
SEED_VARIANTS = {
    "rnn": ("bidirectional", "stacked"),
    "lstm": ("bidirectional", "stacked", "peepholes"),
    "gru": ("bidirectional", "stacked"),
    "transformer": ("decoder-only", "encoder-decoder", "text-to-text"),
}


@dataclass(frozen=True)
class Link:
    """A file or figure a table row links, relative to the report."""

    name: str
    path: str


@dataclass(frozen=True)
class TableRow:
    row: str
    family: str
    claim: str
    evidence: str
    verdict: str
    figures: tuple[Link, ...] = ()
    sources: tuple[Link, ...] = ()


def _variant_row(
    family: str, variant: str, verdicts: list[VariantVerdict], sources: tuple[Link, ...]
) -> TableRow:
    """One named variant of ``family``: its verdict on every task where a row of it ran (against
    the vanilla row ``family``: the lab's family names are the vanilla rows' names)."""
    mine = [v for v in verdicts if v.variant == variant and v.base == family]
    claim = (
        f"{variant} variant (against {'encoder-only' if family == 'transformer' else 'vanilla'})"
    )
    if not mine:
        return TableRow(
            VARIANTS,
            family,
            claim,
            "no row of it in this run's comparison (`train.architectures`; profiles/full.yaml "
            "runs them all)",
            "not measured",
        )
    evidence = "; ".join(
        f"{v.task} {v.arch}: Δ {v.metric} {v.delta:+.4g} ± {v.delta_std:.2g}"
        + ("" if v.p_value is None else f", p = {v.p_value:.2g}")
        + ("" if v.seconds_ratio is None else f", {v.seconds_ratio:.2f}× s/epoch")
        for v in mine
    )
    outcomes = list(dict.fromkeys(v.verdict for v in mine))
    if len(outcomes) == 1:
        verdict = outcomes[0]
    else:
        verdict = "; ".join(
            f"{o} on {', '.join(v.task + ' ' + v.arch for v in mine if v.verdict == o)}"
            for o in outcomes
        )
    return TableRow(VARIANTS, family, claim, evidence, verdict, sources=sources)


def seed_table(
    verdicts: Sequence[Verdict],
    variants: list[VariantVerdict] | None,
    figures: dict[str, tuple[Link, ...]],
    sources: dict[str, tuple[Link, ...]],
) -> list[TableRow]:
    """Every row of the seed's table in its order: the claims' verdicts, the variants (when the
    comparison was read: ``variants`` not None) and the statements no measurement decides.
    ``figures`` and ``sources`` give the links of each evidence kind (and ``variants``)."""
    rows = []
    for v in verdicts:
        rows.append(
            TableRow(
                v.row,
                v.family,
                v.claim,
                v.evidence,
                v.verdict,
                tuple(f for k in v.kinds for f in figures.get(k, ())),
                tuple(s for k in v.kinds for s in sources.get(k, ())),
            )
        )
    if variants is not None:
        for family, names in SEED_VARIANTS.items():
            for name in names:
                rows.append(_variant_row(family, name, variants, sources.get("variants", ())))
    rows += [TableRow(u.row, u.family, u.text, u.reason, NOT_MEASURABLE) for u in UNMEASURABLE]
    order = {row: i for i, row in enumerate(SEED_ROWS)}
    return sorted(rows, key=lambda r: order[r.row])  # stable: the claims' order within a row


def _links(links: tuple[Link, ...]) -> str:
    return ", ".join(f"[{link.name}]({link.path})" for link in links) or "—"


def table_lines(rows: list[TableRow]) -> list[str]:
    """The markdown table (no cell contains '|')."""
    lines = [
        "| seed's row | family | claim | evidence | verdict | figure | from |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = r.verdict if r.verdict == NOT_MEASURABLE else f"**{r.verdict}**"
        lines.append(
            f"| {r.row} | {r.family} | {r.claim} | {r.evidence} | {verdict} | "
            f"{_links(r.figures)} | {_links(r.sources)} |"
        )
    return lines
