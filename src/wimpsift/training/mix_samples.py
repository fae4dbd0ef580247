"""Training and test events of the WIMP against every background of a detector, with
their images (the events of `wimpsift reproduce cnn --backgrounds all`,
:mod:`wimpsift.pipelines.cnn_backgrounds`).

The WIMP and every background of the detector definition
(:func:`wimpsift.sources.source_names`; sources added to a detector file join
automatically) are simulated at waveform level with their topology
(:mod:`wimpsift.sources.topology`: neutron multiple scatters, accidental pairs, wall
events, ...) in the whole *active* volume, processed
(:func:`~wimpsift.processing.reconstruction.process_events`, with the topology columns
of :mod:`wimpsift.processing.topology`) and rendered as images of one kind
(``image_kind``, HitPeak by default). Only events in the analysis window *without* the
fiducial cut (S1 coincidence and S2 threshold, cS1 and S2 ranges) are kept. Each
source is simulated in chunks until ``n`` of its events are in that window, or until
``max_simulated_factor`` × ``n`` events were rendered (CEvNS from ⁸B rarely reaches
the window, even tail-sampled by brightness, below). Each event carries ``weight``, the
expected number of such events in the detector's exposure per simulated event
(:func:`~wimpsift.processing.background_mix.source_weight`, the rates of the detector
definition): the *expected mix*. Training and test sets are independent simulations
(different seeds); the training and test sets of each volume's background with the
largest expected count in the window (for XENON1T: ER in the fiducial volume, external
gammas in the active one) are larger, ``train_events_dominant`` and
``test_events_dominant``: a rejection of 99.8 % needs thousands of its events (ER
waveforms are the cheapest to simulate, about 4 ms per window event on one core).

**Importance sampling of the tails** (``tail_sampling``, default ER ranked by
recombination, external gammas by depth and CEvNS by brightness;
:mod:`wimpsift.waveforms.tail_sampling`). What a classifier lets through of these
backgrounds at 50 % WIMP acceptance is their NR-like tail: ER events with few electrons
for their quanta, external gammas scattering once deep inside. Simulated in proportion
to their rate, a few thousand ER events hold a handful of such events, so the networks
never learned the band edge (they leaked about 3× more ER than the standard selection,
measured 2026-12-02) and the leakage was measured on a few events. CEvNS from ⁸B, all
NR-like, has the window itself as its tail: a few per mille of its events reach it
(``wimpsift rates``, ``efficiency``; a dozen or so at the quick scale's render cap, too
few for a multi-class CNN class), so its
candidates are ranked by expected cS1 (photons × g1), brightest first (about 15× more
window events per rendered event, measured 2026-12-02). Each chunk of these
sources therefore draws ``tail_candidates_per_event`` × its size candidates at truth
level (positions, topology, NEST quanta; about 15 µs per event), ranks them by their
tail variable and renders a stratified subsample with the tail strata over-represented
(the most NR-like 0.3 % of candidates get 15 % of the rendered events; candidates far
above the window's cS1, 3 %). Every rendered event carries weight = (expected events
per candidate) × (its stratum's candidates / rendered): every expected count stays
unbiased (stratified sampling, Horvitz–Thompson weights — the standard way leakage is
measured with limited simulation), and the tail's events are many, with small weights,
so their counts have small errors. The training and the test sets go through the same
code, and every classifier, the standard selection included, is trained (weighted
losses, multi-class classes to equal total weight) and judged on the same weighted
events. ``tail_sampling={}`` gives back plain simulation.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wimpsift.cache import Cache
from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError
from wimpsift.execution import Executor, Task, in_process
from wimpsift.images.raster import ImageSettings, render_images
from wimpsift.processing.background_mix import SIGNAL, source_weight
from wimpsift.processing.reconstruction import ProcessedEvents, process_events
from wimpsift.processing.selection import in_window
from wimpsift.provenance import source_digest
from wimpsift.seeding import int_seed, seed_sequence
from wimpsift.sources import make_source, source_names
from wimpsift.sources.topology import expected_topology_events
from wimpsift.waveforms.event import simulate_waveform_events
from wimpsift.waveforms.tail_sampling import (
    TailVariable,
    default_strata,
    stratified_waveform_events,
)

if TYPE_CHECKING:
    from wimpsift.training.background_classifiers import AllBackgroundsSettings


@dataclass
class Mix:
    """Events of every source in the window of the active volume, with their images."""

    table: pd.DataFrame
    images: np.ndarray
    n_simulated: dict[str, int]
    weight_per_event: dict[str, float]
    """expected events per simulated event of each source (also for sources with no
    event in the window); for a tail-sampled source, that of its bulk stratum"""
    strata: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """per tail-sampled source, its strata: candidates, rendered, in the window, weight"""

    def drop(self, name: str) -> Mix:
        """The mix without source ``name``."""
        keep = (self.table["source"] != name).to_numpy()
        return Mix(self.table[keep].reset_index(drop=True), self.images[keep],
                   {k: v for k, v in self.n_simulated.items() if k != name},
                   {k: v for k, v in self.weight_per_event.items() if k != name},
                   {k: v for k, v in self.strata.items() if k != name})


def _window_any_volume(table: pd.DataFrame, detector: Detector) -> np.ndarray:
    return table["passes_threshold"].to_numpy(bool) & in_window(
        table["cs1_pe"].to_numpy(float), table["s2_area_pe"].to_numpy(float), detector,
        table["cs2_bottom_pe"].to_numpy(float))


def _with_derived(table: pd.DataFrame) -> pd.DataFrame:
    """Add the derived event variables (S2 width ratio, log10 of the second S2)."""
    expected = np.maximum(table["s2_width_expected_ns"].to_numpy(float), 1e-9)
    return table.assign(
        s2_width_ratio=table["s2_width_ns"].to_numpy(float) / expected,
        log10_s2_second_pe=np.log10(1.0 + np.clip(table["s2_second_area_pe"].to_numpy(float),
                                                   0, None)))


def _tail_variable(detector: Detector, source: Any, name: str,
                   settings: AllBackgroundsSettings | None) -> TailVariable | None:
    """The tail variable ``name`` is stratified on, None for plain simulation."""
    variable = None if settings is None else settings.tail_sampling.get(name)
    if variable is not None and expected_topology_events(detector, source, "active") is None:
        raise ConfigError(f"tail_sampling: source {name!r} is normalised by its events in "
                          "the window (data-driven); expected sources with a physical rate")
    return variable


def simulate_source(detector: Detector, name: str, n_window: int, seed: Any, kind: str,
                    max_factor: int, mass_gev: float, sigma_cm2: float | None,
                    settings: AllBackgroundsSettings | None = None
                    ) -> tuple[pd.DataFrame, np.ndarray, int, float, list[dict[str, Any]]]:
    """Window events of one source (table with ``weight``), their images, the number
    simulated, the weight per simulated event and the strata (empty unless the source
    is tail-sampled).

    With ``settings.tail_sampling`` naming this source, each chunk draws
    ``tail_candidates_per_event`` × its size candidates at truth level and renders a
    stratified subsample (:mod:`wimpsift.waveforms.tail_sampling`); ``weight`` is then
    the expected count per candidate × the event's sampling factor, the number simulated
    counts candidates, and the table carries ``tail_stratum`` and ``sampling_factor``.
    The weight per simulated event returned is that of the largest factor outside the
    ``above_window`` stratum (its empty-cell upper limit is conservative)."""
    source = (make_source(detector, name, mass_gev=mass_gev, sigma_cm2=sigma_cm2)
              if name == SIGNAL else make_source(detector, name))
    variable = _tail_variable(detector, source, name, settings)
    strata = default_strata(variable)
    n_strata = len(strata.names())
    cap = max_factor * n_window
    kept: list[ProcessedEvents] = []
    factors: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    candidates = np.zeros(n_strata, np.int64)
    rendered_per = np.zeros(n_strata, np.int64)
    window_per = np.zeros(n_strata, np.int64)
    in_fid_window, simulated, rendered, have, chunk = 0, 0, 0, 0, 0
    while have < n_window and rendered < cap:
        fraction = have / rendered if rendered else 1.0
        size = int(min(cap - rendered,
                       max(math.ceil(1.2 * (n_window - have) / max(fraction, 1 / max_factor)),
                           16)))
        if variable is None:
            raw = simulate_waveform_events(detector, source, size, seed, volume="active",
                                           chunk_index=chunk)
            factor, label, n_drawn = np.ones(len(raw)), np.full(len(raw), -1), size
        else:
            n_drawn = size * settings.tail_candidates_per_event
            raw, draw = stratified_waveform_events(detector, source, variable, n_drawn, size,
                                                   seed, "active", chunk, strata)
            factor, label = draw.factor, draw.stratum
            candidates += draw.candidates
            rendered_per += draw.kept
        processed = process_events(raw)
        processed.table["n_interactions"] = raw.truth["n_interactions"].to_numpy()
        processed.table["true_recoil_type"] = raw.truth["recoil_type"].to_numpy(object)
        processed.table["true_energy_kev"] = raw.truth["energy_kev"].to_numpy(float)
        window = _window_any_volume(processed.table, detector)
        in_fid_window += int(processed.table["in_window"].sum())
        kept.append(processed.select(window))
        factors.append(factor[window])
        labels.append(label[window])
        if variable is not None:
            window_per += np.bincount(label[window], minlength=n_strata)
        simulated += n_drawn
        rendered += len(raw)
        have += int(window.sum())
        chunk += 1
    table = pd.concat([k.table for k in kept], ignore_index=True)
    weight = source_weight(detector, source, pd.DataFrame({"in_window": np.r_[
        np.ones(in_fid_window, bool), np.zeros(simulated - in_fid_window, bool)]}),
        simulated, "active")
    factor = np.concatenate(factors)
    label = np.concatenate(labels)
    images = [render_images(k, (kind,), ImageSettings())[kind] for k in kept if len(k)]
    shape = ImageSettings().shape(kind)
    stack = np.concatenate(images) if images else np.zeros((0, *shape), np.float32)
    summary: list[dict[str, Any]] = []
    per_event = weight
    if variable is not None:
        tail = label != n_strata - 1
        per_event = weight * float(factor[tail].max() if tail.any() else 1.0)
        summary = [{"stratum": stratum, "variable": variable,
                    "candidates": int(candidates[s]), "rendered": int(rendered_per[s]),
                    "in_window": int(window_per[s]),
                    "weight": float(weight * candidates[s] / rendered_per[s])
                    if rendered_per[s] else None}
                   for s, stratum in enumerate(strata.names())]
    table = table.assign(weight=weight * factor, sampling_factor=factor, tail_stratum=label)
    return table, stack, simulated, per_event, summary


SOURCE_STAGE = "cnn.source_events"
SOURCE_STAGE_VERSION = 1
EVENTS_FILE = "events.parquet"


def cached_source(cache_dir: str | None, detector: Detector, name: str, n_window: int,
                  seed: np.random.SeedSequence, kind: str, max_factor: int, mass_gev: float,
                  sigma_cm2: float | None, settings: AllBackgroundsSettings | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray, int, float, list[dict[str, Any]]]:
    """:func:`simulate_source`, through the lineage cache in ``cache_dir`` when given
    (stage :data:`SOURCE_STAGE`): the events (Parquet), images and counts are stored as
    soon as the source is done and read back by a rerun, keyed by everything the
    simulation reads (the detector definition, the source, its seed, sizes, WIMP, tail
    sampling) and the source digest."""
    args = (detector, name, n_window, seed, kind, max_factor, mass_gev, sigma_cm2, settings)
    if cache_dir is None:
        return simulate_source(*args)
    entry = Cache(cache_dir).entry(SOURCE_STAGE, SOURCE_STAGE_VERSION, {
        "detector": detector.model_dump(mode="json"), "source": name, "n_window": n_window,
        "seed": {"entropy": seed.entropy, "spawn_key": list(seed.spawn_key)},
        "image_kind": kind, "max_simulated_factor": max_factor,
        "wimp": [mass_gev, sigma_cm2] if name == SIGNAL else None,
        "tail_variable": None if settings is None else settings.tail_sampling.get(name),
        "tail_candidates_per_event": None if settings is None
        else settings.tail_candidates_per_event,
        "source_sha256": source_digest()})
    found = entry.load(("images", "n_simulated", "weight_per_event", "strata"))
    if found is not None and (entry.path / EVENTS_FILE).is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # damaged: simulated again
            return (pd.read_parquet(entry.path / EVENTS_FILE), found["images"],
                    int(found["n_simulated"]), float(found["weight_per_event"]),
                    list(found["strata"]))
    table, stack, simulated, per_event, strata = simulate_source(*args)
    entry.store({"images": stack, "n_simulated": simulated, "weight_per_event": per_event,
                 "strata": strata}, files={EVENTS_FILE: table.to_parquet})
    return table, stack, simulated, per_event, strata


def simulate_mix(detector: Detector, n_window: dict[str, int], seed: int, kind: str,
                 max_factor: int, mass_gev: float, sigma_cm2: float | None,
                 settings: AllBackgroundsSettings | None = None,
                 executor: Executor | None = None, cache_dir: Path | None = None) -> Mix:
    """The WIMP and every background of ``detector`` (each from its own seed stream);
    the sources of ``settings.tail_sampling`` tail-sampled (:func:`simulate_source`).
    With ``executor`` the sources are simulated as parallel tasks; the mix does not
    depend on where they ran. With ``cache_dir`` each source is kept in the run's cache
    when done (:func:`cached_source`)."""
    where = None if cache_dir is None else str(cache_dir)
    tasks = {name: Task(cached_source, (where, detector, name, n_window[name],
                                        seed_sequence(seed, "mix", name), kind, max_factor,
                                        mass_gev, sigma_cm2, settings))
             for name in n_window}
    results = (executor or in_process()).map(tasks, "sources")
    tables, images, n_simulated, weights, strata = [], [], {}, {}, {}
    for name in n_window:
        table, stack, n_sim, weight, summary = results[name]
        tables.append(table)
        images.append(stack)
        n_simulated[name], weights[name] = n_sim, weight
        if summary:
            strata[name] = summary
    table = _with_derived(pd.concat(tables, ignore_index=True))
    return Mix(table, np.concatenate(images), n_simulated, weights, strata)


def _merge(first: Mix, second: Mix) -> Mix:
    return Mix(pd.concat([first.table, second.table], ignore_index=True),
               np.concatenate([first.images, second.images]),
               {**first.n_simulated, **second.n_simulated},
               {**first.weight_per_event, **second.weight_per_event},
               {**first.strata, **second.strata})


def simulate_train_test(detector: Detector, n_train: int, n_test: int, seed: int,
                        settings: AllBackgroundsSettings, mass_gev: float,
                        sigma_cm2: float | None, executor: Executor | None = None,
                        cache_dir: Path | None = None
                        ) -> tuple[Mix, Mix, dict[str, list[str]]]:
    """The training and test events of every source of both volumes (``n_train`` and
    ``n_test`` in the window per source, more for the WIMP and each volume's dominant
    background), the sources as parallel tasks on ``executor`` if given, each kept in
    the cache in ``cache_dir`` if given; returns (train, test, the sources of each
    volume)."""
    # the fiducial list counts near-wall populations through ``wall`` (and the ER rate);
    # the active volume lists them as their own sources (``volumes`` in the detector file)
    in_volume = {"fiducial": source_names(detector, "fiducial"),
                 "active": source_names(detector, "active")}
    names = list(dict.fromkeys([*in_volume["fiducial"], *in_volume["active"]]))
    train_seed, test_seed = int_seed(seed, "mix", "train"), int_seed(seed, "mix", "test")
    args = (settings.image_kind, settings.max_simulated_factor, mass_gev, sigma_cm2, settings,
            executor, cache_dir)
    train = simulate_mix(detector, {**dict.fromkeys(names, n_train),
                                    SIGNAL: max(n_train, settings.train_events_signal)},
                         train_seed, *args)
    # each volume's background with the largest expected count in the window gets more
    # events (ER inside the fiducial volume, external gammas in the active one)
    expected = train.table[train.table["source"] != SIGNAL].groupby("source")["weight"].sum()
    dominant = sorted({str(expected[expected.index.isin(listed)].idxmax())
                       for listed in in_volume.values()})
    if settings.train_events_dominant > n_train:
        for name in dominant:
            train = _merge(train.drop(name), simulate_mix(
                detector, {name: settings.train_events_dominant}, train_seed, *args))
    test_sizes = {n: (max(n_test, settings.test_events_dominant) if n in dominant else n_test)
                  for n in names}
    test_sizes[SIGNAL] = max(n_test, settings.test_events_signal)
    test = simulate_mix(detector, test_sizes, test_seed, *args)
    train.n_simulated = {n: train.n_simulated[n] for n in names}
    train.weight_per_event = {n: train.weight_per_event[n] for n in names}
    return train, test, in_volume
