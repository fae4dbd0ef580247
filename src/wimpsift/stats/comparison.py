"""The network (1-D) and traditional (multi-dimensional) analyses side by side.

:func:`compare_analyses` runs both analyses for each mass on the same events and
toys and times them by the paper's Table I stages. It is the core of
``benchmarks/bench_limits.py`` and of the limits stage of ``wimpsift reproduce lux``:

* events: a table per mass (``table_for_mass(mass)``) with the event columns plus
  ``source``, ``label`` (1 signal), ``weight`` (expected events per event at the
  reference cross-section) and ``split`` (``train``/``test``), as made by
  :class:`wimpsift.training.samples.EventSamples`; templates use the test split;
* network: ``train(mass, table, previous)`` returns ``(scorer, state)`` where
  ``scorer.score(table)`` is the uniform-transformed output in [0, 1] and ``state``
  is handed to the next mass (sequential transfer); it is timed as ``training``;
* pseudo-data: one background-only data set drawn from the test events (Poisson
  count per source), binned by both analyses;
* limits: the same :class:`LimitConfig` (toys, seeds) and engine for both;
* event-level pseudo-experiments (``n_pseudo_experiments > 0`` with a ``pool_for_mass``
  of background events *independent* of the template events): the same
  background-only experiments, drawn as events, binned by both analyses; their limit
  quantiles measure each analysis's true sensitivity, including the cost of templates
  filled from finite simulation (sparse multi-dimensional templates understate the
  background where the signal is, which their own template toys cannot see);
* coverage: when the pool also holds signal events of the mass (``label`` 1), as many
  experiments again with signal injected at ``coverage_injection`` times the network
  analysis' asymptotic median expected limit (the same injected strength and events
  for both analyses); ``extra["coverage"]`` of each limit is the fraction of them
  whose 90 % CL limit is at or above the injected strength. The toy thresholds are
  those of the mass's one pseudo-data set (profiled on it), applied to every
  experiment.

Quantiles of limits (toy bands and event-level experiments) that fall on experiments
excluding even the lowest tested strength are NaN with ``fraction_below_grid``
(:func:`wimpsift.stats.distributed.limits_over_masses`): with CLs+b at 90 % CL about 10 %
of background-only experiments exclude every strength, so the -2 sigma quantile, and
often the -1 sigma one, has no value. Where many more event-level experiments than
template toys fall there, the templates overstate the background near the signal: with
~10^3 events per source one ER test event is ~0.5 expected events, and a signal-side bin
holding a few test events more than its truth moves its background by more than the
signal it expects (measured on the quick 5-D stage's 4-D network at 1500 events per
source: one bin's background 6.6 events in the template, 2.9 in the event-level
experiments, 9 ER test events against 3 of 1500 independent ones; 44 % of the
event-level experiments below the grid against 12 % of the toys, event-level median
0.20 against 1.37 of the toys; 8-29 % for five other trainings on another 1500-event
sample; 15 % at 3000 events per source, median 0.95 against 0.91). This is template
statistics, not a mismatch of inputs: the independent events' score distributions per
source agree with those of the training split and the expected counts are the same.

Randomness comes from named children of the run's seed (:mod:`wimpsift.seeding`):
``("comparison", "pseudo_data", mass)`` for the pseudo-data set and
``("comparison", "pseudo_experiments", mass)`` for the event-level experiments and
their global observables.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import Field

from wimpsift.errors import ConfigError, DataError
from wimpsift.progress import Progress, prefixed
from wimpsift.provenance import atomic_path
from wimpsift.seeding import generator
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.distributed import DaskConfig, limits_over_masses
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import LimitConfig, LimitResult, asymptotic_expected
from wimpsift.stats.templates import TemplateSet, histogram_template
from wimpsift.stats.teststat import asimov_background
from wimpsift.stats.timing import StageTimes, speedups
from wimpsift.stats.traditional import (
    TraditionalBinning,
    discriminant_templates,
    event_coordinates,
    traditional_templates,
)


class Scorer(Protocol):
    def score(self, table: pd.DataFrame) -> np.ndarray: ...


class ComparisonConfig(StatsConfig):
    """Settings shared by both analyses."""

    n_bins: int = Field(default=20, ge=2, le=1000, description="bins of the 1-D discriminant")
    traditional_bins: tuple[int, int, int, int] = (6, 6, 16, 16)
    #: bins of the S1 prompt fraction in the traditional templates: the 5-D analysis,
    #: f(r², z) × f(cS1, log10 cS2, prompt fraction) (None: 4-D)
    traditional_pf_bins: int | None = Field(default=None, ge=1, le=100)
    variant: str = Field(default="factorised", pattern="^(factorised|full)$")
    background_rel_uncertainty: dict[str, float] = Field(default_factory=lambda: {"wall": 0.5})
    default_rel_uncertainty: float = Field(default=0.25, gt=0)
    limits: LimitConfig = Field(default_factory=lambda: LimitConfig(method="toys"))
    dask: DaskConfig = Field(default_factory=lambda: DaskConfig(synchronous=True, progress=False))
    n_pseudo_experiments: int = Field(default=0, ge=0)
    #: injected signal of the coverage experiments, in units of the network analysis'
    #: asymptotic median expected limit (0: no coverage experiments)
    coverage_injection: float = Field(default=1.0, ge=0)
    #: one combined background with this relative width for both analyses (the paper's
    #: 2013 reproduction: sigma = mu, i.e. 1.0); None keeps one component per source
    combined_background_width: float | None = Field(default=None, gt=0)
    #: one shape nuisance in both analyses: the ER band mean, log10 cS2 of the events of
    #: ``er_band_sources`` shifted by ± this per 1σ (None: no shape parameter)
    er_band_shift_log10_cs2: float | None = Field(default=None, gt=0)
    er_band_sources: list[str] = Field(default_factory=lambda: ["er"])
    seed: int = Field(default=0, ge=0)


@dataclass
class ComparisonResult:
    network: dict[float, LimitResult]
    traditional: dict[float, LimitResult]
    times_network: StageTimes
    times_traditional: StageTimes
    info: dict[float, dict[str, Any]] = field(default_factory=dict)

    def limit_ratio(self, which: str = "median") -> dict[float, float]:
        """network / traditional, per mass (< 1: the network analysis is better)."""
        out = {}
        for m in self.network:
            if which.startswith("pseudo_"):
                key = which.removeprefix("pseudo_")
                n, t = self.network[m].pseudo_experiment_mu, self.traditional[m].pseudo_experiment_mu
                out[m] = float("nan") if n is None or t is None else n[key] / t[key]
            elif which == "observed":
                out[m] = self.network[m].observed_mu / self.traditional[m].observed_mu
            else:
                out[m] = self.network[m].expected_mu[which] / self.traditional[m].expected_mu[which]
        return out

    def fit_counts(self) -> dict[str, dict[str, float]]:
        """Per analysis, summed over masses: MIGRAD fits that ended invalid (the
        asymptotic fits) and toy fits that did not converge."""
        analyses = (("network", self.network), ("traditional", self.traditional))
        return {key: {name: sum(r.extra.get(f"n_{key}", 0.0) for r in results.values())
                      for name, results in analyses}
                for key in ("migrad_fits_invalid", "fits_not_converged")}

    def comparison(
        self, mc_events_network: float | None = None, mc_events_traditional: float | None = None,
        simulation_cpu_s_per_event: float | None = None, mc_events_used: float | None = None,
        with_shape_nuisance: ComparisonResult | None = None,
        five_d: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The issue-12 summary keys (``benchmarks/bench_limits.py``'s last line and
        ``metrics.json["comparison"]``); ``None`` where not measured.

        ``speedup_cpu_4d`` is end to end: each analysis' CPU plus the simulation it needed
        (``mc_events_*`` events needed to come within 5 % of its converged limit, at
        ``simulation_cpu_s_per_event``); without a convergence study both are charged the
        ``mc_events_used`` they were given (``simulation_events`` says which).
        ``limit_ratio_*`` is network / traditional over masses on the same event-level
        pseudo-experiments (template toys when there are none: ``limit_ratio_kind``);
        ``coverage_*`` the mean over masses of the signal-injected experiments' coverage.
        ``with_shape_nuisance`` (the same comparison run with the ER band shape parameter)
        gives ``speedup_cpu_4d_nuisance`` and each analysis' CPU cost factor of it.
        ``five_d`` (:func:`extra_dimension_summary`) gives ``speedup_cpu_5d`` and its
        ``five_d_*`` keys.
        """
        pseudo = all(r.pseudo_experiment_mu is not None for r in self.network.values())
        ratios = list(self.limit_ratio("pseudo_median" if pseudo else "median").values())
        needed = mc_events_network is not None and mc_events_traditional is not None
        ev_net = mc_events_network if needed else mc_events_used
        ev_trad = mc_events_traditional if needed else mc_events_used
        sim = simulation_cpu_s_per_event
        charged = sim is not None and ev_net is not None and ev_trad is not None
        charge_net = sim * ev_net if charged else 0.0  # type: ignore[operator]
        charge_trad = sim * ev_trad if charged else 0.0  # type: ignore[operator]
        cpu_net = self.times_network.total_cpu_s + charge_net
        cpu_trad = self.times_traditional.total_cpu_s + charge_trad
        shape: dict[str, Any] = {"speedup_cpu_4d_nuisance": None}
        if with_shape_nuisance is not None:
            shape = shape_nuisance_summary(self, with_shape_nuisance, charge_net, charge_trad)

        def coverage(results: dict[float, LimitResult]) -> tuple[float | None, float | None]:
            values = [r.extra["coverage"] for r in results.values() if "coverage" in r.extra]
            errors = [r.extra["coverage_error"] for r in results.values() if "coverage" in r.extra]
            if not values:
                return None, None
            return float(np.mean(values)), float(np.sqrt(np.sum(np.square(errors)))) / len(errors)

        cov_net, cov_net_err = coverage(self.network)
        cov_trad, cov_trad_err = coverage(self.traditional)
        return {
            "speedup_cpu_4d": cpu_trad / cpu_net if cpu_net > 0 else None,
            "speedup_cpu_4d_nuisance": shape.pop("speedup_cpu_4d_nuisance"),
            "speedup_cpu_5d": None if five_d is None else five_d["speedup_cpu_5d"],
            "limit_ratio_min": float(np.nanmin(ratios)) if ratios else None,
            "limit_ratio_max": float(np.nanmax(ratios)) if ratios else None,
            "coverage_network": cov_net,
            "coverage_traditional": cov_trad,
            "mc_events_network": mc_events_network,
            "mc_events_traditional": mc_events_traditional,
            "limit_ratio_kind": "event_level_pseudo_experiments" if pseudo else "template_toys",
            "coverage_error_network": cov_net_err,
            "coverage_error_traditional": cov_trad_err,
            "simulation_events": "needed_for_5_percent" if needed else "as_used",
            "simulation_cpu_s_per_event": sim,
            "mc_events_used": mc_events_used,
            **shape,
            **({} if five_d is None else {k: v for k, v in five_d.items() if k != "speedup_cpu_5d"}),
            **self.fit_counts(),
        }

    def metrics(self) -> dict[str, Any]:
        """JSON-able summary: per mass limits of both analyses, timings, speed-ups."""
        sp = speedups(self.times_traditional, self.times_network)
        per_mass = {}
        for m in self.network:
            per_mass[f"{m:g}"] = {
                "network": self.network[m].to_dict(), "traditional": self.traditional[m].to_dict(),
                "expected_limit_ratio": self.limit_ratio()[m],
                "observed_limit_ratio": self.limit_ratio("observed")[m],
                "pseudo_experiment_limit_ratio": self.limit_ratio("pseudo_median")[m],
                **{k: v for k, v in self.info.get(m, {}).items()},
            }
        return {"per_mass": per_mass, "times_network": self.times_network.to_dict(),
                "times_traditional": self.times_traditional.to_dict(),
                "speedup_cpu": sp["total_cpu"], "speedup_wall": sp["total_wall"],
                "stage_speedup_cpu": {k: v for k, v in sp.items() if k.endswith("_cpu")}}


