"""The seed's claims, each with a verdict computed from measured evidence (never written by hand).

Evidence is per task and family: the outcome of every seed at every length (``solved``,
``failed`` — the loss stayed near the trivial predictor's — or ``inconclusive``), from which the
**memory span** follows: the largest ``T`` solved by a majority of seeds. It is *exact* when a
majority clearly failed at every longer ``T`` of the grid, else only a lower bound. Gradient
evidence is the decay rate of ‖∂L/∂h_t‖ (decades per step) at initialization and after training.
Data evidence is each learning-curve row's loss of quality from all of its training data to the
smallest share of it (:class:`Curve`).

A verdict is ``holds``, ``does not hold``, ``holds only when …`` (with the condition), or
``inconclusive`` when the runs it would rest on neither solved nor clearly failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["solved", "failed", "inconclusive"]
HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class Span:
    """A family's memory span on one task: ``length`` (0: not even the shortest ``T``),
    ``exact`` when every longer ``T`` clearly failed, ``grid_max`` the longest ``T`` tried."""

    length: int
    exact: bool
    grid_max: int
    grid_min: int

    @property
    def full(self) -> bool:
        """Solved up to the longest ``T`` of the grid."""
        return self.length >= self.grid_max

    def text(self) -> str:
        if not self.length:
            where = f"none of T ≥ {self.grid_min}"
            return where if self.exact else f"{where} solved (not all clearly failed)"
        where = f"T = {self.length}"
        return where if self.exact or self.full else f"≥ {where} (longer T inconclusive)"


def memory_span(outcomes: dict[int, list[Outcome]]) -> Span:
    """The span from the seeds' outcomes at each length (see the module docstring)."""
    grid = sorted(outcomes)

    def majority(t: int, kind: Outcome) -> bool:
        return sum(o == kind for o in outcomes[t]) * 2 > len(outcomes[t])

    solved = [t for t in grid if majority(t, "solved")]
    length = max(solved, default=0)
    exact = all(majority(t, "failed") for t in grid if t > length)
    return Span(length, exact, grid[-1], grid[0])


@dataclass(frozen=True)
class Curve:
    """One row's curve on a real task: the primary ``metric``'s mean and std over seeds at each
    point (a share of the training split, 1.0 the main run; or a max_length, the longest the
    main run), ``higher`` when larger is better, and the mean training seconds per seed of the
    main run."""

    arch: str
    family: str
    metric: str
    means: dict[float, float]
    stds: dict[float, float]
    higher: bool
    seconds: float | None = None
    seeds: dict[float, int] = field(default_factory=dict)  # seeds behind each point

    @property
    def smallest(self) -> float:
        return min(self.means)

    @property
    def spread_known(self) -> bool:
        """Both points of :meth:`cost` rest on at least two seeds (else its std says nothing)."""
        return all(self.seeds.get(s, 0) >= 2 for s in (self.smallest, 1.0))

    def cost(self) -> tuple[float, float]:
        """What training on the smallest share costs against full data, in the metric's units
        (positive: worse), with its std (root sum of squares of the two points'; 0 for one
        seed)."""
        low, sign = self.smallest, 1.0 if self.higher else -1.0
        spread = math.hypot(self.stds.get(low, 0.0), self.stds.get(1.0, 0.0))
        return sign * (self.means[1.0] - self.means[low]), spread


@dataclass(frozen=True)
class Evidence:
    """What the verdicts read: spans by task and family, gradient decay rates by family
    (``init``/``trained``: decades per step), parameter counts at equal width by family, and
    by real task and architecture the learning curves and the curves against max_length."""

    spans: dict[str, dict[str, Span]]
    decay: dict[str, dict[str, float]] = field(default_factory=dict)
    params_at_width: dict[str, int] = field(default_factory=dict)
    learning: dict[str, dict[str, Curve]] = field(default_factory=dict)
    lengths: dict[str, dict[str, Curve]] = field(default_factory=dict)  # by max_length
    cost: dict[str, dict[str, Any]] = field(default_factory=dict)  # claims_cost by family
    convergence: dict[str, Any] = field(default_factory=dict)  # task -> TimeToTarget


