"""Training and test samples for the per-mass discriminants: WIMP signal and backgrounds.

Each source is simulated with :func:`wimpsift.response.event_level.simulate_events` in chunks
until ``n_signal`` (signal) or ``n_background_per_source`` (each background) events
fall in the analysis window, or ``max_simulated`` interactions have been simulated.
Only the events in the window (threshold, fiducial volume, cS1 and S2 range) are
kept.

Event weights are expected events in the analysis window per kept event:

    weight = rate_per_kg_day × exposure_kg_days × (M_slab / M_fiducial)
             × (n_in_window / n_simulated) / n_kept

for physical sources (``M_slab``: the mass of the fiducial slab the interactions are drawn
in, :mod:`wimpsift.sources.positions`), and the published window count scaled with exposure divided by
``n_kept`` for data-driven ones (wall). Backgrounds therefore enter training in the
proportions of their expected rates, however many events of each were simulated; the
signal weight is that of the reference cross-section ``sigma_cm2`` and only its total
matters (training balances signal against background).

Every source sample is kept in the lineage cache under ``cache_dir``
(:mod:`wimpsift.cache`, stage ``training.source_sample``) as a Parquet table, keyed by
every setting that changes it and the package versions.

Randomness: source ``name`` (of mass ``m``) is simulated from child
``(stream, name, m)`` of the run's seed (``stream`` is ``"samples"`` unless an
independent set is wanted), its chunks from that child's children; the train/test split
from child ``(stream, "split", ...)`` (:mod:`wimpsift.seeding`). A mass given as
50 or 50.0 is the same mass.

The table of one mass (:meth:`EventSamples.for_mass`) holds the event columns plus
``label`` (1 signal, 0 background), ``weight`` and ``split`` ("train" or "test",
drawn per event with probability ``test_fraction`` of "test"; the background split
is the same for every mass).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, ValidationError

from wimpsift.cache import Cache
from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector, load_detector
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.provenance import provenance
from wimpsift.rates import expected_in_window
from wimpsift.response.event_level import simulate_events
from wimpsift.seeding import SeedLike, generator, seed_sequence
from wimpsift.sources import background_names, make_source
from wimpsift.sources.wimp import HaloModel, halo_lineage

SAMPLE_STAGE = "training.source_sample"
SAMPLE_VERSION = 4  # 3: drawn in the fiducial slab (wimpsift.sources.positions); 4: data-driven
# counts not scaled by the slab's mass
SAMPLE_FILE = "events.parquet"
KEEP_COLUMNS = (
    "source", "recoil_type", "energy_kev", "drift_time_us", "x_cm", "y_cm", "z_cm", "r_cm",
    "s1_area_pe", "s2_area_pe", "s2_top_area_pe", "s2_bottom_area_pe", "s1_n_pmts",
    "s1_prompt_fraction", "cs1_pe", "cs2_pe", "cs2_bottom_pe",
)


class SampleConfig(WimpsiftConfig):
    """Settings of the signal and background samples."""

    detector: str = "lux_2013"
    backgrounds: list[str] | None = Field(
        None, description="background names; default: every background of the detector")
    n_signal: Annotated[int, Field(gt=10)] = 5000
    n_background_per_source: Annotated[int, Field(gt=10)] = 5000
    max_simulated: Annotated[int, Field(gt=0)] = 20_000_000
    chunk_size: Annotated[int, Field(gt=0, le=2_000_000)] = 200_000
    prompt_fraction: bool = False
    sigma_cm2: Annotated[float, Field(gt=0)] = 1e-45
    halo: HaloModel | None = Field(None, description="WIMP halo; None: wimpsift's default halo")
    exposure_kg_days: Annotated[float, Field(gt=0)] | None = None
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    seed: Annotated[int, Field(ge=0)] = 0
    stream: str = Field("samples", min_length=1,
                        description="child of the seed the samples draw from; another "
                                    "stream gives independent samples with the same seed")
    cache_dir: str | None = None


def validated_sample_config(**settings: Any) -> SampleConfig:
    try:
        return SampleConfig(**settings)
    except ValidationError as err:
        raise ConfigError(f"samples: {validation_message(err)}") from err


ZERO_SEEN_UPPER_95 = 3.0
"""95 % CL upper limit on a Poisson mean when none is seen (-ln 0.05 = 2.996, rounded up)"""


def simulate_in_window(
    detector: Detector, source, n_target: int, seed: SeedLike, max_simulated: int,
    chunk_size: int = 200_000, prompt_fraction: bool = False,
) -> tuple[pd.DataFrame, int]:
    """Events of ``source`` in the analysis window: (table, interactions simulated).

    Stops early when none of the interactions so far reached the window and even the
    efficiency's 95 % CL upper limit for none seen (3 / simulated) would need more than
    ``max_simulated`` interactions for ``n_target`` events: a window the detector's
    thresholds exclude (an S2 threshold above every signal) is said after one chunk,
    not after ``max_simulated`` interactions."""
    kept: list[pd.DataFrame] = []
    n_kept = n_sim = chunk = 0
    # a first chunk sized to the target, so efficient sources (and the slow photon-time
    # simulation) do not pay for a full chunk
    size = min(chunk_size, max_simulated, max(20 * n_target, 10_000))
    while n_kept < n_target and n_sim < max_simulated:
        events = simulate_events(detector, source, size, seed, prompt_fraction=prompt_fraction,
                                 chunk_index=chunk)
        sel = events[events["in_window"].to_numpy(dtype=bool)]
        kept.append(sel[list(KEEP_COLUMNS)])
        n_kept += len(sel)
        n_sim += size
        chunk += 1
        if n_kept == 0 and n_target * n_sim / ZERO_SEEN_UPPER_95 > max_simulated:
            break
        eff = max(n_kept / n_sim, 1.0 / n_sim)
        need = int(1.2 * (n_target - n_kept) / eff) + 1000
        size = int(min(chunk_size, max_simulated - n_sim, max(need, 1000)))
    table = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=KEEP_COLUMNS)
    if n_kept > n_target:
        # keep the first n_target events; the interactions they stand for scale alike
        n_sim = int(round(n_sim * n_target / n_kept))
        table = table.iloc[:n_target].reset_index(drop=True)
    return table, n_sim


class EventSamples:
    """Signal (per mass) and background samples with expected-rate weights and splits."""

    def __init__(self, config: SampleConfig | None = None, detector: Detector | None = None):
        self.config = config or SampleConfig()
        self.detector = detector or load_detector(self.config.detector)
        names = background_names(self.detector)  # the fiducial analysis's backgrounds
        chosen = self.config.backgrounds if self.config.backgrounds is not None else names
        unknown = sorted(set(chosen) - set(names))
        if unknown or not chosen:
            raise ConfigError(f"backgrounds: got {chosen!r}, expected a non-empty subset of "
                              f"{names} for detector {self.detector.name!r}")
        self.background_names = list(chosen)
        self.exposure = (self.config.exposure_kg_days if self.config.exposure_kg_days
                         else self.detector.exposure_kg_days)
        self._background: pd.DataFrame | None = None
        self.summary: dict[str, dict[str, float]] = {}

    # -- one source -------------------------------------------------------------------
    def _settings(self, name: str, mass_gev: float | None, n_target: int) -> dict[str, Any]:
        c = self.config
        return {"version": SAMPLE_VERSION, "detector": self.detector.model_dump(mode="json"),
                "source": name, "mass_gev": mass_gev, "n_target": n_target,
                "max_simulated": c.max_simulated, "chunk_size": c.chunk_size,
                "prompt_fraction": c.prompt_fraction, "sigma_cm2": c.sigma_cm2,
                "exposure_kg_days": self.exposure, "seed": c.seed, "stream": c.stream,
                # a WIMP sample's key holds the revision of its spectrum (samples of an earlier
                # one are not reused) and a halo other than the default (None) one
                **({} if name != "wimp" else {
                    **({} if c.halo is None else {"halo": c.halo.model_dump(mode="json")}),
                    **halo_lineage(c.halo or HaloModel())})}

    def source_sample(self, name: str, mass_gev: float | None = None) -> pd.DataFrame:
        """Events of one source in the window with a ``weight`` column (cached)."""
        c = self.config
        mass_gev = None if mass_gev is None else float(mass_gev)
        n_target = c.n_signal if name == "wimp" else c.n_background_per_source
        settings = self._settings(name, mass_gev, n_target)
        label = name if mass_gev is None else f"{name}_{mass_gev:g}GeV"
        entry = None
        if c.cache_dir is not None:
            entry = Cache(c.cache_dir).entry(SAMPLE_STAGE, SAMPLE_VERSION, settings)
            cached = entry.load(keys=("summary",))
            if cached is not None and (entry.path / SAMPLE_FILE).is_file():
                try:
                    table = pq.read_table(entry.path / SAMPLE_FILE).to_pandas()
                except (OSError, pa.ArrowInvalid):
                    table = None  # damaged: simulated again
                if table is not None:
                    self.summary[label] = cached["summary"]
                    return table
        source = make_source(self.detector, name, mass_gev=mass_gev, sigma_cm2=c.sigma_cm2, halo=c.halo)
        seed = seed_sequence(c.seed, c.stream, name, *([] if mass_gev is None else [mass_gev]))
        table, n_sim = simulate_in_window(self.detector, source, n_target, seed, c.max_simulated,
                                          c.chunk_size, c.prompt_fraction)
        if len(table) == 0:
            raise DataError(
                f"samples: no {label} events in the analysis window among {n_sim:,} simulated "
                f"interactions (window efficiency below {ZERO_SEEN_UPPER_95 / n_sim:.2g} at 95 % "
                f"CL, so {n_target:,} events would need more than max_simulated = "
                f"{c.max_simulated:,}); check the detector's thresholds and analysis window")
        # data-driven: their count in the window; physical: the sampled (slab) mass enters
        expected = expected_in_window(source, self.detector, self.exposure, len(table), n_sim)
        table["weight"] = expected / len(table)
        summary = {"n_simulated": float(n_sim), "n_in_window": float(len(table)),
                   "expected_in_window": expected}
        self.summary[label] = summary
        if entry is not None:
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            meta = {"summary": summary, "provenance": provenance(settings, c.seed, SAMPLE_STAGE)}
            arrow = arrow.replace_schema_metadata({b"wimpsift": json.dumps(meta).encode()})
            entry.store({"summary": summary},
                        files={SAMPLE_FILE: lambda path: pq.write_table(arrow, path)})
        return table

    # -- combined tables ----------------------------------------------------------------
    def _split(self, n: int, *parts: object) -> np.ndarray:
        rng = generator(self.config.seed, self.config.stream, "split", *parts)
        return np.where(rng.random(n) < self.config.test_fraction, "test", "train")

    def background(self) -> pd.DataFrame:
        """All backgrounds, label 0, weights from expected rates, fixed train/test split."""
        if self._background is None:
            parts = [self.source_sample(n) for n in self.background_names]
            table = pd.concat(parts, ignore_index=True)
            table["label"] = 0
            table["split"] = self._split(len(table), "background")
            self._background = table
        return self._background

    def signal(self, mass_gev: float) -> pd.DataFrame:
        table = self.source_sample("wimp", float(mass_gev)).copy()
        table["label"] = 1
        table["split"] = self._split(len(table), "wimp", float(mass_gev))
        return table

    def for_mass(self, mass_gev: float) -> pd.DataFrame:
        """Signal of ``mass_gev`` plus all backgrounds, with label, weight and split."""
        return pd.concat([self.signal(mass_gev), self.background()], ignore_index=True)