def shape_nuisance_summary(base: ComparisonResult, shaped: ComparisonResult, charge_network_cpu_s: float,
                           charge_traditional_cpu_s: float) -> dict[str, Any]:
    """The shape-nuisance keys of the comparison summary from two comparisons with the same
    settings, events and experiments: ``base`` and ``shaped`` (the ER band shape parameter
    added to both analyses). ``speedup_cpu_4d_nuisance`` is end to end, each analysis
    charged ``charge_*_cpu_s`` of simulation; ``shape_nuisance_cost_factor_*`` is each
    analysis' CPU with the nuisance over that without (simulation not included);
    ``shape_nuisance_fits`` the shaped pass' :meth:`ComparisonResult.fit_counts`."""
    pseudo = all(r.pseudo_experiment_mu is not None for r in shaped.network.values())
    n_cpu, t_cpu = shaped.times_network.total_cpu_s, shaped.times_traditional.total_cpu_s
    return {
        "speedup_cpu_4d_nuisance": (t_cpu + charge_traditional_cpu_s) / (n_cpu + charge_network_cpu_s),
        "shape_nuisance_cost_factor_network": n_cpu / base.times_network.total_cpu_s,
        "shape_nuisance_cost_factor_traditional": t_cpu / base.times_traditional.total_cpu_s,
        "limit_ratio_nuisance": {f"{m:g}": r for m, r in shaped.limit_ratio(
            "pseudo_median" if pseudo else "median").items()},
        "shape_nuisance_fits": shaped.fit_counts(),
    }