# The rows of the seed's table (its columns are the four families).
OVERVIEW, CHARACTERISTICS, ADVANTAGES = "overview", "key characteristics", "advantages"
DISADVANTAGES, USE_CASES, VARIANTS = "disadvantages", "use cases", "model variants"
SEED_ROWS = (OVERVIEW, CHARACTERISTICS, ADVANTAGES, DISADVANTAGES, USE_CASES, VARIANTS)

# What a verdict rests on: the measurement whose files and figure the report links.
EvidenceKind = Literal[
    "spans", "gradients", "parameters", "cost", "learning", "lengths", "convergence"
]


@dataclass(frozen=True)
class Verdict:
    family: str
    claim: str
    verdict: str
    evidence: str
    row: str = ADVANTAGES  # the seed table's row that states the claim
    kinds: tuple[str, ...] = ()  # the measurements it rests on (EvidenceKind)


@dataclass(frozen=True)
class Claim:
    """One claim of the seed's table about ``family``, stated in its ``row``, judged from the
    measurements ``kinds``; ``needs`` the families it compares with.
    ``on_spans`` false: judged from the real tasks' learning curves, not the synthetic lab (it
    always gets a verdict, ``inconclusive`` when nothing was measured)."""

    family: str
    text: str
    judge: Callable[[Evidence], tuple[str, str]]
    row: str
    kinds: tuple[EvidenceKind, ...]
    needs: tuple[str, ...] = ()
    on_spans: bool = True


def _spans(ev: Evidence, family: str) -> str:
    return "; ".join(f"{task}: {spans[family].text()}" for task, spans in ev.spans.items())


def _per_task(
    ev: Evidence, family: str, test: Callable[[dict[str, Span]], bool | None], label: str
) -> tuple[str, str]:
    """``holds`` when ``test`` holds on every task, ``holds only on …`` on some, ``does not
    hold`` on none; ``inconclusive`` if any task's test is undecided (None)."""
    results = {task: test(spans) for task, spans in ev.spans.items()}
    evidence = f"{label} ({_spans(ev, family)})"
    if any(r is None for r in results.values()):
        return INCONCLUSIVE, evidence
    yes = [t for t, r in results.items() if r]
    if len(yes) == len(results):
        return HOLDS, evidence
    if not yes:
        return FAILS, evidence
    return f"holds only on {', '.join(yes)}", evidence


def _shorter(a: Span, b: Span) -> bool | None:
    """Is span ``a`` shorter than ``b``? None when a lower bound leaves it open."""
    if a.length < b.length:
        return True if a.exact else None
    return False if b.exact or b.full or a.full else None


def _limited(ev: Evidence, family: str) -> tuple[str, str]:
    def test(spans: dict[str, Span]) -> bool | None:
        span = spans[family]
        if span.full:
            return False
        return True if span.exact else None

    return _per_task(ev, family, test, "span below the longest T")


def _vanishing(ev: Evidence, family: str, gated: tuple[str, ...]) -> tuple[str, str]:
    rates = ev.decay.get("init", {})
    if family not in rates or not all(g in rates for g in gated):
        return INCONCLUSIVE, "no gradient measurement"
    faster = all(rates[family] > rates[g] for g in gated)
    numbers = ", ".join(f"{f} {rates[f]:.3g}" for f in (family, *gated))
    verdict, spans = _limited(ev, family)
    evidence = f"decay at init (decades/step): {numbers}; {spans}"
    if verdict == INCONCLUSIVE:
        return INCONCLUSIVE, evidence
    if faster and verdict == HOLDS:
        return HOLDS, evidence
    if faster:
        return (
            "holds only for the gradient (the memory span is not limited on every task)",
            evidence,
        )
    if verdict == HOLDS:
        return "holds only for long-term dependencies (its gradient decays no faster)", evidence
    return FAILS, evidence


def _up_to_span(ev: Evidence, family: str, verdict: str) -> str:
    """A claim that holds on every task becomes ``holds only when T ≤ span`` where the family
    stops short of the grid's longest T (its shortest span over the tasks)."""
    longest = min(s[family].length for s in ev.spans.values())
    if verdict == HOLDS and longest and not all(s[family].full for s in ev.spans.values()):
        return f"holds only when T ≤ {longest}"
    return verdict


