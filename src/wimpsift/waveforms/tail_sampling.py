"""Importance sampling of background tails: stratified waveform-level simulation.

Why. A classifier that rejects 99.8 % of a background at 50 % WIMP acceptance lets
through the events of that background's *tail* that look like nuclear recoils: ER
events with a large recombination fluctuation (few electrons for their quanta), or
external gammas that scatter once deep inside the detector. Simulated in proportion to
their rate, such events number a handful among thousands, so a classifier never learns
the band edge and the leakage measured on them has large errors. A source with a soft
spectrum fares alike: a few per mille of ⁸B CEvNS events reach the analysis window
(``wimpsift rates`` gives the share, ``efficiency``), so plain simulation renders
hundreds of events per window event. The standard way to
measure leakage with limited simulation is to simulate the tail preferentially and
weight every event so that every expected count stays unbiased (stratified sampling
with Horvitz–Thompson weights). It is hand-written here because it is a few lines on
top of the project's own event generation (no library draws waveform events).

How, per chunk of a source:

1. **Candidates** at truth level: :func:`~wimpsift.waveforms.event.source_interactions`
   (positions, topology, NEST quanta) for ``n_candidates`` events, the same call the
   unstratified simulation makes. This is cheap (about 15 µs per ER event and 35 µs per
   external-gamma event, against 4–6 ms to render and process a waveform).
2. **Tail rank** ``q`` of each candidate, in (0, 1), 0 the most NR-like, or the most
   likely to reach the window (:func:`tail_rank`):

   - ``recombination`` (ER): the event's electron fraction n_e / (n_ph + n_e), ranked
     among candidates of similar total quanta (:data:`QUANTA_BINS` bins of equal
     count): its recombination fluctuation relative to the median at that energy. Few
     electrons for the quanta is what puts an ER event below the NR median in cS2;
   - ``depth`` (external gammas): the distance of the event's main charge interaction
     (the one that makes the largest S2 and sets the reconstructed position) from the
     nearest surface of the TPC (wall, gate, cathode), deepest first;
   - ``brightness`` (CEvNS): the event's expected cS1 (photons × g1, summed over
     interactions, :func:`expected_cs1_pe`), brightest first. For a source whose
     window events are the rare upward fluctuations of a soft spectrum (⁸B CEvNS:
     hardly any event expects the window's 3 PE; of the brightest 0.3 %, expecting
     1.7 PE or more, a tenth fluctuate up into the window, of the dimmest 75 % none),
     brightness is what puts an event into the window, and plain simulation renders
     almost only events that cannot reach it (its ``above_window`` stratum, step 3, is
     then empty).

3. **Strata**: ``above_window``, candidates whose expected cS1 (photons × g1, summed
   over interactions) exceeds
   :data:`ABOVE_WINDOW_FACTOR` × the window's largest cS1, which rarely reach the
   analysis window; then the tail bins ``q`` in [0, e₁), [e₁, e₂), ..., [e_k, 1) of
   :attr:`TailStrata.edges`. Each stratum s with N_s candidates gets
   k_s = min(N_s, round(share_s × n_render)) events, a simple random sample without
   replacement (``share_s`` of :class:`TailStrata`; the tail strata hold a far larger
   share of the rendered events than of the candidates). ER (``recombination``,
   :data:`RECOMBINATION_STRATA`) is stratified in expected cS1 too: candidates expecting
   less than 10 PE have tail strata of their own, with 34 % of the rendered events for
   about 10 % of the candidates. Near threshold the detection's own fluctuations (a few
   detected photons) outweigh recombination's, so the truth-level rank says little
   there, and a classifier that keeps the WIMP-rich region at low cS1 lets through ER
   events of ordinary recombination: in a quick run (seed 1, 2026-12-02, 16000 ER test
   events) 24 of the binary CNN's 150 passing ER events came from the two strata of
   q ≥ 0.05, with weights 0.009–0.015 each, and carried 0.28 of its 0.34 expected ER
   events; 20 of those 24 had cS1 below 10 PE. The standard selection's passing ER
   events are elsewhere: 186 of 194 from the q < 0.05 strata (0.054 expected events),
   8 from the q 0.05–0.25 stratum at cS1 30 PE on average (0.073). With these strata
   (three quick runs, 2026-12-02) the CNNs' passing ER events near threshold weigh
   0.002–0.005 each, but the heaviest ones are now bulk events above 10 PE (up to 0.022),
   and the effective number of the binary CNN's passing ER events stayed at 30–38 (33
   before): the change spreads the test events, it does not by itself tighten that
   estimate.
4. **Weights**: each rendered event carries the factor N_s / k_s; the caller multiplies
   it by the expected events per *candidate* (expected count / all candidates drawn,
   over every chunk). For any event property f, Σ_rendered weight × f is then an
   unbiased estimate of the expected count with property f (each stratum's sample mean
   is unbiased for its candidates' mean; the strata partition the candidates). An
   empty stratum (N_s = 0) contributes nothing, as it should.

Only sources with a physical rate (expected count = rate × mass × live time) can be
stratified: the data-driven ones are normalised by their events in the window, which
the weights already are. The training and test sets, and every classifier (the
standard selection included), see the same weighted events, so every comparison is on
equal footing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.seeding import SeedLike, generator
from wimpsift.sources import Source
from wimpsift.sources.interactions import InteractionList
from wimpsift.sources.positions import Volume
from wimpsift.waveforms.event import WaveformEvents, interaction_waveforms, source_interactions

TailVariable = Literal["recombination", "depth", "brightness"]
QUANTA_BINS = 20
"""bins of equal candidate count in total quanta, inside which the electron fraction is
ranked"""
ABOVE_WINDOW_FACTOR = 1.4
"""candidates whose expected cS1 exceeds this × the window's largest cS1 form the
``above_window`` stratum (about 4 standard deviations of the cS1's fluctuation at the
window's edge: few of them reach the window, and they keep their weight when they do)"""
ABOVE_WINDOW = "above_window"


@dataclass(frozen=True)
class TailStrata:
    """Strata in the tail rank q (0 = most NR-like) and each one's share of the
    rendered events; ``above_window_share`` for the ``above_window`` stratum."""

    edges: tuple[float, ...] = (0.003, 0.01, 0.05, 0.25)
    shares: tuple[float, ...] = (0.15, 0.15, 0.15, 0.15, 0.37)
    above_window_share: float = 0.03
    low_cs1_pe: float | None = None
    """with a value, candidates whose expected cS1 is below it form tail strata of their
    own (the same edges in q), with ``low_shares`` (module, step 3)"""
    low_shares: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.edges) + 1:
            raise ValueError("TailStrata: expected one share per tail stratum "
                             f"({len(self.edges) + 1}), got {len(self.shares)}")
        if list(self.edges) != sorted(self.edges) or not all(0 < e < 1 for e in self.edges):
            raise ValueError("TailStrata: edges must increase inside (0, 1)")
        if self.low_cs1_pe is not None and (self.low_cs1_pe <= 0 or len(self.low_shares)
                                            != len(self.edges) + 1):
            raise ValueError("TailStrata: low_cs1_pe must be positive, with one low share "
                             f"per tail stratum ({len(self.edges) + 1}), got "
                             f"{len(self.low_shares)}")

    def names(self) -> list[str]:
        """The strata: the tail strata, those of the low-cS1 candidates (with
        ``low_cs1_pe``), then ``above_window``; a stratum's label is its index here."""
        bounds = [0.0, *self.edges, 1.0]
        tail = [f"q {a:g}-{b:g}" for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        low = ([] if self.low_cs1_pe is None
               else [f"{name}, expected cS1 < {self.low_cs1_pe:g} PE" for name in tail])
        return [*tail, *low, ABOVE_WINDOW]

    def all_shares(self) -> list[float]:
        """Each stratum's share of the rendered events, in the order of :meth:`names`."""
        low = [] if self.low_cs1_pe is None else list(self.low_shares)
        return [*self.shares, *low, self.above_window_share]


RECOMBINATION_STRATA = TailStrata(shares=(0.11, 0.11, 0.11, 0.10, 0.20), low_cs1_pe=10.0,
                                  low_shares=(0.02, 0.03, 0.05, 0.08, 0.16))
"""the ER strata: below 10 PE of expected cS1 a third of the rendered events go to a tenth
of the candidates, the strata of ordinary recombination there (q ≥ 0.05) sampled about
three and four times more densely than with :class:`TailStrata`'s defaults (module,
step 3)"""


def default_strata(variable: TailVariable | None) -> TailStrata:
    """The strata a tail variable is sampled with (:data:`RECOMBINATION_STRATA` for
    ``recombination``, else :class:`TailStrata`'s defaults)."""
    return RECOMBINATION_STRATA if variable == "recombination" else TailStrata()


@dataclass
class StratifiedDraw:
    """Which candidates are rendered, with their sampling factor N_s / k_s and stratum."""

    index: np.ndarray
    factor: np.ndarray
    stratum: np.ndarray
    candidates: np.ndarray
    """N_s per stratum (the names of :meth:`TailStrata.names`)"""
    kept: np.ndarray
    """k_s per stratum"""
    strata: TailStrata = field(default_factory=TailStrata)


def select_events(it: InteractionList, index: np.ndarray) -> InteractionList:
    """The interactions of events ``index`` (sorted), renumbered 0..len(index)-1."""
    index = np.asarray(index, dtype=np.int64)
    rows = np.isin(it.event, index)
    renumber = np.searchsorted(index, it.event[rows])
    return InteractionList(
        event=renumber.astype(np.int64), recoil_type=it.recoil_type[rows],
        x_cm=it.x_cm[rows], y_cm=it.y_cm[rows], z_cm=it.z_cm[rows], t_ns=it.t_ns[rows],
        n_photons=it.n_photons[rows], n_electrons=it.n_electrons[rows],
        energy_kev=it.energy_kev[rows],
        charge_kept=None if it.charge_kept is None else it.charge_kept[rows])


def _per_event(it: InteractionList, values: np.ndarray) -> np.ndarray:
    return np.bincount(it.event, weights=np.asarray(values, float), minlength=it.n_events)


def _rank(values: np.ndarray) -> np.ndarray:
    """Mid-ranks in (0, 1), ties broken by order (stable)."""
    order = np.argsort(values, kind="stable")
    q = np.empty(values.size)
    q[order] = (np.arange(values.size) + 0.5) / max(values.size, 1)
    return q


def _main_interaction(it: InteractionList) -> np.ndarray:
    """Row of each event's interaction with the most electrons (the first on ties)."""
    n = it.n_events
    order = np.lexsort((np.arange(len(it)), -it.n_electrons, it.event))
    first = np.searchsorted(it.event[order], np.arange(n))
    return order[first]


def tail_rank(detector: Detector, it: InteractionList, variable: TailVariable) -> np.ndarray:
    """Per event, its rank q in (0, 1) among the candidates, 0 the most NR-like (for
    ``brightness``, the brightest; module, step 2)."""
    n = it.n_events
    if variable == "recombination":
        electrons = _per_event(it, it.n_electrons)
        quanta = electrons + _per_event(it, it.n_photons)
        fraction = np.where(quanta > 0, electrons / np.maximum(quanta, 1), 0.5)
        q = np.empty(n)
        bins = np.array_split(np.argsort(quanta, kind="stable"), min(QUANTA_BINS, max(n, 1)))
        for rows in bins:
            q[rows] = _rank(fraction[rows])
        return q
    if variable == "depth":
        main = _main_interaction(it)
        g = detector.geometry
        r = np.hypot(it.x_cm[main], it.y_cm[main])
        z = it.z_cm[main]
        depth = np.minimum.reduce([g.tpc_radius_cm - r, -z, g.tpc_length_cm + z])
        return _rank(-depth)
    if variable == "brightness":
        return _rank(-expected_cs1_pe(detector, it))
    raise ValueError(f"variable: got {variable!r}, expected 'recombination', 'depth' or "
                     "'brightness'")


def expected_cs1_pe(detector: Detector, it: InteractionList) -> np.ndarray:
    """Per event, its mean cS1 (PE): Σ photons × g1 (the position correction undoes the
    light collection's variation)."""
    return _per_event(it, it.n_photons * detector.light.g1_pe_per_photon)


def stratify(detector: Detector, it: InteractionList, variable: TailVariable, n_render: int,
             rng: np.random.Generator, strata: TailStrata | None = None) -> StratifiedDraw:
    """Choose about ``n_render`` of the candidate events of ``it`` (module, steps 2–4)."""
    strata = strata or default_strata(variable)
    q = tail_rank(detector, it, variable)
    label = np.searchsorted(np.asarray(strata.edges), q, side="right")
    cs1 = expected_cs1_pe(detector, it)
    if strata.low_cs1_pe is not None:
        label[cs1 < strata.low_cs1_pe] += len(strata.edges) + 1
    shares = strata.all_shares()
    above = len(shares) - 1
    label[cs1 > ABOVE_WINDOW_FACTOR * detector.window.cs1_max_pe] = above
    index, factor, stratum = [], [], []
    candidates = np.bincount(label, minlength=above + 1)
    kept = np.zeros(above + 1, np.int64)
    for s, share in enumerate(shares):
        members = np.flatnonzero(label == s)
        k = int(min(members.size, max(round(share * n_render), 1 if members.size else 0)))
        if k == 0:
            continue
        chosen = np.sort(rng.choice(members, size=k, replace=False))
        kept[s] = k
        index.append(chosen)
        factor.append(np.full(k, members.size / k))
        stratum.append(np.full(k, s, np.int64))
    index_ = np.concatenate(index)
    order = np.argsort(index_, kind="stable")
    return StratifiedDraw(index_[order], np.concatenate(factor)[order],
                          np.concatenate(stratum)[order], candidates, kept, strata)


def stratified_waveform_events(detector: Detector, source: Source, variable: TailVariable,
                               n_candidates: int, n_render: int, seed: SeedLike,
                               volume: Volume = "active", chunk_index: int = 0,
                               strata: TailStrata | None = None
                               ) -> tuple[WaveformEvents, StratifiedDraw]:
    """``n_candidates`` candidate events of ``source`` at truth level, about
    ``n_render`` of them rendered as waveforms, tails preferred (module).

    The candidates are the events :func:`~wimpsift.waveforms.event.source_interactions`
    draws for (seed, chunk_index); the choice among them uses the stream
    ("tail_sampling", chunk_index) of ``seed``; the same arguments give the same events.
    """
    it = source_interactions(detector, source, int(n_candidates), seed, volume, chunk_index)
    draw = stratify(detector, it, variable, int(n_render),
                    generator(seed, "tail_sampling", int(chunk_index)), strata)
    events = interaction_waveforms(detector, select_events(it, draw.index), source.name,
                                   seed, None, chunk_index)
    return events, draw


__all__ = ["ABOVE_WINDOW", "RECOMBINATION_STRATA", "StratifiedDraw", "TailStrata", "TailVariable",
           "default_strata", "expected_cs1_pe", "select_events", "stratified_waveform_events",
           "stratify", "tail_rank"]