def extra_dimension_summary(
    four_d: ComparisonResult, five_d: ComparisonResult, simulation_cpu_s_per_event: float | None,
    mc_events_used: float | None,
) -> dict[str, Any]:
    """The 5-D keys of the comparison summary from two comparisons on the same events
    and pseudo-experiments: ``four_d`` (the 4-D analyses on the prompt-fraction samples)
    and ``five_d`` (both analyses with the S1 prompt fraction added).

    ``speedup_cpu_5d`` is end to end as ``speedup_cpu_4d``: each analysis' CPU plus the
    simulation (with photon times, ``simulation_cpu_s_per_event``) of the
    ``mc_events_used`` events both used. ``five_d_cost_factor_*`` is each analysis' CPU
    at 5-D over that at 4-D (simulation not included: the same in both);
    ``five_d_limit_ratio`` network / traditional per mass at 5-D and
    ``five_d_over_four_d_limit`` each analysis' 5-D over 4-D limit (< 1: the prompt
    fraction helps), both on the event-level experiments where there are any.
    ``five_d_fits`` holds both passes' :meth:`ComparisonResult.fit_counts`.
    """
    pseudo = all(r.pseudo_experiment_mu is not None for r in five_d.network.values())
    which = "pseudo_median" if pseudo else "median"
    charge = (simulation_cpu_s_per_event * mc_events_used
              if simulation_cpu_s_per_event is not None and mc_events_used is not None else 0.0)
    cpu = {name: {"4d": getattr(four_d, f"times_{name}").total_cpu_s,
                  "5d": getattr(five_d, f"times_{name}").total_cpu_s}
           for name in ("network", "traditional")}
    ratios = five_d.limit_ratio(which)

    def median(result: ComparisonResult, name: str, mass: float) -> float:
        limit = getattr(result, name)[mass]
        values = limit.pseudo_experiment_mu if pseudo else limit.expected_mu
        return float(values["median"]) if values is not None else float("nan")

    net_cpu = cpu["network"]["5d"] + charge
    return {
        "speedup_cpu_5d": (cpu["traditional"]["5d"] + charge) / net_cpu if net_cpu > 0 else None,
        "five_d_speedup_cpu_4d_same_events": ((cpu["traditional"]["4d"] + charge)
                                              / (cpu["network"]["4d"] + charge)),
        "five_d_cost_factor_traditional": cpu["traditional"]["5d"] / cpu["traditional"]["4d"],
        "five_d_cost_factor_network": cpu["network"]["5d"] / cpu["network"]["4d"],
        "five_d_cpu_s": cpu,
        "five_d_limit_ratio": {f"{m:g}": r for m, r in ratios.items()},
        "five_d_limit_ratio_min": float(np.nanmin(list(ratios.values()))),
        "five_d_limit_ratio_max": float(np.nanmax(list(ratios.values()))),
        "five_d_over_four_d_limit": {
            name: {f"{m:g}": median(five_d, name, m) / median(four_d, name, m) for m in ratios}
            for name in ("network", "traditional")},
        "five_d_simulation_cpu_s_per_event": simulation_cpu_s_per_event,
        "five_d_mc_events_used": mc_events_used,
        "five_d_limit_ratio_kind": "event_level_pseudo_experiments" if pseudo else "template_toys",
        "five_d_fits": {"4d": four_d.fit_counts(), "5d": five_d.fit_counts()},
    }