def _short_sequences(ev: Evidence, family: str) -> tuple[str, str]:
    """Solves the synthetic tasks' shortest T; on real text (where measured), keeps up with
    the best other row at short max_length (see :func:`_short_text`)."""

    def test(spans: dict[str, Span]) -> bool | None:
        span = spans[family]
        if span.length >= span.grid_min:
            return True
        return False if span.exact else None  # the shortest T clearly failed, or is open

    verdict, evidence = _per_task(ev, family, test, "solves the shortest T")
    verdict = _up_to_span(ev, family, verdict)
    text = _short_text(ev, family)
    if text is None:
        return verdict, evidence
    verdicts = {"synthetic": verdict, **text[0]}
    if len(set(verdicts.values())) > 1:
        verdict = "; ".join(f"{where}: {v}" for where, v in verdicts.items())
    return verdict, f"{evidence} — {text[1]}"


def _short_text(ev: Evidence, arch: str) -> tuple[dict[str, str], str] | None:
    """Per real text task, where ``arch`` keeps up with the best other row (its shortfall
    within the two points' combined std, each on at least 2 seeds): ``holds`` at every
    max_length, ``holds only when max_length ≤ L`` at the short end, ``does not hold`` when it
    falls behind at the shortest; None when no task measured ``arch`` beside another row."""
    verdicts, parts = {}, []
    for task, curves in ev.lengths.items():
        if arch not in curves or len(curves) < 2:
            continue
        mine, sign = curves[arch], 1.0 if curves[arch].higher else -1.0
        keeps_up: list[bool | None] = []
        cells = []
        for length in sorted(mine.means):
            others = {a: c for a, c in curves.items() if a != arch and length in c.means}
            best = max(others, key=lambda a: sign * others[a].means[length])
            theirs = others[best]
            gap = sign * (theirs.means[length] - mine.means[length])  # > 0: arch behind
            noise = math.hypot(mine.stds.get(length, 0.0), theirs.stds.get(length, 0.0))
            known = min(mine.seeds.get(length, 0), theirs.seeds.get(length, 0)) >= 2
            keeps_up.append((gap <= noise) if known else None)
            cells.append(
                f"{length:g}: {mine.means[length]:.4g} against {best} {theirs.means[length]:.4g}"
            )
        parts.append(f"{task} {mine.metric} at max_length " + ", ".join(cells))
        lengths = sorted(mine.means)
        if any(k is None for k in keeps_up):
            verdicts[task] = INCONCLUSIVE
        elif all(keeps_up):
            verdicts[task] = HOLDS
        elif keeps_up[0] and keeps_up == sorted(keeps_up, reverse=True):
            verdicts[task] = f"holds only when max_length ≤ {lengths[keeps_up.index(False) - 1]:g}"
        else:
            verdicts[task] = FAILS
    if not verdicts:
        return None
    note = " (keeping up: behind the best other row by at most the combined std, 2+ seeds)"
    return verdicts, "; ".join(parts) + note


def _long_term(ev: Evidence, family: str, than: str) -> tuple[str, str]:
    """Remembers longer than ``than`` (the plain RNN) on every task, up to the grid's end?"""

    def test(spans: dict[str, Span]) -> bool | None:
        return _shorter(spans[than], spans[family])

    verdict, evidence = _per_task(ev, family, test, f"span longer than {than}'s")
    return _up_to_span(ev, family, verdict), evidence


def _mitigates(ev: Evidence, family: str, than: str) -> tuple[str, str]:
    stages = [s for s in ("init", "trained") if family in ev.decay.get(s, {})]
    if not stages or any(than not in ev.decay[s] for s in stages):
        return INCONCLUSIVE, "no gradient measurement"
    slower = {s: ev.decay[s][family] < ev.decay[s][than] for s in stages}
    evidence = "; ".join(
        f"decay {s} (decades/step): {family} {ev.decay[s][family]:.3g}, {than} "
        f"{ev.decay[s][than]:.3g}"
        for s in stages
    )
    if all(slower.values()):
        return HOLDS, evidence
    if any(slower.values()):
        when = next(s for s, v in slower.items() if v)
        return f"holds only {'at initialization' if when == 'init' else 'after training'}", evidence
    return FAILS, evidence


