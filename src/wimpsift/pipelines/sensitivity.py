"""``wimpsift templates`` and ``wimpsift sensitivity``: from a detector file to binned
templates and to a median expected limit curve with its bands.

Templates are built from event tables of the analysis window with ``source``, ``label``
(1 signal) and ``weight`` (expected events per event at the reference cross-section),
as :class:`wimpsift.training.samples.EventSamples` makes them. Analyses:

* ``cs1-cs2``: (cS1, cS2) with cS2 in log-spaced bins;
* ``rz-cs1-cs2``: (r, z, cS1, cS2), r in equal-volume bins over the fiducial radius;
* ``network``: the uniform-transformed output of a per-mass neural discriminant
  (:mod:`wimpsift.training.discriminant`) in equal bins of [0, 1].

The axes are event columns (``cs1_pe``, ``cs2_pe``, ``r_cm``, ``z_cm``), so the
templates file is what ``wimpsift limits compute --events FILE --columns ...`` reads
(the columns are listed in the file as ``columns``). Background bins left empty by the
finite simulation get half a simulated event's weight of every background (as the
traditional analysis does), so that no bin has signal but no background. Every background
template carries its Σw² (the fill with a variance of its own weight squared), so the
likelihood has one MC-statistics parameter per bin: a simulation small against the
exposure widens the limits instead of being taken as exact (50 simulated events per
source at 10⁴ times XENON1T SR0's exposure: median limit 2.2 times too strong without).
The widened limits approach the converged one from above, not always monotonically: a
sample too small for any ER event to reach the signal region is less conservative than a
somewhat larger one (``benchmarks/bench_template_mc_statistics.py`` prints the series).
Σw² cannot restore background the simulation never produced: it widens limits, it does
not move the templates' central values.

``sensitivity`` runs one mass per task (:func:`wimpsift.pipelines.masses.map_masses`):
the median expected 90 % CL limit and ±1σ/±2σ bands of background-only experiments,
written to ``DIR/limits.csv``, ``DIR/limits.json`` and ``DIR/limits.png``. The limit
settings are those of ``limits compute`` (:class:`wimpsift.stats.limits.LimitConfig`,
the same options): ``auto`` (the default) uses toys where fewer than
``asymptotic_min_events`` (10) events are expected in the bins holding 90 % of the
signal at the asymptotic limit, the asymptotic formulae otherwise; each row says which
(``method``). Bands are those of the unconstrained limit, as collaborations draw them;
each row gives the power constraint (the critical power, default 0.159: the -1σ band)
and the floor it sets (``power_constraint_floor_cm2``: no limit of this experiment would
be reported below it), and ``band_status`` says how each band value was obtained
(:data:`wimpsift.stats.limits.BAND_STATUS`). With CLs+b at 90 % CL the asymptotic -2σ
band is empty (Φ⁻¹(0.9) − 2 < 0: background-only experiments that far down exclude every
cross-section): it is null in the JSON, ``nan`` in the CSV, never 0.
Samples are cached under ``DIR/cache``; finished masses too, keyed by the settings and
the detector's definition (a TOML file edited under the same path is computed again).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from wimpsift.errors import ConfigError, DataError
from wimpsift.papers import published_limit
from wimpsift.sources.wimp import HaloModel, check_wimp_masses, halo_lineage
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.limits import POWER_CONSTRAINT_MINUS_1_SIGMA, LimitConfig
from wimpsift.stats.templates import TemplateSet, weighted_histogram

ANALYSES = ("cs1-cs2", "rz-cs1-cs2", "network")
#: the event columns of the cut-based analyses' axes (the network's: ``score_column``)
AXIS_COLUMNS = {"cs1-cs2": ["cs1_pe", "cs2_pe"], "rz-cs1-cs2": ["r_cm", "z_cm", "cs1_pe", "cs2_pe"]}
STAGE_VERSION = 6  # 2: limit settings of LimitConfig, band status, power constraint; 3: fiducial slab;
# 4: data-driven backgrounds at their count in the window (were x the slab's mass ratio);
# 5: templates carry their Σw² (MC-statistics parameters); 6: toy fits with per-element
# damping (stats/batchfit.py: limits of a signal of few events per unit mu were low)


class TemplateBinning(StatsConfig):
    """Bins of the cut-based analyses and of the network score."""

    cs1_bins: int = Field(default=16, ge=1, le=400)
    cs2_bins: int = Field(default=16, ge=1, le=400)
    r_bins: int = Field(default=3, ge=1, le=100)
    z_bins: int = Field(default=3, ge=1, le=100)
    score_bins: int = Field(default=20, ge=2, le=1000)
    empty_bin_fill: float = Field(default=0.5, ge=0.0)


def axis_edges(
    analysis: str, detector: Any, events: pd.DataFrame, binning: TemplateBinning
) -> list[np.ndarray]:
    """Bin edges of ``analysis``: fiducial volume and cS1 window of the detector, cS2 from
    the events' 0.2-99.8 % quantiles (log-spaced)."""
    if analysis == "network":
        return [np.linspace(0.0, 1.0, binning.score_bins + 1)]
    cs2 = events["cs2_pe"].to_numpy(dtype=float)
    cs2 = cs2[np.isfinite(cs2) & (cs2 > 0)]
    if cs2.size < 2:
        raise DataError("events: fewer than 2 events with a positive cS2")
    lo, hi = np.quantile(cs2, [0.002, 0.998])
    win, fid = detector.window, detector.fiducial
    edges = [np.linspace(win.cs1_min_pe, win.cs1_max_pe, binning.cs1_bins + 1),
             np.geomspace(lo, hi * (1 + 1e-9), binning.cs2_bins + 1)]
    if analysis == "rz-cs1-cs2":
        r_edges = np.sqrt(np.linspace(0.0, fid.radius_cm**2, binning.r_bins + 1))
        edges = [r_edges, np.linspace(fid.z_min_cm, fid.z_max_cm, binning.z_bins + 1), *edges]
    return edges


