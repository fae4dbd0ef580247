"""Position reconstruction from S2 hit patterns: train the CNN, compare it with the likelihood.

Training set: S2 hit patterns simulated with the light response the *analysis assumes*
(:func:`wimpsift.processing.reconstruction.reconstruction_lrf`, including the
light-response mismatch, on by default), exactly as the likelihood fit assumes it: a
network trained on a simulation is only as good as that simulation's LRF. Each event's
interaction comes from :func:`wimpsift.response.interaction_level.sample_interactions` (positions
uniform in the active volume, NEST quanta, drift, extraction) and its S2 from
:func:`wimpsift.waveforms.s2.s2_pulse` (photons per electron, multinomial sharing among
PMTs, double-PE emission, gain spread), the same functions the waveform simulation uses;
only the top-array areas are kept, so no full event window is built.

Training (measured in ``benchmarks/bench_positions.py`` and the ``reproduce cnn``
position stage; the training is limited by Adam steps, not by patterns, which cost
about 1 s per 5000):

- input: each PMT's area over the event's largest (the pattern's shape); fractions of
  the top-array total, their square roots and log(1 + PE) were measured worse at the
  same number of steps;
- symmetry augmentation: the PMT arrays map onto themselves under the rotations and
  reflections of :func:`array_symmetries` (12 for the shipped hexagonal layouts), and
  so does the light response except for the assumed per-PMT efficiencies of the
  mismatch; each epoch every pattern is moved by a random element. This is exact for
  the geometry and scrambles the assumed efficiency errors, which the true response
  does not have (measured when chosen: 0.74 → 0.70 cm RMS at 12,000 patterns and 10 epochs);
- one-cycle learning rate (peak ``learning_rate``), not cosine annealing: faster at
  the same number of steps (when chosen: 0.90 → 0.84 cm at 6000 patterns, 8 epochs).

Test set: the full waveform simulation (:func:`wimpsift.waveforms.simulate_waveform_events`,
true light response) and processing (peak finding; the main S2's per-PMT areas). Every
method is scored on the same events against the true S2 position:

- ``cnn``: :class:`PositionReconstructor` (:mod:`wimpsift.models.position_cnn`),
  averaged over the array's symmetries (:meth:`PositionReconstructor.predict_xy`);
- ``cnn_single``: the same network applied once (no averaging);
- ``likelihood``: the processing's Poisson likelihood fit with the mismatched LRF;
- ``likelihood_true_lrf``: the same fit with the simulation's own LRF (optimistic bound);
- ``centre_of_gravity``: the area-weighted mean of the top PMT positions (trivial).

Resolution is the RMS of the 2-D distance |(x, y)_rec − (x, y)_true| (cm), in bins of
the S2 top-array area and of the true radius; the wall bias is the mean of
r_rec − r_true for true radii within ``wall_band_cm`` of the TPC wall.

Published anchors (set beside our numbers, not tuned to): a network on simulated
XENONnT hit patterns (arXiv:2205.10305) reaches about 0.69 cm RMS in the bulk
(r < 60 cm) and 0.98 cm near the wall (r > 60 cm), about 0.09 and 0.12 of its sensor
spacing; :data:`PUBLISHED_ANCHORS` holds them.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field, ValidationError

from wimpsift.config import WimpsiftConfig, validation_message
from wimpsift.detectors import Detector, load_detector
from wimpsift.detectors.pmt_arrays import PmtArrays, pmt_arrays
from wimpsift.errors import DataError, bad_value, first_line
from wimpsift.images.hit import render_pattern
from wimpsift.models.position_cnn import PositionCNN, PositionCNNArchitecture, coordinate_channels
from wimpsift.processing.reconstruction import (
    LrfMismatch,
    ProcessingSettings,
    process_events,
    reconstruct_xy_likelihood,
    reconstruction_lrf,
)
from wimpsift.provenance import atomic_path, provenance
from wimpsift.response.interaction_level import sample_interactions
from wimpsift.response.pmt_light import DEFAULT_OPTICS, s2_bottom_pattern
from wimpsift.seeding import generator, torch_generator
from wimpsift.sources import Source, make_source
from wimpsift.waveforms import simulate_waveform_events
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.pulse import spe_kernel
from wimpsift.waveforms.s2 import s2_pulse

PUBLISHED_ANCHORS = {
    "source": "arXiv:2205.10305 (simulated XENONnT, Bayesian network; "
              "comparable to XENONnT's neural networks)",
    "bulk_rms_cm": 0.69,
    "wall_rms_cm": 0.98,
    "bulk_rms_per_pmt_spacing": 0.09,
    "wall_rms_per_pmt_spacing": 0.12,
}

METHODS = ("cnn", "cnn_single", "likelihood", "likelihood_true_lrf", "centre_of_gravity")
FORMAT = "wimpsift-position-cnn-1"


#: the most events one training or evaluation simulates
MAX_EVENTS = 500_000


class PositionTrainingConfig(WimpsiftConfig):
    """What the position CNN is trained on and how."""

    detector: str = "xenon1t_sr0"
    n_events: Annotated[int, Field(ge=100, le=MAX_EVENTS)] = 20_000
    wimp_mass_gev: Annotated[float, Field(gt=0)] = 50.0
    """half the events are WIMP recoils (small S2s), half ER (large S2s)"""
    epochs: Annotated[int, Field(ge=1, le=500)] = 8
    batch_size: Annotated[int, Field(ge=1, le=65_536)] = 32
    """small batches: more Adam steps for the same CPU time (measured better than 64 or 128)"""
    learning_rate: Annotated[float, Field(gt=0, lt=1)] = 4e-3
    """peak learning rate of the one-cycle schedule"""
    augment_symmetries: bool = True
    """each epoch, every training pattern is moved by a random element of the top
    array's symmetry group (:func:`array_symmetries`), its position with it"""
    validation_fraction: Annotated[float, Field(ge=0, lt=0.5)] = 0.1
    min_s2_top_pe: Annotated[float, Field(ge=0)] = 50.0
    """events with less S2 light on the top array are left out of training"""
    arch: PositionCNNArchitecture = Field(default_factory=PositionCNNArchitecture)
    lrf_mismatch: LrfMismatch | None = Field(default_factory=LrfMismatch)
    threads: Annotated[int, Field(ge=1, le=64)] = 1
    """torch CPU threads while training (one is fastest on a shared machine)"""
    seed: int = 0