def _retains(ev: Evidence, family: str, like: str) -> tuple[str, str]:
    def test(spans: dict[str, Span]) -> bool | None:
        shorter = _shorter(spans[family], spans[like])
        return None if shorter is None else not shorter

    verdict, evidence = _per_task(ev, family, test, f"span at least {like}'s")
    params = ev.params_at_width
    if family in params and like in params:
        simpler = params[family] < params[like]
        evidence += f"; parameters at equal width: {family} {params[family]}, {like} {params[like]}"
        if not simpler and verdict != INCONCLUSIVE:
            verdict = FAILS
    return verdict, evidence


def _weaker_somewhere(ev: Evidence, family: str, than: str) -> tuple[str, str]:
    results = {t: _shorter(s[family], s[than]) for t, s in ev.spans.items()}
    evidence = f"spans: {family} ({_spans(ev, family)}); {than} ({_spans(ev, than)})"
    if any(r for r in results.values()):
        return f"holds (on {', '.join(t for t, r in results.items() if r)})", evidence
    if any(r is None for r in results.values()):
        return INCONCLUSIVE, evidence
    return FAILS, evidence


def _no_recurrence(ev: Evidence, family: str) -> tuple[str, str]:
    def test(spans: dict[str, Span]) -> bool | None:
        return spans[family].full

    return _per_task(ev, family, test, "solves the longest T")


def _data_hungry(ev: Evidence, arch: str) -> tuple[str, str]:
    """Does ``arch`` (trained from scratch) lose more from full data to the smallest share than
    each other row measured on the same task? A difference within one combined std decides
    nothing. ``holds`` against every other row, ``holds only against …`` some, ``does not
    hold`` when it clearly loses less than every other row."""
    results: dict[str, bool | None] = {}
    parts = []
    for task, curves in ev.learning.items():
        if arch not in curves or len(curves) < 2:
            continue
        mine, noise = curves[arch].cost()
        low = curves[arch].smallest
        costs = []
        for other, curve in curves.items():
            cost, spread = curve.cost()
            seconds = f", {curve.seconds:.3g} s per seed at full data" if curve.seconds else ""
            costs.append(f"{other} ({curve.family}) {cost:+.3g} ± {spread:.2g}{seconds}")
            if other != arch:
                gap, both = mine - cost, math.hypot(noise, spread)
                known = curves[arch].spread_known and curve.spread_known
                decided = True if gap > both else False if gap < -both else None
                results[f"{other} on {task}"] = decided if known else None
        metric = curves[arch].metric
        parts.append(
            f"{task}, {metric} lost from all to {low:g} of the training data: " + "; ".join(costs)
        )
    if not results:
        return INCONCLUSIVE, f"no learning curves of {arch} beside another row (learning.*)"
    evidence = " — ".join(parts)  # a markdown table cell: no '|'
    if any(not c.spread_known for curves in ev.learning.values() for c in curves.values()):
        evidence += " (a point on fewer than 2 seeds decides nothing)"
    hungrier = [k for k, r in results.items() if r]
    if len(hungrier) == len(results):
        return HOLDS, evidence
    if hungrier:
        return f"holds only against {', '.join(hungrier)}", evidence
    if all(r is False for r in results.values()):
        return FAILS, evidence
    return INCONCLUSIVE, evidence


RECURRENT = ("rnn", "lstm", "gru")
MEMORY_GAP = 0.15  # exponents closer than this are the same growth


def _cost_missing(ev: Evidence, families: tuple[str, ...]) -> str | None:
    missing = [f for f in families if f not in ev.cost]
    return f"no cost measurement of {', '.join(missing)} (claims_cost)" if missing else None


def _device(ev: Evidence) -> str:
    return next(iter(ev.cost.values())).get("device", "cpu")