def pseudo_data(test: pd.DataFrame, expected: dict[str, float], rng: np.random.Generator) -> pd.DataFrame:
    """Background-only pseudo-data: Poisson(expected) events of each source from the test split."""
    parts = []
    for name, mu in expected.items():
        pool = test[test["source"] == name]
        if len(pool) == 0:
            raise DataError(f"pseudo-data: no test events of background {name!r}")
        parts.append(pool.iloc[rng.integers(0, len(pool), rng.poisson(mu))])
    return pd.concat(parts, ignore_index=True)


def traditional_binning_for(
    events: pd.DataFrame, detector: Any, bins: tuple[int, int, int, int], variant: str,
    pf_bins: int | None = None,
) -> TraditionalBinning:
    """Fiducial volume and cS1 window of the detector; log10 cS2 from the events' 0.2-99.8 %;
    with ``pf_bins`` the S1 prompt fraction over [0, 1] as a fifth axis."""
    coords = event_coordinates(events)
    lo, hi = np.nanquantile(coords[:, 3], [0.002, 0.998])
    return TraditionalBinning.build(
        variant=variant, r2_max_cm2=detector.fiducial.radius_cm ** 2,
        z_min_cm=detector.fiducial.z_min_cm, z_max_cm=detector.fiducial.z_max_cm,
        cs1_min_pe=detector.window.cs1_min_pe, cs1_max_pe=detector.window.cs1_max_pe,
        log10_cs2_min=float(lo), log10_cs2_max=float(hi), r2_bins=bins[0], z_bins=bins[1],
        cs1_bins=bins[2], log10_cs2_bins=bins[3], pf_bins=pf_bins,
    )