def _weighted(values: np.ndarray, weights: np.ndarray, edges: Sequence[np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Sum of weights and of squared weights per bin of the events with finite values."""
    ok = np.all(np.isfinite(values), axis=1)
    return weighted_histogram(list(values[ok].T), edges, weights[ok])


def build_templates(
    table: pd.DataFrame, analysis: str, edges: Sequence[np.ndarray], sigma_ref_cm2: float,
    mass_gev: float | None, binning: TemplateBinning, scorer: Any = None,
) -> TemplateSet:
    """Signal and per-source background templates (expected events per bin)."""
    for column in ("source", "label", "weight"):
        if column not in table.columns:
            raise DataError(f"events: missing column {column!r}")
    if analysis == "network":
        if scorer is None:
            raise ConfigError("--models: the network analysis needs trained models")
        values = np.asarray(scorer.score(table), dtype=float)[:, None]
    else:
        columns = AXIS_COLUMNS[analysis]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataError(f"events: missing columns {missing} for analysis {analysis!r}")
        values = np.column_stack([table[c].to_numpy(dtype=float) for c in columns])
    weights = table["weight"].to_numpy(dtype=float)
    label = table["label"].to_numpy()
    if not np.any(label == 1):
        raise DataError("events: no signal (wimp) events")
    signal = _weighted(values[label == 1], weights[label == 1], edges)[0]
    backgrounds: dict[str, np.ndarray] = {}
    variances: dict[str, np.ndarray] = {}
    per_event: dict[str, float] = {}
    sources = table["source"].to_numpy()
    for name in sorted(set(sources[label == 0])):
        sel = (label == 0) & (sources == name)
        backgrounds[str(name)], variances[str(name)] = _weighted(values[sel], weights[sel], edges)
        per_event[str(name)] = float(weights[sel].mean())
    if not backgrounds:
        raise DataError("events: no background events")
    empty = sum(backgrounds.values()) <= 0
    if binning.empty_bin_fill > 0 and np.any(empty):
        # the fill is one fraction of a simulated event: 100 % MC uncertainty
        fill = {k: binning.empty_bin_fill * w for k, w in per_event.items()}
        backgrounds = {k: v + empty * fill[k] for k, v in backgrounds.items()}
        variances = {k: v + empty * fill[k] ** 2 for k, v in variances.items()}
    return TemplateSet(signal=signal, backgrounds=backgrounds, bin_edges=list(edges),
                       sigma_ref_cm2=sigma_ref_cm2, mass_gev=mass_gev,
                       background_variances=variances)


def templates_payload(templates: TemplateSet, analysis: str, detector: str) -> dict[str, Any]:
    """The templates file: :meth:`TemplateSet.to_dict` plus detector, analysis and columns
    (for ``network``, the score column ``nn evaluate`` writes for the templates' mass)."""
    from wimpsift.training.discriminant import score_column

    columns = ([score_column(templates.mass_gev)] if analysis == "network"
               else AXIS_COLUMNS[analysis])
    return {**templates.to_dict(), "detector": detector, "analysis": analysis,
            "columns": columns}


#: settings of a detector definition a trained network does not depend on: the live time
#: (every source's expected count scales with it alike, and training balances the classes)
#: and free text. A model is applied to a definition that differs from its own only in these.
MODEL_INDEPENDENT_SETTINGS = re.compile(
    r"exposure\.live_days|description|sources_note|fiducial\.boundary\.source"
    r"|.*(note|published_source|published_verified|positions_source)")


def check_trained_for(models: Mapping[float, Any], detector: Mapping[str, Any],
                      given_as: tuple[str, str] = ("the events'", "in the events")) -> None:
    """Models must have been trained on the detector ``detector`` defines (a definition as
    ``Detector.model_dump(mode="json")`` gives and event tables record): its name and every
    setting the network depends on (not :data:`MODEL_INDEPENDENT_SETTINGS`), so a modified
    copy of a shipped TOML under the shipped name is refused. ``given_as`` words where
    ``detector`` comes from in the message (the events', or ``--detector``'s).

    A model set written before models recorded their definition is compared by the name
    its training was given: a shipped detector's, or the name in the TOML file it gave, read
    again if it still exists; a file that cannot be read is said on stderr, unchecked."""
    from wimpsift.io.event_tables import check_same_definition

    name = detector.get("name")
    for mass, model in models.items():
        what = f"--models: the {mass:g} GeV model"
        record = model.provenance if isinstance(model.provenance, Mapping) else {}
        recorded = record.get("detector")
        trained_on = (recorded.get("name") if isinstance(recorded, Mapping)
                      else _detector_of(record, what))
        if trained_on is not None and trained_on != name:
            raise DataError(f"{what} was trained on detector {trained_on!r}, not {name!r}")
        if isinstance(recorded, Mapping):
            check_same_definition(dict(recorded), dict(detector), what, given_as[0],
                                  made="trained on", labels=("in the model", given_as[1]),
                                  ignore=MODEL_INDEPENDENT_SETTINGS)


def check_models(models: Mapping[float, Any], detector: Mapping[str, Any],
                 events: pd.DataFrame,
                 given_as: tuple[str, str] = ("the events'", "in the events")) -> None:
    """Models must have been trained on this detector (:func:`check_trained_for`; the
    definition the events were simulated for) and on inputs the events carry
    (``log10_<column>`` inputs need ``<column>``; a column of NaN only, such as an S1
    prompt fraction that was not simulated, counts as absent)."""
    check_trained_for(models, detector, given_as)
    present = {c for c in events.columns if not pd.api.types.is_numeric_dtype(events[c])
               or np.any(np.isfinite(events[c].to_numpy(dtype=float)))}
    for mass, model in models.items():
        missing = [c for c in model.inputs if c.removeprefix("log10_") not in present]
        if missing:
            raise DataError(f"--models: the {mass:g} GeV model was trained on inputs {list(model.inputs)}; "
                            f"the events lack {missing}")


def _detector_of(record: Mapping[str, Any], what: str) -> str | None:
    """The name of the detector a model set that recorded no definition was trained on:
    the name or TOML path its training was given (in its record, its configuration or its
    samples' settings), a path read again for the name in it. None when it gives none, or
    names a file that cannot be read now (said on stderr: ``what`` is then unchecked)."""
    from wimpsift.detectors import load_detector, shipped_detectors

    config = record.get("config", {})
    config = config if isinstance(config, Mapping) else {}
    samples = config.get("samples", {})
    samples = samples if isinstance(samples, Mapping) else {}
    given = next((w["detector"] for w in (record, config, samples) if isinstance(w.get("detector"), str)),
                 None)
    if given is None or given in shipped_detectors():
        return given
    try:
        return load_detector(given).name
    except ConfigError:
        print(f"note: {what} was trained on the detector file {given!r}, which cannot be read "
              "now: its detector is not checked", file=sys.stderr)
        return None


# ----------------------------------------------------------------------------------------
# sensitivity
# ----------------------------------------------------------------------------------------
class SensitivityConfig(StatsConfig):
    """Everything that changes a sensitivity curve."""

    detector: str = "lux_2013"
    analysis: Literal["cs1-cs2", "rz-cs1-cs2", "network"] = "cs1-cs2"
    events_per_source: int = Field(default=5000, gt=10)
    limits: LimitConfig = Field(default_factory=lambda: LimitConfig(
                                    power_constraint=POWER_CONSTRAINT_MINUS_1_SIGMA),
                                description="how limits and bands are computed (as limits compute)")
    background_rel_uncertainty: float = Field(default=0.25, gt=0.0)
    sigma_ref_cm2: float = Field(default=1e-45, gt=0.0)
    binning: TemplateBinning = Field(default_factory=TemplateBinning)
    halo: HaloModel = Field(default_factory=HaloModel, description="WIMP halo of the signal")
    seed: int = Field(default=0, ge=0)


def _samples(config: SensitivityConfig, cache: Path | None):
    from wimpsift.training.samples import EventSamples, validated_sample_config

    return EventSamples(validated_sample_config(
        detector=config.detector, n_signal=config.events_per_source,
        n_background_per_source=config.events_per_source, sigma_cm2=config.sigma_ref_cm2,
        halo=None if config.halo == HaloModel() else config.halo, seed=config.seed,
        cache_dir=None if cache is None else str(cache)))


def sensitivity_for_mass(
    mass_gev: float, config: SensitivityConfig, cache: str | None = None
) -> dict[str, float]:
    """Median expected limit and bands (cm²) of one mass."""
    from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
    from wimpsift.stats.limits import upper_limit

    samples = _samples(config, None if cache is None else Path(cache))
    table = samples.for_mass(mass_gev)
    scorer = None
    if config.analysis == "network":
        from wimpsift.training.discriminant import train_one_mass, validated_config

        scorer = train_one_mass(mass_gev, table, validated_config(masses_gev=[mass_gev], seed=config.seed))
        table = test_split(table)
    edges = axis_edges(config.analysis, samples.detector, table, config.binning)
    ts = build_templates(table, config.analysis, edges, config.sigma_ref_cm2, mass_gev, config.binning,
                         scorer)
    widths = LikelihoodConfig.build(background_rel_uncertainty=config.background_rel_uncertainty)
    lik = BinnedLikelihood(ts, widths)
    counts = lik.expected(lik.nominal_parameters(0.0))
    limit = upper_limit(lik, counts, config=config.limits)
    s = config.sigma_ref_cm2
    row: dict[str, Any] = {"mass_gev": float(mass_gev)}
    for name, key in BAND_KEYS.items():  # an empty band is None (null), never 0
        value = limit.expected_mu[key] * s
        row[f"{name}_cm2"] = float(value) if np.isfinite(value) else None
    floor = limit.power_constraint_floor_mu
    row |= {"method": limit.method, "power_constraint": config.limits.power_constraint,
            "power_constraint_floor_cm2": None if floor is None else floor * s,
            "band_status": {name: limit.band_status[key] for name, key in BAND_KEYS.items()},
            "signal_region_events": limit.extra["signal_region_events"],
            "signal_events_at_sigma_ref": float(ts.signal.sum()),
            "background_events": float(sum(b.sum() for b in ts.backgrounds.values()))}
    return row


#: row names of the bands -> keys of LimitResult.expected_mu
BAND_KEYS = {"median": "median", "minus2": "-2sigma", "minus1": "-1sigma", "plus1": "+1sigma",
             "plus2": "+2sigma"}
#: the keys of :func:`sensitivity_for_mass`'s row
MASS_RESULT_KEYS = ("mass_gev", *(f"{name}_cm2" for name in BAND_KEYS), "method", "power_constraint",
                    "power_constraint_floor_cm2", "band_status", "signal_region_events",
                    "signal_events_at_sigma_ref", "background_events")
#: the columns of limits.csv
CSV_COLUMNS = ["mass_gev", "median_cm2", "minus2_cm2", "minus1_cm2", "plus1_cm2", "plus2_cm2", "method",
               "power_constraint", "power_constraint_floor_cm2",
               *[f"{name}_status" for name in BAND_KEYS]]


def _csv_cell(value: Any) -> str:
    if value is None:
        return "nan"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def test_split(table: pd.DataFrame) -> pd.DataFrame:
    """The test events, each source's weights scaled up to its whole expectation."""
    test = table[table["split"] == "test"]
    total = table.groupby("source")["weight"].sum()
    kept = test.groupby("source")["weight"].sum()
    return test.assign(weight=test["weight"] * test["source"].map(total / kept).to_numpy())


def check_masses(masses: Sequence[float]) -> list[float]:
    """The masses as sorted floats; raises a one-line :class:`ConfigError` unless all are
    positive and distinct."""
    from wimpsift.pipelines.masses import sorted_masses

    masses = [float(m) for m in masses]
    if not masses or any(not (np.isfinite(m) and m > 0) for m in masses):
        raise ConfigError(f"--masses: got {masses}, expected positive WIMP masses in GeV/c^2")
    return sorted_masses(masses)


def run_sensitivity(
    config: SensitivityConfig, masses: Sequence[float], output: str | Path, workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Limits for every mass into ``output``; returns the JSON payload."""
    from wimpsift.pipelines.masses import map_masses
    from wimpsift.provenance import atomic_path, provenance, write_json

    masses = check_masses(masses)
    check_wimp_masses(masses, "--masses", config.halo)  # before anything is simulated
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output: {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"  # one lineage cache: samples and finished masses
    samples = _samples(config, cache)
    samples.background()  # simulate the backgrounds once, before masses fan out
    # a mass is keyed by the detector's definition, not only its name or path: a TOML file
    # edited under the same path is another detector, whose limits are computed again; and
    # by the revision of the halo's spectrum (wimpsift.sources.wimp.halo_lineage)
    lineage = {"config": config, "detector": samples.detector.model_dump(mode="json"),
               **halo_lineage(config.halo)}
    rows = map_masses(sensitivity_for_mass, masses, {"config": config, "cache": str(cache)},
                      cache, workers, progress, desc=f"sensitivity {config.detector}",
                      stage="sensitivity.mass", stage_version=STAGE_VERSION, config=lineage,
                      result_keys=MASS_RESULT_KEYS)
    payload = {"detector": config.detector, "analysis": config.analysis, "limits": rows,
               "provenance": provenance({"sensitivity": config, "masses": masses}, config.seed,
                                        "sensitivity")}
    published = published_limit(config.detector)
    if published is not None:
        limits = [{"mass_gev": m, "limit_cm2": v}
                  for m, v in zip(published["masses_gev"], published["sigma_cm2"], strict=True)]
        payload["published"] = {"label": published["label"], "source": "\n".join(published["source"]),
                                "limits": limits}
    def cells(r: Mapping[str, Any]) -> list[Any]:
        status = {f"{k}_status": v for k, v in r["band_status"].items()}
        return [({**r, **status}).get(k) for k in CSV_COLUMNS]

    with atomic_path(out / "limits.csv") as tmp:
        tmp.write_text("\n".join([",".join(CSV_COLUMNS)]
                                 + [",".join(_csv_cell(c) for c in cells(r)) for r in rows]) + "\n")
    write_json(out / "limits.json", payload)
    from wimpsift.plots.limits import plot_limit_curve

    title = (f"{config.detector}, {config.analysis}: median expected, "
             f"halo v0 = {config.halo.v_0_km_s:g} km/s")
    plot_limit_curve(rows, out / "limits.png", title,
                     "median_cm2", [published] if published is not None else [],
                     provenance=payload["provenance"],
                     confidence_level=config.limits.confidence_level)
    return payload