def _points(ev: Evidence, family: str, key: str) -> tuple[list[int], list[float]]:
    points = ev.cost[family]["points"]
    return [int(p["length"]) for p in points], [float(p[key]) for p in points]


def _width(ev: Evidence, family: str, key: str) -> float:
    return float(ev.cost[family]["equal_width"][key])


def _simple(ev: Evidence) -> tuple[str, str]:
    """The RNN's structure against the gated families': parameters at one shared width."""
    params = ev.params_at_width
    if not all(f in params for f in RECURRENT):
        return INCONCLUSIVE, "no parameter counts at equal width"
    ratios = ", ".join(f"{f} {params[f] / params['rnn']:.2f}×" for f in ("gru", "lstm"))
    evidence = (
        f"parameters at equal width: rnn {params['rnn']}; {ratios} (one weight block against "
        "the GRU's 3 and the LSTM's 4)"
    )
    return (HOLDS if params["rnn"] < min(params["gru"], params["lstm"]) else FAILS), evidence


def _dearer(ev: Evidence, family: str, than: str) -> tuple[str, str]:
    """``family`` costs more than ``than`` at equal width: FLOPs per sequence and measured step
    time (on the cost stage's device)."""
    missing = _cost_missing(ev, (family, than))
    if missing:
        return INCONCLUSIVE, missing
    flops = _width(ev, family, "flops_per_sequence") / _width(ev, than, "flops_per_sequence")
    time = _width(ev, family, "step_seconds") / _width(ev, than, "step_seconds")
    width = ev.cost[family]["equal_width"]
    evidence = (
        f"at width {width['hidden_size']}, T = {width['length']}: FLOPs {flops:.2f}× {than}'s, "
        f"step time {time:.2f}× on {_device(ev)}"
    )
    if flops > 1 and time > 1:
        return HOLDS, evidence
    if flops > 1:
        return f"holds only in FLOPs (faster per step on {_device(ev)})", evidence
    return FAILS, evidence


def _fewer_parameters(ev: Evidence) -> tuple[str, str]:
    """The GRU against the LSTM: parameters at equal width, then training time, from the real
    tasks' time to a common validation target where measured (else the step time at equal
    width)."""
    missing = _cost_missing(ev, ("gru", "lstm"))
    if missing:
        return INCONCLUSIVE, missing
    params = _width(ev, "gru", "parameters") / _width(ev, "lstm", "parameters")
    time = _width(ev, "gru", "step_seconds") / _width(ev, "lstm", "step_seconds")
    device = _device(ev)
    evidence = (
        f"at equal width: parameters {params:.2f}× the LSTM's, step time {time:.2f}× on {device}"
    )
    tasks = {t: c for t, c in ev.convergence.items() if "gru" in c.seconds and "lstm" in c.seconds}
    for task, c in tasks.items():
        evidence += (
            f"; {task}: time to {c.monitor} {c.target:.4g} gru {c.seconds['gru']:.3g} s, "
            f"lstm {c.seconds['lstm']:.3g} s"
        )
    if params >= 1:
        return FAILS, evidence
    if tasks:
        faster = [t for t, c in tasks.items() if c.seconds["gru"] < c.seconds["lstm"]]
        if len(faster) == len(tasks):
            return HOLDS, evidence
        if faster:
            return f"holds only on {', '.join(faster)}", evidence
    elif time < 1:
        return HOLDS, evidence
    if device == "cpu":
        evidence += (
            " (on the CPU nn.LSTM runs one fused oneDNN kernel, seqbench's GRU a TorchScript "
            "loop of per-step GEMMs with a hand-written backward; cuDNN fuses both on a GPU)"
        )
    return "holds only for parameters", evidence


def _gating_slower(ev: Evidence) -> tuple[str, str]:
    missing = _cost_missing(ev, RECURRENT)
    if missing:
        return INCONCLUSIVE, missing
    base = _width(ev, "rnn", "step_seconds")
    ratios = {f: _width(ev, f, "step_seconds") / base for f in ("lstm", "gru")}
    evidence = (
        "step time at equal width against the RNN's: "
        + ", ".join(f"{f} {r:.2f}×" for f, r in ratios.items())
        + f" on {_device(ev)}"
    )
    slower = [f for f, r in ratios.items() if r > 1]
    if len(slower) == 2:
        return HOLDS, evidence
    return (f"holds only for {slower[0]}" if slower else FAILS), evidence