def _inside_fraction(events: pd.DataFrame, binning: TraditionalBinning) -> float:
    c = binning.coordinates(events)
    ok = np.all(np.isfinite(c), axis=1)
    for axis, e in enumerate(binning.edges()):
        ok &= (c[:, axis] >= e[0]) & (c[:, axis] <= e[-1])
    return float(ok.mean())


def draw_experiments(
    pool: pd.DataFrame, expected: dict[str, float], n_experiments: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """``n_experiments`` background-only experiments of events from ``pool``: Poisson
    counts per source, events resampled; returns the events and their experiment index."""
    frames, ids = [], []
    for name, mu in expected.items():
        sub = pool[pool["source"] == name]
        if len(sub) == 0:
            raise DataError(f"pseudo-experiments: no pool events of background {name!r}")
        counts = rng.poisson(mu, n_experiments)
        frames.append(sub.iloc[rng.integers(0, len(sub), counts.sum())])
        ids.append(np.repeat(np.arange(n_experiments), counts))
    return pd.concat(frames, ignore_index=True), np.concatenate(ids)


def bin_experiments(indices: np.ndarray, valid: np.ndarray, experiment: np.ndarray,
                    n_experiments: int, n_bins: int) -> np.ndarray:
    """``(n_experiments, n_bins)`` counts from flat bin indices of events."""
    flat = experiment[valid] * n_bins + indices[valid]
    return np.bincount(flat, minlength=n_experiments * n_bins).reshape(n_experiments, n_bins).astype(float)


def _flat_index(coords: np.ndarray, edges: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    valid = np.all(np.isfinite(coords), axis=1)
    idx = []
    for axis, e in enumerate(edges):
        valid &= (coords[:, axis] >= e[0]) & (coords[:, axis] <= e[-1])
        idx.append(np.clip(np.searchsorted(e, coords[:, axis], side="right") - 1, 0, e.size - 2))
    return np.ravel_multi_index(idx, tuple(e.size - 1 for e in edges)), valid


def shift_er_band(events: pd.DataFrame, sources: list[str], shift_log10: float) -> pd.DataFrame:
    """Events with log10 cS2 of the ``sources`` moved by ``shift_log10`` (the ER band mean)."""
    out = events.copy()
    mask = out["source"].isin(sources).to_numpy()
    out.loc[mask, "cs2_pe"] = out.loc[mask, "cs2_pe"].to_numpy() * 10.0 ** shift_log10
    return out


def _network_variations(scorer: Scorer, test: pd.DataFrame, names: list[str], expected: dict[str, float],
                        config: ComparisonConfig, n_bins: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    pair = []
    for sign in (-1.0, 1.0):
        shifted = shift_er_band(test, config.er_band_sources, sign * config.er_band_shift_log10_cs2)
        edges = [np.linspace(0.0, 1.0, n_bins + 1)]
        pair.append(sum(histogram_template(np.asarray(scorer.score(shifted[shifted["source"] == n]), float),
                                           edges, expected[n], name=n).counts for n in names))
    return {"er_band": (pair[0], pair[1])}


def _traditional_variations(test: pd.DataFrame, signal_test: pd.DataFrame, names: list[str],
                            expected: dict[str, float], binning: TraditionalBinning,
                            config: ComparisonConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    pair = []
    for sign in (-1.0, 1.0):
        shifted = shift_er_band(test, config.er_band_sources, sign * config.er_band_shift_log10_cs2)
        events = {n: shifted[shifted["source"] == n] for n in names}
        inside = {n: expected[n] * _inside_fraction(events[n], binning) for n in names}
        inside["signal"] = 1.0
        t = traditional_templates(signal_test, events, inside, binning, 1.0)
        pair.append(t.flat_backgrounds().sum(axis=0).reshape(t.shape))
    return {"er_band": (pair[0], pair[1])}


def _bin_network(scorer: Scorer, events: pd.DataFrame, experiment: np.ndarray, n: int,
                 templates: TemplateSet) -> np.ndarray:
    g = np.asarray(scorer.score(events), dtype=float)
    idx, ok = _flat_index(g[:, None], list(templates.bin_edges))
    return bin_experiments(idx, ok, experiment, n, templates.n_bins)


def _bin_traditional(events: pd.DataFrame, experiment: np.ndarray, n: int, binning: TraditionalBinning,
                     templates: TemplateSet) -> np.ndarray:
    idx, ok = _flat_index(binning.coordinates(events), binning.edges())
    return bin_experiments(idx, ok, experiment, n, templates.n_bins)


def _with_gamma_aux(theta_aux: np.ndarray, lik: BinnedLikelihood) -> np.ndarray:
    return np.concatenate([theta_aux, np.ones((theta_aux.shape[0], lik.n_gamma))], axis=1)


def _likelihood_config(config: ComparisonConfig, per_source: LikelihoodConfig) -> LikelihoodConfig:
    if config.combined_background_width is None:
        return per_source
    return LikelihoodConfig.build(background_rel_uncertainty=config.combined_background_width)


def compare_analyses(
    masses_gev: list[float],
    table_for_mass: Callable[[float], pd.DataFrame],
    train: Callable[[float, pd.DataFrame, Any], tuple[Scorer, Any]],
    detector: Any,
    sigma_ref_cm2: float,
    config: ComparisonConfig | None = None,
    cache_dir: str | None = None,
    pool_for_mass: Callable[[float], pd.DataFrame] | None = None,
    progress: Progress | None = None,
) -> ComparisonResult:
    """Both analyses for every mass on the same events and toys (see module docstring);
    ``progress`` hears of masses prepared and toy batches done (:mod:`wimpsift.progress`)."""
    config = config or ComparisonConfig()
    if config.n_pseudo_experiments and pool_for_mass is None:  # they would not be run
        raise ConfigError(f"n_pseudo_experiments: {config.n_pseudo_experiments} event-level "
                          "pseudo-experiments need pool_for_mass (the independent events they are "
                          "drawn from); give it, or n_pseudo_experiments 0")
    if pool_for_mass is not None and not config.n_pseudo_experiments:
        raise ConfigError("pool_for_mass: only with n_pseudo_experiments > 0 (the events of the "
                          "event-level pseudo-experiments); with 0 none are run")
    t_net, t_trad = StageTimes(), StageTimes()
    net_models: dict[float, BinnedLikelihood] = {}
    trad_models: dict[float, BinnedLikelihood] = {}
    net_obs: dict[float, np.ndarray] = {}
    trad_obs: dict[float, np.ndarray] = {}
    info: dict[float, dict[str, Any]] = {}
    net_pe: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    trad_pe: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    net_sig: dict[float, tuple[np.ndarray, np.ndarray, float]] = {}
    trad_sig: dict[float, tuple[np.ndarray, np.ndarray, float]] = {}
    n_pe = config.n_pseudo_experiments
    state = None
    if progress is not None:
        progress("masses trained and binned", 0, len(masses_gev))
    for i_mass, mass in enumerate(sorted(masses_gev)):
        table = table_for_mass(mass)
        for column in ("source", "label", "weight", "split"):
            if column not in table.columns:
                raise DataError(f"events of {mass:g} GeV: missing column {column!r}")
        train_set, test = table[table["split"] == "train"], table[table["split"] == "test"]
        names = sorted(set(test.loc[test["label"] == 0, "source"]))
        expected = {n: float(table.loc[table["source"] == n, "weight"].sum()) for n in names}
        expected_signal = float(table.loc[table["label"] == 1, "weight"].sum())
        widths = {n: config.background_rel_uncertainty.get(n, config.default_rel_uncertainty)
                  for n in names}
        lik_config = LikelihoodConfig.build(background_rel_uncertainty=widths)
        data = pseudo_data(test, expected, generator(config.seed, "comparison", "pseudo_data", mass))
        signal_test = test[test["label"] == 1]
        if len(train_set) == 0 or len(signal_test) == 0:
            raise DataError(f"events of {mass:g} GeV: need train events and signal test events")

        with t_net.stage("training"):
            scorer, state = train(mass, table, state)
        with t_net.stage("workspace_creation"):
            scores = {n: scorer.score(test[test["source"] == n]) for n in names}
            ts = discriminant_templates(scorer.score(signal_test), scores,
                                        {"signal": expected_signal, **expected}, config.n_bins,
                                        sigma_ref_cm2, mass)
            if config.er_band_shift_log10_cs2 is not None:
                ts = dataclasses.replace(ts, shape_variations=_network_variations(
                    scorer, test, names, expected, config, config.n_bins))
            if config.combined_background_width is not None:
                ts = ts.combined()
            net_models[mass] = BinnedLikelihood(ts, _likelihood_config(config, lik_config))
            net_obs[mass] = np.histogram(scorer.score(data), bins=ts.bin_edges[0])[0].astype(float)

        with t_trad.stage("workspace_creation"):
            binning = traditional_binning_for(test, detector, config.traditional_bins, config.variant,
                                              config.traditional_pf_bins)
            bkg_events = {n: test[test["source"] == n] for n in names}
            inside = {n: expected[n] * _inside_fraction(bkg_events[n], binning) for n in names}
            inside["signal"] = expected_signal * _inside_fraction(signal_test, binning)
            tt = traditional_templates(signal_test, bkg_events, inside, binning, sigma_ref_cm2, mass)
            if config.er_band_shift_log10_cs2 is not None:
                tt = dataclasses.replace(tt, shape_variations=_traditional_variations(
                    test, signal_test, names, expected, binning, config))
            if config.combined_background_width is not None:
                tt = tt.combined()
            trad_models[mass] = BinnedLikelihood(tt, _likelihood_config(config, lik_config))
            trad_obs[mass] = np.histogramdd(binning.coordinates(data), bins=binning.edges())[0].ravel()
        if n_pe:
            # the same event-level experiments for both analyses; drawing them is work
            # each analysis would do alone, so it is timed for both
            pe_rng = generator(config.seed, "comparison", "pseudo_experiments", mass)
            # loading the independent "truth" simulation is work of neither analysis
            pool = pool_for_mass(mass)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            pe_events, pe_id = draw_experiments(pool, expected, n_pe, pe_rng)
            # normalisation observables randomised, the MC-statistics ones at 1: every
            # experiment is judged with the one simulation the templates were made from
            sigma, centre = net_models[mass].sigma, net_models[mass].nominal[1:]
            theta_aux = centre + sigma * pe_rng.standard_normal((n_pe, sigma.size))
            draw = {"cpu_s": {"toy_generation": time.process_time() - cpu0},
                    "wall_s": {"toy_generation": time.perf_counter() - wall0}}
            for timer in (t_net, t_trad):
                timer.add(draw)
            with t_net.stage("toy_generation"):
                net_pe[mass] = (_bin_network(scorer, pe_events, pe_id, n_pe, ts),
                                _with_gamma_aux(theta_aux, net_models[mass]))
            with t_trad.stage("toy_generation"):
                trad_pe[mass] = (_bin_traditional(pe_events, pe_id, n_pe, binning, tt),
                                 _with_gamma_aux(theta_aux, trad_models[mass]))
            signal_pool = pool[pool["label"] == 1] if "label" in pool.columns else pool.iloc[:0]
            if config.coverage_injection > 0 and len(signal_pool):
                # not timed: coverage is a check of both analyses, not work of either
                lik_net = net_models[mass]
                median = asymptotic_expected(lik_net, asimov_background(lik_net, net_obs[mass]), 0.9,
                                             (0,))[0]
                mu_inj = config.coverage_injection * median
                sig_name = str(signal_pool["source"].iloc[0])
                sig_events, sig_id = draw_experiments(
                    pd.concat([pool[pool["label"] == 0], signal_pool]),
                    {**expected, sig_name: mu_inj * expected_signal}, n_pe, pe_rng)
                theta_aux = centre + sigma * pe_rng.standard_normal((n_pe, sigma.size))
                net_sig[mass] = (_bin_network(scorer, sig_events, sig_id, n_pe, ts),
                                 _with_gamma_aux(theta_aux, net_models[mass]), mu_inj)
                trad_sig[mass] = (_bin_traditional(sig_events, sig_id, n_pe, binning, tt),
                                  _with_gamma_aux(theta_aux, trad_models[mass]), mu_inj)
        info[mass] = {"n_bins_network": ts.n_bins, "n_bins_traditional": tt.n_bins,
                      "expected_signal_at_sigma_ref": expected_signal,
                      "expected_background": float(sum(expected.values())),
                      "pseudo_data_events": len(data)}
        if progress is not None:
            progress("masses trained and binned", i_mass + 1, len(masses_gev))

    net = limits_over_masses(net_models, net_obs, config.limits, config.dask,
                             cache_dir=None if cache_dir is None else f"{cache_dir}/network", timer=t_net,
                             pseudo_experiments=net_pe or None, signal_experiments=net_sig or None,
                             progress=prefixed(progress, "network analysis, "))
    trad = limits_over_masses(trad_models, trad_obs, config.limits, config.dask,
                              cache_dir=None if cache_dir is None else f"{cache_dir}/traditional",
                              timer=t_trad, pseudo_experiments=trad_pe or None,
                              signal_experiments=trad_sig or None,
                              progress=prefixed(progress, "traditional analysis, "))
    return ComparisonResult(network=net, traditional=trad, times_network=t_net,
                            times_traditional=t_trad, info=info)


def write_comparison(result: ComparisonResult, folder: str | Path, config: ComparisonConfig,
                     seed: int | None = None) -> dict[str, Path]:
    """Write ``limits_metrics.json`` (with provenance), ``limits_timing.txt`` (Table I
    layout) and ``limits_vs_mass.png`` (Fig. 6 style, ratio panel) into ``folder``."""
    from wimpsift.provenance import provenance, write_json
    from wimpsift.stats.figures import plot_limits_vs_mass
    from wimpsift.stats.timing import format_table

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"output: directory {str(folder)!r} does not exist")
    metrics = result.metrics()
    metrics["provenance"] = provenance(config, seed if seed is not None else config.seed, "limits")
    paths = {"metrics": write_json(folder / "limits_metrics.json", metrics)}
    table = folder / "limits_timing.txt"
    with atomic_path(table) as tmp:
        tmp.write_text(format_table(result.times_traditional, result.times_network) + "\n")
    paths["timing"] = table
    paths["figure"] = plot_limits_vs_mass(
        {"network (1-D)": result.network, "traditional (4-D)": result.traditional},
        folder / "limits_vs_mass.png", provenance=metrics["provenance"],
        data_label="pseudo-data")  # one background-only set drawn from the test events
    return paths