def training_sources(detector: Detector, wimp_mass_gev: float) -> list[Source]:
    """The two sources of training and test events: ER, then WIMP recoils."""
    return [make_source(detector, "er"), make_source(detector, "wimp", mass_gev=wimp_mass_gev)]


def simulate_top_patterns(
    detector: Detector, source: Source, n_events: int, seed: int,
    mismatch: LrfMismatch | None, chunk_index: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-array S2 areas (N, n_top) PE with the assumed LRF, and true (x, y) in cm."""
    arrays = pmt_arrays(detector)
    rng = generator(seed, "position_patterns", int(chunk_index))
    it = sample_interactions(detector, source, int(n_events), rng, "active")
    f_top = detector.charge.s2_top_fraction
    top = reconstruction_lrf(it.s2_x_cm, it.s2_y_cm, arrays, DEFAULT_OPTICS, mismatch)
    bottom = s2_bottom_pattern(it.s2_x_cm, it.s2_y_cm, arrays, DEFAULT_OPTICS)
    pattern = np.concatenate([f_top * top, (1 - f_top) * bottom], axis=1)
    wf = WaveformSettings()
    kernel = spe_kernel(wf.sample_ns, wf.spe_rise_ns, wf.spe_decay_ns)
    areas = np.zeros((int(n_events), arrays.n_top), dtype=np.float32)
    for i in range(int(n_events)):
        pulse = s2_pulse(int(it.n_extracted[i]), 0.0, 0.0, pattern[i], detector, kernel,
                         wf.sample_ns, wf.el_duration_ns, rng)
        if pulse is not None:
            areas[i] = pulse.pmt_area_pe[arrays.top]
    return areas, np.asarray(it.s2_x_cm, float), np.asarray(it.s2_y_cm, float)


def array_symmetries(arrays: PmtArrays, tolerance: float = 0.05
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rotations and reflections that map the top array onto itself.

    Each element is ``(perm, matrix)``: ``matrix`` (2, 2) moves a point, and the PMT at
    top index ``i`` lands on top index ``perm[i]``, so a pattern ``a`` becomes
    ``b[:, perm] = a``. Candidates are rotations by multiples of 15° and reflections
    about axes at multiples of 3.75° (every symmetry of a hexagonal or square layout);
    one is kept when every PMT lands within ``tolerance`` × the PMT radius of another.
    The identity is always first. The four shipped layouts each have 12 (hexagon).
    """
    top = arrays.top
    xy = np.stack([arrays.x_cm[top], arrays.y_cm[top]], axis=1)
    matrices = [np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
                for t in 2 * np.pi * np.arange(24) / 24]
    matrices += [np.array([[np.cos(2 * p), np.sin(2 * p)], [np.sin(2 * p), -np.cos(2 * p)]])
                 for p in np.pi * np.arange(48) / 48]
    out = []
    for matrix in matrices:
        moved = xy @ matrix.T
        d2 = ((moved[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        perm = d2.argmin(axis=1)
        if np.sqrt(d2.min(axis=1)).max() < tolerance * arrays.pmt_radius_cm and \
                np.unique(perm).size == perm.size:
            out.append((perm, matrix))
    return out


@lru_cache(maxsize=8)
def _symmetries(arrays: PmtArrays) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    return tuple(array_symmetries(arrays))


def apply_symmetries(top_area_pe: np.ndarray, xy: np.ndarray, element: np.ndarray,
                     symmetries: list[tuple[np.ndarray, np.ndarray]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Patterns (N, n_top) and positions (N, 2) moved by ``symmetries[element[k]]`` each."""
    area, moved = np.empty_like(top_area_pe), np.empty_like(xy)
    for j, (perm, matrix) in enumerate(symmetries):
        rows = element == j
        area[np.ix_(rows, perm)] = top_area_pe[rows]
        moved[rows] = xy[rows] @ matrix.T
    return area, moved


def rasterise(top_area_pe: np.ndarray, arrays: PmtArrays, grid_pixels: int) -> torch.Tensor:
    """(N, 3, S, S) network input: pattern / max PMT area, then the coordinate channels."""
    area = np.clip(np.asarray(top_area_pe, dtype=np.float32), 0, None)
    peak = area.max(axis=1, keepdims=True)
    norm = np.divide(area, peak, out=np.zeros_like(area), where=peak > 0)
    image = torch.from_numpy(render_pattern(norm, arrays, "top", grid_pixels, grid_pixels))
    coords = coordinate_channels(grid_pixels).expand(image.shape[0], -1, -1, -1)
    return torch.cat([image[:, None], coords], dim=1).contiguous()


@dataclass
class PositionReconstructor:
    """A trained position CNN with what it needs to be applied: PMT layout and radius."""

    model: PositionCNN
    arrays: PmtArrays
    """the PMT layout the network was trained on (stored in the file)"""
    radius_cm: float
    meta: dict[str, Any] = field(default_factory=dict)

    def trained_detector(self) -> Detector:
        """The detector the network was trained on: the whole definition its file records
        (files written before it was recorded name a detector, loaded by that name)."""
        definition = self.meta.get("detector_definition")
        if definition is not None:
            return Detector.model_validate(definition)
        return load_detector(self.meta.get("detector", "xenon1t_sr0"))

    def predict_xy(self, top_area_pe: np.ndarray, batch_size: int = 4096,
                   symmetrised: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in cm for top hit patterns (N, n_top); events without light give (0, 0).

        ``symmetrised``: the network is applied to the pattern moved by every symmetry
        of the array (:func:`array_symmetries`), each answer is moved back, and the
        answers are averaged. The network is only approximately equivariant, so its
        errors partly average out (measured when chosen: 0.72 → 0.66 cm RMS on waveform-level test
        events, for as many network evaluations as symmetries: 12 for the shipped
        layouts)."""
        area = np.asarray(top_area_pe, dtype=np.float32)
        arrays = self.arrays
        if area.ndim != 2 or area.shape[1] != arrays.n_top:
            raise bad_value("top_area_pe", area.shape, f"(N, {arrays.n_top}) top-array areas")
        group = _symmetries(arrays) if symmetrised else ((np.arange(arrays.n_top), np.eye(2)),)
        out = np.zeros((area.shape[0], 2))
        self.model.eval()
        with torch.no_grad():
            for perm, matrix in group:
                moved = np.empty_like(area)
                moved[:, perm] = area
                for start in range(0, area.shape[0], batch_size):
                    x = rasterise(moved[start:start + batch_size], arrays,
                                  self.model.arch.grid_pixels)
                    xy = self.model(x).double().numpy() * self.radius_cm
                    out[start:start + batch_size] += xy @ matrix  # moved back: M⁻¹ = Mᵀ
        out /= len(group)
        empty = area.sum(axis=1) <= 0
        out[empty] = 0.0
        return out[:, 0], out[:, 1]

    def save(self, path: str | Path) -> Path:
        """Write the state dict and metadata (JSON text) with ``torch.save``, atomically.

        Saved through memory so the archive's inner name does not depend on the file
        name: the same network gives the same bytes."""
        path = Path(path)
        payload = {"format": FORMAT, "state_dict": self.model.state_dict(),
                   "meta": json.dumps({"arrays": _arrays_record(self.arrays), "radius_cm": self.radius_cm,
                                       "arch": self.model.arch.model_dump(), **self.meta},
                                      sort_keys=True)}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())
        return path


def _arrays_record(arrays: PmtArrays) -> dict[str, Any]:
    """The PMT layout as plain JSON values (positions as lists)."""
    return {f.name: (getattr(arrays, f.name).tolist() if isinstance(getattr(arrays, f.name), np.ndarray)
                     else getattr(arrays, f.name)) for f in fields(arrays)}


def same_layout(a: PmtArrays, b: PmtArrays) -> bool:
    """Whether two PMT layouts have the same top and bottom positions."""
    return (a.n_top, a.n_bottom) == (b.n_top, b.n_bottom) and np.allclose(a.x_cm, b.x_cm) \
        and np.allclose(a.y_cm, b.y_cm)


def load_position_model(path: str | Path, parameter: str = "xy_model_path"
                        ) -> PositionReconstructor:
    """Read a saved position CNN (``weights_only=True``: nothing in the file can run).

    ``parameter`` names the setting in error messages."""
    path = Path(path)
    if not path.is_file():
        raise bad_value(parameter, str(path), "a position-CNN file written by wimpsift")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; torch's own error
        # for anything else is a bare number (KeyError of the legacy format's magic)
        raise DataError(f"{parameter}: {str(path)!r} is not a {FORMAT} file (not a torch file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != FORMAT:
            raise ValueError(payload.get("format"))
        meta = json.loads(payload["meta"])
        model = PositionCNN(PositionCNNArchitecture(**meta.pop("arch")))
        model.load_state_dict(payload["state_dict"])
        arrays = PmtArrays(**{k: np.asarray(v, dtype=float) if isinstance(v, list) else v
                              for k, v in meta.pop("arrays").items()})
        radius_cm = float(meta.pop("radius_cm"))
        reconstructor = PositionReconstructor(model, arrays, radius_cm, meta)
        if "detector_definition" in meta:  # a damaged one is refused here, not when evaluated
            try:
                reconstructor.trained_detector()
            except ValidationError as err:
                raise ValueError(f"its detector definition: {validation_message(err)}") from err
    except pickle.UnpicklingError as err:  # a pickle that is not plain tensors and dicts
        raise DataError(f"{parameter}: {str(path)!r} is not a {FORMAT} file (not a weights-only "
                        "torch file)") from err
    except Exception as err:  # any unreadable, foreign or inconsistent file
        reason = (f"no {err.args[0]!r} entry" if isinstance(err, KeyError) and err.args
                  else first_line(err))
        raise DataError(f"{parameter}: {str(path)!r} is not a {FORMAT} file ({reason})") from err
    model.eval()
    return reconstructor


def training_patterns(config: PositionTrainingConfig
                      ) -> tuple[np.ndarray, np.ndarray, Detector]:
    """Training hit patterns (N, n_top) and true positions (N, 2) cm, both sources mixed."""
    detector = load_detector(config.detector)
    areas, xy = [], []
    n_first = config.n_events // 2
    for k, (source, n) in enumerate(zip(training_sources(detector, config.wimp_mass_gev),
                                        (n_first, config.n_events - n_first), strict=True)):
        a, x, y = simulate_top_patterns(detector, source, n, config.seed, config.lrf_mismatch, k)
        areas.append(a)
        xy.append(np.stack([x, y], axis=1))
    area, xy_cm = np.concatenate(areas), np.concatenate(xy)
    keep = area.sum(axis=1) >= config.min_s2_top_pe
    return area[keep], xy_cm[keep], detector


def train_position_cnn(config: PositionTrainingConfig, progress: bool = False
                       ) -> PositionReconstructor:
    """Simulate the training set and fit the CNN (Adam with a one-cycle learning rate,
    MSE on (x, y) / radius; with ``augment_symmetries`` each epoch sees every pattern
    moved by a random symmetry of the array).

    Deterministic: the weights depend only on the configuration (seeded initialisation,
    shuffling and symmetry draws; CPU). The validation patterns are a random
    ``validation_fraction`` of the simulated ones (both sources). The last epoch's weights
    are kept; the validation RMS of each epoch (on the patterns as simulated) is recorded
    in ``meta["history"]``.
    """
    area, xy_cm, detector = training_patterns(config)
    # the sources come one after the other: shuffled, so the validation patterns are a
    # random share of both (not the last source's alone)
    order = generator(config.seed, "position_cnn", "split").permutation(len(xy_cm))
    area, xy_cm = area[order], xy_cm[order]
    arrays = pmt_arrays(detector)
    radius = float(detector.geometry.tpc_radius_cm)
    n_val = int(round(config.validation_fraction * len(xy_cm)))
    n_train = len(xy_cm) - n_val
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        model, history = _fit(area, xy_cm, n_train, arrays, radius, config, progress)
    finally:
        torch.set_num_threads(threads)
    meta = {"detector": config.detector, "detector_definition": detector.model_dump(mode="json"),
            "provenance": provenance(config, config.seed, "position_cnn"),
            "history": history, "n_train": n_train, "n_validation": n_val}
    return PositionReconstructor(model, arrays, radius, meta)


def _fit(area: np.ndarray, xy_cm: np.ndarray, n_train: int, arrays: PmtArrays, radius: float,
         config: PositionTrainingConfig, progress: bool) -> tuple[PositionCNN, list[float]]:
    pixels = config.arch.grid_pixels
    model = PositionCNN(config.arch, torch_generator(config.seed, "position_cnn", "weights"))
    generator = torch_generator(config.seed, "position_cnn", "batches")
    symmetries = array_symmetries(arrays) if config.augment_symmetries else []
    draws = torch_generator(config.seed, "position_cnn", "symmetries")
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    steps = -(-n_train // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate,
                                                    total_steps=config.epochs * steps)
    inputs = rasterise(area[:n_train], arrays, pixels)
    targets = torch.from_numpy((xy_cm[:n_train] / radius).astype(np.float32))
    val_inputs = rasterise(area[n_train:], arrays, pixels)
    val_targets = torch.from_numpy((xy_cm[n_train:] / radius).astype(np.float32))
    history = []
    for epoch in range(config.epochs):
        if len(symmetries) > 1:
            element = torch.randint(len(symmetries), (n_train,), generator=draws).numpy()
            moved, moved_xy = apply_symmetries(area[:n_train], xy_cm[:n_train], element,
                                               symmetries)
            inputs = rasterise(moved, arrays, pixels)
            targets = torch.from_numpy((moved_xy / radius).astype(np.float32))
        model.train()
        order = torch.randperm(n_train, generator=generator)
        for start in range(0, n_train, config.batch_size):
            batch = order[start:start + config.batch_size]
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
            loss.backward()
            optimiser.step()
            scheduler.step()
        if len(val_targets):
            model.eval()
            with torch.no_grad():
                d = model(val_inputs) - val_targets
            rms = float(torch.sqrt((d**2).sum(dim=1).mean())) * radius
            history.append(round(rms, 6))
            if progress:
                print(f"epoch {epoch + 1}/{config.epochs}: validation RMS {rms:.3f} cm")
    model.eval()
    return model, history


def centre_of_gravity_xy(top_area_pe: np.ndarray, arrays: PmtArrays
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted mean of the top PMT positions (cm): the trivial estimator."""
    area = np.clip(np.asarray(top_area_pe, dtype=float), 0, None)
    total = np.maximum(area.sum(axis=1), 1e-12)
    top = arrays.top
    return area @ arrays.x_cm[top] / total, area @ arrays.y_cm[top] / total


def resolution_table(dx_cm: np.ndarray, dy_cm: np.ndarray, by: np.ndarray, edges: np.ndarray
                     ) -> list[dict[str, float]]:
    """RMS of |Δxy| (cm) in bins of ``by``; each row: lo, hi, n, rms_cm, rms_error_cm
    (None for empty bins, so the result is plain JSON)."""
    d2 = np.asarray(dx_cm) ** 2 + np.asarray(dy_cm) ** 2
    index = np.digitize(by, edges) - 1
    rows = []
    for i in range(len(edges) - 1):
        sel = d2[index == i]
        n = sel.size
        rms = float(np.sqrt(sel.mean())) if n else None
        # error of an RMS: σ(mean d²) / (2 rms)
        err = float(sel.std(ddof=1) / np.sqrt(n) / (2 * rms)) if n > 1 and rms else None
        rows.append({"lo": float(edges[i]), "hi": float(edges[i + 1]), "n": int(n),
                     "rms_cm": rms, "rms_error_cm": err})
    return rows


def training_lrf(meta: dict[str, Any]) -> str:
    """Which light response the network's training patterns were drawn with: "assumed"
    (the reconstruction's mismatched LRF, the default) or "true" (the simulation's own,
    ``positions train --no-mismatch``), read from the model's provenance; "unknown" for
    a file that does not say."""
    config = (meta.get("provenance") or {}).get("config") or {}
    if "lrf_mismatch" not in config:
        return "unknown"
    return "true" if config["lrf_mismatch"] is None else "assumed"


def evaluate_positions(
    reconstructor: PositionReconstructor, n_events: int, seed: int,
    mismatch: LrfMismatch | None = None, wimp_mass_gev: float = 50.0,
    wall_band_cm: float = 5.0, bulk_margin_cm: float = 10.0,
) -> dict[str, Any]:
    """Score every method of :data:`METHODS` on waveform-level test events.

    ``mismatch`` is the light-response mismatch of the ``likelihood`` method (default
    :class:`LrfMismatch`'s defaults). Events passing the S1/S2 thresholds are scored.
    Returns ``cnn_rms_cm`` and ``likelihood_rms_cm`` (all scored events), and per
    method: overall, bulk (r_true < R − ``bulk_margin_cm``) and wall (r_true > R −
    ``wall_band_cm``) RMS, the wall's radial bias, and tables against S2 top area and
    against true radius.
    """
    if not 2 <= int(n_events) <= MAX_EVENTS:
        raise bad_value("n_events", n_events, f"2 to {MAX_EVENTS:,} test events")
    mismatch = LrfMismatch() if mismatch is None else mismatch
    detector = reconstructor.trained_detector()
    arrays = pmt_arrays(detector)
    radius = float(detector.geometry.tpc_radius_cm)
    tables, tops, truths = [], [], []
    n_first = int(n_events) // 2
    for k, (source, n) in enumerate(zip(training_sources(detector, wimp_mass_gev),
                                        (n_first, int(n_events) - n_first), strict=True)):
        raw = simulate_waveform_events(detector, source, n, seed, volume="active",
                                       chunk_index=k)
        processed = process_events(raw, ProcessingSettings(lrf_mismatch=mismatch))
        tables.append(processed.table)
        tops.append(processed.s2_pmt_area_pe[:, arrays.top])
    table = pd.concat(tables, ignore_index=True)
    top = np.concatenate(tops)
    keep = table["passes_threshold"].to_numpy() & (table["s2_top_area_pe"].to_numpy() > 0)
    table, top = table[keep].reset_index(drop=True), top[keep]
    truths = table[["s2_x_true_cm", "s2_y_true_cm"]].to_numpy()
    rec = {
        "cnn": reconstructor.predict_xy(top),
        "cnn_single": reconstructor.predict_xy(top, symmetrised=False),
        "likelihood": (table["x_cm"].to_numpy(), table["y_cm"].to_numpy()),
        "likelihood_true_lrf": reconstruct_xy_likelihood(top, arrays, radius, DEFAULT_OPTICS,
                                                         1.0, None),
        "centre_of_gravity": centre_of_gravity_xy(top, arrays),
    }
    r_true = np.hypot(truths[:, 0], truths[:, 1])
    s2_top = table["s2_top_area_pe"].to_numpy()
    size_edges = np.array([0, 200, 500, 1000, 2000, 5000, 1e6])
    # fixed inner edges where the TPC is wide enough for them (a LUX-sized one is not);
    # the bulk and wall edges only where they lie inside (a TPC narrower than
    # ``bulk_margin_cm`` has no bulk)
    inner = [edge for edge in (15.0, 25.0) if edge < radius - bulk_margin_cm]
    radius_edges = np.unique(np.clip([0, *inner, radius - bulk_margin_cm,
                                      radius - wall_band_cm, radius + 1e-9], 0, None))
    bulk, wall = r_true < radius - bulk_margin_cm, r_true > radius - wall_band_cm
    methods = {}
    for name, (x, y) in rec.items():
        dx, dy = np.asarray(x) - truths[:, 0], np.asarray(y) - truths[:, 1]
        d2 = dx**2 + dy**2
        methods[name] = {
            "rms_cm": float(np.sqrt(d2.mean())),
            "bulk_rms_cm": float(np.sqrt(d2[bulk].mean())) if bulk.any() else None,
            "wall_rms_cm": float(np.sqrt(d2[wall].mean())) if wall.any() else None,
            "wall_radial_bias_cm": (float(np.mean(np.hypot(x, y)[wall] - r_true[wall]))
                                    if wall.any() else None),
            "vs_s2_top_pe": resolution_table(dx, dy, s2_top, size_edges),
            "vs_radius_cm": resolution_table(dx, dy, r_true, radius_edges),
        }
    return {
        "cnn_rms_cm": methods["cnn"]["rms_cm"],
        "likelihood_rms_cm": methods["likelihood"]["rms_cm"],
        "likelihood_true_lrf_rms_cm": methods["likelihood_true_lrf"]["rms_cm"],
        "centre_of_gravity_rms_cm": methods["centre_of_gravity"]["rms_cm"],
        "n_test_events": int(len(table)),
        "detector": detector.name,
        "tpc_radius_cm": radius,
        "wall_band_cm": float(wall_band_cm),
        "bulk_margin_cm": float(bulk_margin_cm),
        "lrf_mismatch": mismatch.model_dump(),
        "cnn_training_lrf": training_lrf(reconstructor.meta),
        "test_seed": int(seed),
        "methods": methods,
        "published_anchors": PUBLISHED_ANCHORS,
    }


def resolution_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The tables of :func:`evaluate_positions` as one long table (method, binning, …),
    followed by the published anchors (method ``anchor``, binning ``bulk`` / ``wall``,
    with their source)."""
    rows = []
    for name, method in result["methods"].items():
        for key, binning in (("vs_s2_top_pe", "s2_top_area_pe"), ("vs_radius_cm", "r_true_cm")):
            rows += [{"method": name, "binning": binning, **row} for row in method[key]]
    anchors = result["published_anchors"]
    for where in ("bulk", "wall"):
        rows.append({"method": "anchor", "binning": where, "rms_cm": anchors[f"{where}_rms_cm"],
                     "source": anchors["source"]})
    return pd.DataFrame(rows)


def position_reconstruction_metrics(config: PositionTrainingConfig | None = None,
                                    test_events: int = 600, test_seed: int = 1,
                                    reconstructor: PositionReconstructor | None = None
                                    ) -> dict[str, Any]:
    """Train the CNN (``config``; or take ``reconstructor``) and score it against the
    likelihood fit on ``test_events`` waveform-level events:
    ``{"cnn_rms_cm", "likelihood_rms_cm"}`` and the bulk/wall RMS and wall bias of both,
    plain JSON values (for a report's metrics).

    A small ``config`` (e.g. ``n_events=12_000, epochs=10``: about 1.5 min on one CPU
    thread) gives the numbers at the scale ``benchmarks/bench_positions.py`` measures.
    """
    config = config or PositionTrainingConfig()
    if reconstructor is None:
        reconstructor = train_position_cnn(config)
    result = evaluate_positions(reconstructor, test_events, test_seed)
    out: dict[str, Any] = {"cnn_rms_cm": result["cnn_rms_cm"],
                           "likelihood_rms_cm": result["likelihood_rms_cm"]}
    for name in ("cnn", "likelihood"):
        method = result["methods"][name]
        for key in ("bulk_rms_cm", "wall_rms_cm", "wall_radial_bias_cm"):
            out[f"{name}_{key}"] = method[key]
    out.update(n_test_events=result["n_test_events"], detector=result["detector"],
               training=reconstructor.meta.get("provenance", {}).get("config"))
    return out