def _parallel(ev: Evidence) -> tuple[str, str]:
    """Sequential steps of one forward pass against T: constant for attention, growing with T
    for every recurrent family."""
    missing = _cost_missing(ev, ("transformer", *RECURRENT))
    if missing:
        return INCONCLUSIVE, missing
    lengths, mine = _points(ev, "transformer", "sequential_steps")
    others = {f: _points(ev, f, "sequential_steps")[1] for f in RECURRENT}
    evidence = (
        f"sequential steps at T = {lengths[0]} → {lengths[-1]}: "
        f"transformer {mine[0]:g} → {mine[-1]:g}; "
        + ", ".join(f"{f} {v[0]:g} → {v[-1]:g}" for f, v in others.items())
    )
    constant = mine[0] == mine[-1]
    growing = all(v[-1] > v[0] for v in others.values())
    return (HOLDS if constant and growing else FAILS), evidence


def _faster_training(ev: Evidence) -> tuple[str, str]:
    """Tokens/s at equal parameters against every recurrent family, at each T, on the device
    measured: ``holds`` faster everywhere, ``holds only when T ≤ …`` at the short end."""
    missing = _cost_missing(ev, ("transformer", *RECURRENT))
    if missing:
        return INCONCLUSIVE, missing
    lengths, mine = _points(ev, "transformer", "tokens_per_second")
    faster = [
        all(m > _points(ev, f, "tokens_per_second")[1][i] for f in RECURRENT)
        for i, m in enumerate(mine)
    ]
    device = _device(ev)
    evidence = (
        f"tokens/s on {device} at T = {lengths[0]}, {lengths[-1]}: "
        f"transformer {mine[0]:.3g}, {mine[-1]:.3g}; "
        + ", ".join(
            f"{f} {v[0]:.3g}, {v[-1]:.3g}"
            for f in RECURRENT
            for v in [_points(ev, f, "tokens_per_second")[1]]
        )
    )
    if all(faster):
        return HOLDS, evidence
    if not any(faster):
        return FAILS, evidence
    upto = [t for t, ok in zip(lengths, faster, strict=True) if ok]
    if upto == lengths[: len(upto)]:
        return f"holds only when T ≤ {upto[-1]}", evidence
    if upto == lengths[-len(upto) :]:
        return f"holds only when T ≥ {upto[0]}", evidence
    return f"holds only at T ∈ {{{', '.join(map(str, upto))}}}", evidence


def _memory_intensive(ev: Evidence) -> tuple[str, str]:
    """Bytes saved for backward per sequence: a steeper power of T than every recurrent
    family's, and the first T from which attention saves more than each."""
    missing = _cost_missing(ev, ("transformer", *RECURRENT))
    if missing:
        return INCONCLUSIVE, missing
    from seqbench.claims.cost import crossover

    lengths, mine = _points(ev, "transformer", "saved_bytes_per_sequence")
    exps = {f: float(ev.cost[f]["memory_exponent"]) for f in ("transformer", *RECURRENT)}
    above = {}
    for f in RECURRENT:
        theirs = _points(ev, f, "saved_bytes_per_sequence")[1]
        above[f] = (
            "always"
            if all(m > o for m, o in zip(mine, theirs, strict=True))
            else crossover(lengths, mine, theirs)
        )
    evidence = "memory exponents (saved bytes ∝ T^k): " + ", ".join(
        f"{f} {k:.2f}" for f, k in exps.items()
    )
    evidence += "; attention saves more from " + ", ".join(
        f"{f}: {'every T' if a == 'always' else 'never' if a is None else f'T = {a}'}"
        for f, a in above.items()
    )
    steeper = all(exps["transformer"] - exps[f] > MEMORY_GAP for f in RECURRENT)
    if not steeper:
        return FAILS, evidence
    return HOLDS, evidence


