"""Event reconstruction from waveform-level raw data: the processed event table.

For each event: peaks (:mod:`wimpsift.processing.peaks`) → main S1 and S2 → raw areas,
per-PMT areas (hit patterns), S1 coincidence and prompt fraction, drift time → z,
(x, y) from the top-array S2 hit pattern, corrections → cS1, cS2, cS2_b, selections.
The table has the columns of :data:`wimpsift.events.EVENT_COLUMNS` (the same as the
event-level simulation), followed by extra processing columns.

Position reconstruction, ``xy_method``:

- ``"likelihood"`` (default): Poisson maximum likelihood of the top-array S2 hit
  pattern against a light response function (LRF), evaluated on a square grid of
  ``xy_grid_cm`` (one matrix product for all events), followed by a parabolic
  refinement of the log-likelihood around the best grid point in x and y.
- ``"cnn"``: the convolutional network of :mod:`wimpsift.models.position_cnn`, trained
  by :mod:`wimpsift.training.position`, loaded from ``xy_model_path`` (a state dict read
  with ``weights_only=True``). torch is imported only when this method is chosen, so
  processing stays importable without it. The settings hold the file's SHA-256
  (``xy_model_sha256``, read when they are made), so a network retrained at the same path
  is another configuration: a dataset or cache entry of the old one is not resumed or
  reused.

Light-response mismatch (``lrf_mismatch``, on by default): the LRF of the likelihood
is *not* the one the simulation used, because a real experiment never knows its light
response exactly (its LRFs come from calibration data or from an optical simulation).
:class:`LrfMismatch` perturbs the simulation's top LRF
(:func:`wimpsift.response.pmt_light.s2_top_lrf`) in two documented ways:

- per-PMT relative efficiency (gain × light collection) errors, drawn once from
  N(1, ``pmt_efficiency_rms``) with the generator seeded by ``seed`` (default 5 % RMS:
  our choice, a few per cent being the usual size of per-PMT gain and efficiency
  calibration errors; not a fitted number);
- the LRF width: the height of the EL region below the top photocathodes is scaled by
  ``lrf_height_scale`` (default 1.10, our choice), so the assumed pattern is about
  10 % broader than the true one, which pulls reconstructed positions radially
  (strongest near the wall).

``lrf_mismatch=None`` gives the idealised reconstruction with the true LRF (optimistic).
The position CNN is trained on hit patterns simulated with the same assumed LRF
(:func:`reconstruction_lrf`), so both methods see the same mismatch.

Drift time: the area-weighted centre of the main S2, minus half the
electroluminescence duration, minus the centre of the main S1.

Prompt fraction: from the main S1 waveform, the share of the area within
``prompt_window_ns`` after (10 %-area time − 10 ns), as in the event-level definition.

The main S1 and S2 waveforms are cut into fixed windows (``s1_trace_ns`` starting
``s1_pre_ns`` before the S1's first sample, ``s2_trace_ns`` centred on the S2) for
the peak images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from threadpoolctl import threadpool_limits

from wimpsift.config import WimpsiftConfig, only_with
from wimpsift.detectors.pmt_arrays import PmtArrays
from wimpsift.errors import ConfigError
from wimpsift.events import EVENT_COLUMNS
from wimpsift.processing.corrections import corrected_s1_pe, corrected_s2_pe
from wimpsift.processing.peaks import PeakSettings, find_peaks, main_peaks, s2_merge_gap_ns
from wimpsift.processing.selection import in_fiducial, in_window, passes_threshold
from wimpsift.processing.topology import event_profile, s2_multiplicity, topology_columns
from wimpsift.response.charge import depth_cm
from wimpsift.response.pmt_light import DEFAULT_OPTICS, OpticalSettings, s2_top_lrf
from wimpsift.seeding import generator
from wimpsift.waveforms.event import WaveformEvents


class LrfMismatch(WimpsiftConfig):
    """How the reconstruction's light response differs from the simulation's."""

    pmt_efficiency_rms: Annotated[float, Field(ge=0, lt=0.5)] = 0.05
    lrf_height_scale: Annotated[float, Field(gt=0.5, lt=2.0)] = 1.10
    seed: Annotated[int, Field(ge=0)] = 0


class ProcessingSettings(WimpsiftConfig):
    """Settings of the event reconstruction."""

    peaks: PeakSettings = Field(default_factory=PeakSettings)
    s1_trace_ns: Annotated[float, Field(gt=0)] = 500.0
    s1_pre_ns: Annotated[float, Field(ge=0)] = 50.0
    s2_trace_ns: Annotated[float, Field(gt=0)] = 10_000.0
    xy_grid_cm: Annotated[float, Field(gt=0)] = 1.0
    event_bins: Annotated[int, Field(ge=10, le=100_000)] = 1000
    """time bins of the whole-event profile (``event`` images)"""
    xy_method: Literal["likelihood", "cnn"] = "likelihood"
    xy_model_path: Path | None = None
    xy_model_sha256: str | None = None
    """SHA-256 of the ``xy_model_path`` file, read from it when not given"""
    lrf_mismatch: LrfMismatch | None = Field(default_factory=LrfMismatch)

    @model_validator(mode="before")
    @classmethod
    def _model_digest(cls, data: Any) -> Any:
        """The position network's contents enter the settings, not only its path (a file
        that cannot be read is left to the processing's one-line error)."""
        if (isinstance(data, Mapping) and data.get("xy_method") == "cnn"
                and data.get("xy_model_path") is not None and data.get("xy_model_sha256") is None):
            path = Path(data["xy_model_path"])
            if path.is_file():
                data = {**data, "xy_model_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        return data

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a network the digest is left out: such settings dump (and key caches)
        as they did before it existed."""
        dumped = handler(self)
        if self.xy_model_sha256 is None:
            dumped.pop("xy_model_sha256", None)
        return dumped

    @field_validator("xy_model_path", "xy_model_sha256")
    @classmethod
    def _model_only_for_cnn(cls, value: Any, info: ValidationInfo) -> Any:
        """The likelihood fit reads no network: a model given with it would be ignored
        (the same positions, even from a file that does not exist)."""
        method = info.data.get("xy_method")
        if value is not None and method is not None and method != "cnn":
            raise only_with("xy_method", "cnn", f", not {method!r}")
        return value

    @model_validator(mode="after")
    def _model_for_cnn(self) -> ProcessingSettings:
        if self.xy_method == "cnn" and self.xy_model_path is None:
            raise ValueError("xy_model_path is required when xy_method is 'cnn'")
        return self


@dataclass
class ProcessedEvents:
    """Processed events: the event table and the inputs of the images.

    ``s1_pmt_area_pe`` / ``s2_pmt_area_pe``: (N, n_pmts) hit patterns of the main S1/S2;
    ``s1_trace_pe`` / ``s2_trace_pe``: (N, samples) main S1/S2 waveforms, PE per sample.
    """

    table: pd.DataFrame
    s1_pmt_area_pe: np.ndarray
    s2_pmt_area_pe: np.ndarray
    s1_trace_pe: np.ndarray
    s2_trace_pe: np.ndarray
    arrays: PmtArrays
    sample_ns: float
    event_trace_pe: np.ndarray | None = None
    """(N, event_bins) whole-event profile, mean PE per sample (processing.topology)"""

    def __len__(self) -> int:
        return len(self.table)

    def select(self, mask: np.ndarray) -> ProcessedEvents:
        mask = np.asarray(mask)
        return ProcessedEvents(
            self.table[mask].reset_index(drop=True), self.s1_pmt_area_pe[mask],
            self.s2_pmt_area_pe[mask], self.s1_trace_pe[mask], self.s2_trace_pe[mask],
            self.arrays, self.sample_ns,
            None if self.event_trace_pe is None else self.event_trace_pe[mask],
        )


def reconstruction_lrf(x_cm, y_cm, arrays: PmtArrays, optics: OpticalSettings = DEFAULT_OPTICS,
                       mismatch: LrfMismatch | None = None) -> np.ndarray:
    """Top-array LRF (N, n_top) that the reconstruction assumes; rows sum to 1.

    With ``mismatch=None`` it is the simulation's :func:`s2_top_lrf`; otherwise the EL
    height is scaled and each PMT's efficiency multiplied by its fixed random factor.
    """
    if mismatch is None:
        return s2_top_lrf(x_cm, y_cm, arrays, optics)
    height_cm = (arrays.top_plane_z_cm - arrays.el_plane_z_cm) * mismatch.lrf_height_scale
    assumed = replace(arrays, top_plane_z_cm=arrays.el_plane_z_cm + height_cm)
    lrf = s2_top_lrf(x_cm, y_cm, assumed, optics) * pmt_efficiencies(arrays.n_top, mismatch)
    return lrf / lrf.sum(axis=1, keepdims=True)


def pmt_efficiencies(n_pmts: int, mismatch: LrfMismatch) -> np.ndarray:
    """Fixed relative efficiency errors (n_pmts,), N(1, rms) clipped to [0.5, 1.5]."""
    rng = generator(mismatch.seed, "lrf_mismatch", int(n_pmts))
    return np.clip(1 + mismatch.pmt_efficiency_rms * rng.standard_normal(n_pmts), 0.5, 1.5)


@lru_cache(maxsize=8)
def _lrf_grid(arrays: PmtArrays, optics: OpticalSettings, step_cm: float, radius_cm: float,
              mismatch: LrfMismatch | None):
    n = int(np.ceil(radius_cm / step_cm)) + 1
    axis = np.arange(-n, n + 1) * step_cm
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    lrf = reconstruction_lrf(gx.ravel(), gy.ravel(), arrays, optics, mismatch)
    log_lrf = np.log(lrf).astype(np.float32)
    outside = np.hypot(gx, gy).ravel() > radius_cm + step_cm
    return axis, log_lrf, outside


def reconstruct_xy_likelihood(
    top_area_pe: np.ndarray, arrays: PmtArrays, radius_cm: float,
    optics: OpticalSettings = DEFAULT_OPTICS, step_cm: float = 1.0,
    mismatch: LrfMismatch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in cm maximising the Poisson likelihood of the top hit patterns (N, n_top)
    against :func:`reconstruction_lrf` (the true LRF when ``mismatch`` is None)."""
    axis, log_lrf, outside = _lrf_grid(arrays, optics, float(step_cm), float(radius_cm),
                                       mismatch)
    counts = np.maximum(np.asarray(top_area_pe, dtype=np.float32), 0.0)
    # one BLAS thread: a multi-threaded sgemm sums in another order, and the positions
    # (hence cS1, cS2 and the images) would depend on the cores of the machine or worker
    with threadpool_limits(limits=1, user_api="blas"):
        ll = counts @ log_lrf.T  # (N, G); Σ_i n_i log p_i, p normalised over the top array
    ll[:, outside] = -np.inf
    m = axis.size
    best = np.argmax(ll, axis=1)
    ix, iy = np.divmod(best, m)
    ll = ll.reshape(-1, m, m)
    rows = np.arange(counts.shape[0])

    def refine(i_center, get):
        inner = (i_center > 0) & (i_center < m - 1)
        c = np.clip(i_center, 1, m - 2)
        l0, lm, lp = get(c), get(c - 1), get(c + 1)
        denom = lm - 2 * l0 + lp
        ok = inner & np.isfinite(lm) & np.isfinite(lp) & (denom < 0)
        delta = np.where(ok, 0.5 * (lm - lp) / np.where(ok, denom, -1.0), 0.0)
        return np.clip(delta, -0.5, 0.5)

    dx = refine(ix, lambda c: ll[rows, c, iy])
    dy = refine(iy, lambda c: ll[rows, ix, c])
    x = axis[ix] + dx * step_cm
    y = axis[iy] + dy * step_cm
    empty = counts.sum(axis=1) <= 0
    x[empty], y[empty] = 0.0, 0.0
    return x, y


def reconstruct_xy(top_area_pe: np.ndarray, arrays: PmtArrays, radius_cm: float,
                   optics: OpticalSettings, settings: ProcessingSettings
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in cm of top hit patterns (N, n_top) by the method of ``settings``."""
    if settings.xy_method == "likelihood":
        return reconstruct_xy_likelihood(top_area_pe, arrays, radius_cm, optics,
                                         settings.xy_grid_cm, settings.lrf_mismatch)
    from wimpsift.training.position import load_position_model, same_layout

    model = load_position_model(settings.xy_model_path)
    if not same_layout(model.arrays, arrays):
        raise ConfigError(f"xy_model_path: the network was trained for another PMT layout "
                          f"({model.arrays.n_top} + {model.arrays.n_bottom} PMTs), expected the "
                          f"detector's ({arrays.n_top} + {arrays.n_bottom})")
    return model.predict_xy(top_area_pe)


def _prompt_fraction(trace: np.ndarray, sample_ns: float, window_ns: float) -> float:
    w = np.maximum(trace.astype(float), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(w)])
    total = cum[-1]
    if total <= 0:
        return float("nan")
    edges = np.arange(cum.size) * sample_ns
    t10 = float(np.interp(0.1 * total, cum, edges))
    start = t10 - 10.0
    return float((np.interp(start + window_ns, edges, cum) - np.interp(start, edges, cum)) / total)


def process_events(raw: WaveformEvents, settings: ProcessingSettings | None = None
                   ) -> ProcessedEvents:
    """Reconstruct every event of ``raw`` into the processed event table and image inputs."""
    settings = settings or ProcessingSettings()
    detector, arrays = raw.detector, raw.arrays
    n, n_pmts = len(raw.events), arrays.n_pmts
    dt = raw.settings.sample_ns
    n1 = int(round(settings.s1_trace_ns / dt))
    n2 = int(round(settings.s2_trace_ns / dt))
    pre1 = int(round(settings.s1_pre_ns / dt))
    coincidence = detector.light.s1_coincidence_pmts
    window_ns = detector.light.prompt_window_ns

    s1_pmt = np.zeros((n, n_pmts), dtype=np.float32)
    s2_pmt = np.zeros((n, n_pmts), dtype=np.float32)
    s1_trace = np.zeros((n, n1), dtype=np.float32)
    s2_trace = np.zeros((n, n2), dtype=np.float32)
    cols = {k: np.zeros(n) for k in ("s1", "s2", "s1_t", "s2_t", "s1_w", "s2_w", "pf")}
    s1_npmts = np.zeros(n, dtype=np.int64)
    has_s1 = np.zeros(n, bool)
    has_s2 = np.zeros(n, bool)
    n_peaks = np.zeros(n, dtype=np.int64)
    s2_counts = []
    event_window_ns = (raw.settings.pre_trigger_us + detector.max_drift_time_us
                       + raw.settings.post_s2_us) * 1000.0
    bin_samples = max(1, int(np.ceil(event_window_ns / dt / settings.event_bins)))
    event_trace = np.zeros((n, settings.event_bins), dtype=np.float32)
    merge_ns = s2_merge_gap_ns(detector, raw.settings.el_duration_ns)
    for i, event in enumerate(raw.events):
        peaks = find_peaks(event, n_pmts, coincidence, settings.peaks, merge_ns)
        s2_counts.append(s2_multiplicity(peaks, detector.charge.s2_threshold_pe))
        event_trace[i] = event_profile(event, settings.event_bins, bin_samples)
        n_peaks[i] = len(peaks)
        i1, i2 = main_peaks(peaks)
        if i1 >= 0:
            has_s1[i] = True
            cols["s1"][i] = peaks.area_pe[i1]
            cols["s1_t"][i] = peaks.center_ns[i1]
            cols["s1_w"][i] = peaks.width_ns[i1]
            s1_npmts[i] = peaks.n_pmts[i1]
            s1_pmt[i] = peaks.pmt_area_pe[i1]
            s1_trace[i] = event.waveform_slice(int(peaks.start_sample[i1]) - pre1, n1)
            peak_wave = event.waveform_slice(int(peaks.start_sample[i1]),
                                             int(peaks.end_sample[i1] - peaks.start_sample[i1]))
            cols["pf"][i] = _prompt_fraction(peak_wave, dt, window_ns)
        else:
            cols["pf"][i] = np.nan
        if i2 >= 0:
            has_s2[i] = True
            cols["s2"][i] = peaks.area_pe[i2]
            cols["s2_t"][i] = peaks.center_ns[i2]
            cols["s2_w"][i] = peaks.width_ns[i2]
            s2_pmt[i] = peaks.pmt_area_pe[i2]
            s2_trace[i] = event.waveform_slice(int(round(peaks.center_ns[i2] / dt)) - n2 // 2, n2)

    both = has_s1 & has_s2
    drift = np.where(
        both, (cols["s2_t"] - raw.settings.el_duration_ns / 2 - cols["s1_t"]) / 1000.0, 0.0)
    drift = np.maximum(drift, 0.0)
    z = depth_cm(drift, detector)
    top = s2_pmt[:, arrays.top]
    x, y = reconstruct_xy(top, arrays, detector.geometry.tpc_radius_cm, raw.optics, settings)
    r = np.hypot(x, y)
    s1, s2 = cols["s1"], cols["s2"]
    s2_top = top.sum(axis=1).astype(float)
    s2_bottom = s2_pmt[:, arrays.bottom].sum(axis=1).astype(float)
    cs1 = np.where(has_s1, corrected_s1_pe(s1, x, y, z, detector), 0.0)
    cs2 = corrected_s2_pe(s2, drift, detector)
    cs2_b = corrected_s2_pe(s2_bottom, drift, detector)
    threshold = passes_threshold(s1_npmts, s2, detector) & both
    fiducial = in_fiducial(r, z, detector) & both
    truth = raw.truth
    table = pd.DataFrame({
        "event_id": truth["event_id"].to_numpy(),
        "source": truth["source"].to_numpy(),
        "recoil_type": truth["recoil_type"].to_numpy(),
        "energy_kev": truth["energy_kev"].to_numpy(),
        "x_true_cm": truth["x_true_cm"].to_numpy(),
        "y_true_cm": truth["y_true_cm"].to_numpy(),
        "z_true_cm": truth["z_true_cm"].to_numpy(),
        "n_photons": truth["n_photons"].to_numpy(),
        "n_electrons": truth["n_electrons"].to_numpy(),
        "drift_time_us": drift,
        "x_cm": x, "y_cm": y, "z_cm": z, "r_cm": r,
        "s1_area_pe": s1, "s2_area_pe": s2,
        "s2_top_area_pe": s2_top, "s2_bottom_area_pe": s2_bottom,
        "s1_n_pmts": s1_npmts,
        "s1_prompt_fraction": cols["pf"],
        "cs1_pe": cs1, "cs2_pe": cs2, "cs2_bottom_pe": cs2_b,
        "passes_threshold": threshold,
        "in_fiducial": fiducial,
        "in_window": threshold & fiducial & in_window(cs1, s2, detector, cs2_b),
    })
    assert list(table.columns) == list(EVENT_COLUMNS)
    table["s1_width_ns"] = cols["s1_w"]
    table["s2_width_ns"] = cols["s2_w"]
    table["n_peaks"] = n_peaks
    for extra in ("s2_x_true_cm", "s2_y_true_cm", "drift_time_true_us", "s1_true_area_pe",
                  "s2_true_area_pe"):
        table[extra] = truth[extra].to_numpy()
    table = table.join(topology_columns(table, s2_counts, s1_pmt, s2_pmt, arrays, detector,
                                        raw.optics, raw.settings.el_duration_ns))
    return ProcessedEvents(table, s1_pmt, s2_pmt, s1_trace, s2_trace, arrays, dt, event_trace)


def resolution_summary(table: pd.DataFrame) -> dict[str, float]:
    """Reconstruction against truth for events passing the threshold (waveform level).

    Returns the fraction passing, the (x, y) resolution (median and 68 % quantile of the
    radial distance, cm), the z resolution (68 % quantile of |Δz|, cm), the drift-time
    bias (median, µs), and the area bias (median of reconstructed/true − 1) and relative
    resolution (half the 16–84 % spread) of the main S1 and S2, against the light that
    the simulated S1 and S2 deposited.
    """
    t = table[table["passes_threshold"]]
    if len(t) == 0:
        return {"n_events": 0.0, "passing_fraction": 0.0}
    dr = np.hypot(t["x_cm"] - t["s2_x_true_cm"], t["y_cm"] - t["s2_y_true_cm"])
    dz = np.abs(t["z_cm"] - t["z_true_cm"])
    out = {
        "n_events": float(len(t)),
        "passing_fraction": float(len(t) / len(table)),
        "xy_median_cm": float(np.median(dr)),
        "xy_68_cm": float(np.quantile(dr, 0.68)),
        "z_68_cm": float(np.quantile(dz, 0.68)),
        "drift_time_bias_us": float(np.median(t["drift_time_us"] - t["drift_time_true_us"])),
    }
    for name in ("s1", "s2"):
        true = t[f"{name}_true_area_pe"].to_numpy()
        ok = true > 0
        ratio = t[f"{name}_area_pe"].to_numpy()[ok] / true[ok] - 1
        q16, q50, q84 = np.quantile(ratio, [0.16, 0.5, 0.84])
        out[f"{name}_area_bias"] = float(q50)
        out[f"{name}_area_resolution"] = float((q84 - q16) / 2)
    return out