CLAIMS: list[Claim] = [
    Claim(
        "rnn",
        "Suffers from the vanishing and exploding gradient problem, making it hard to learn "
        "long-term dependencies",
        lambda ev: _vanishing(ev, "rnn", ("lstm", "gru")),
        DISADVANTAGES,
        ("gradients", "spans"),
        needs=("lstm", "gru"),
    ),
    Claim("rnn", "Limited memory span", lambda ev: _limited(ev, "rnn"), DISADVANTAGES, ("spans",)),
    Claim("rnn", "Simple structure", _simple, ADVANTAGES, ("parameters",), on_spans=False),
    Claim(
        "rnn",
        "Suitable for tasks with short sequences",
        lambda ev: _short_sequences(ev, "rnn"),
        ADVANTAGES,
        ("spans", "lengths"),
    ),
    Claim(
        "lstm",
        "Can capture and remember long-term dependencies in data",
        lambda ev: _long_term(ev, "lstm", "rnn"),
        ADVANTAGES,
        ("spans",),
        needs=("rnn",),
    ),
    Claim(
        "lstm",
        "Mitigates the vanishing gradient problem of RNNs",
        lambda ev: _mitigates(ev, "lstm", "rnn"),
        ADVANTAGES,
        ("gradients",),
        needs=("rnn",),
    ),
    Claim(
        "lstm",
        "More computationally intensive than RNNs",
        lambda ev: _dearer(ev, "lstm", "rnn"),
        DISADVANTAGES,
        ("cost",),
        on_spans=False,
    ),
    Claim(
        "gru",
        "Fewer parameters than LSTM, often leading to faster training times",
        _fewer_parameters,
        ADVANTAGES,
        ("cost", "convergence"),
        on_spans=False,
    ),
    Claim(
        "gru",
        "Complexity can lead to longer training times (said of LSTM/GRU gating)",
        _gating_slower,
        DISADVANTAGES,
        ("cost",),
        on_spans=False,
    ),
    Claim(
        "gru",
        "Simplified structure while retaining the ability to capture long-term dependencies",
        lambda ev: _retains(ev, "gru", "lstm"),
        ADVANTAGES,
        ("spans", "parameters"),
        needs=("lstm",),
    ),
    Claim(
        "gru",
        "Might not capture long-term dependencies as effectively as LSTM in some tasks",
        lambda ev: _weaker_somewhere(ev, "gru", "lstm"),
        DISADVANTAGES,
        ("spans",),
        needs=("lstm",),
    ),
    Claim(
        "transformer",
        "Can capture long-range dependencies without relying on recurrence",
        lambda ev: _no_recurrence(ev, "transformer"),
        ADVANTAGES,
        ("spans",),
    ),
    Claim(
        "transformer",
        "Processes data in parallel rather than sequentially",
        _parallel,
        CHARACTERISTICS,
        ("cost",),
        on_spans=False,
    ),
    Claim(
        "transformer",
        "Highly parallelizable, leading to faster training on suitable hardware",
        _faster_training,
        ADVANTAGES,
        ("cost",),
        on_spans=False,
    ),
    Claim(
        "transformer",
        "Can be memory-intensive due to the attention mechanism, especially for long sequences",
        _memory_intensive,
        DISADVANTAGES,
        ("cost",),
        on_spans=False,
    ),
    Claim(
        "transformer",
        "Requires a large amount of data and computing power for training",
        lambda ev: _data_hungry(ev, "transformer"),
        DISADVANTAGES,
        ("learning",),
        on_spans=False,
    ),
]


def judge(evidence: Evidence, claims: list[Claim] = CLAIMS) -> list[Verdict]:
    """Every claim whose families were measured, with its verdict and the numbers behind it."""
    spans = [set(s) for s in evidence.spans.values()]
    measured = set.intersection(*spans) if spans else set()
    out = []
    for claim in claims:
        if claim.on_spans and not {claim.family, *claim.needs} <= measured:
            continue
        verdict, text = claim.judge(evidence)
        out.append(Verdict(claim.family, claim.text, verdict, text, claim.row, claim.kinds))
    return out
