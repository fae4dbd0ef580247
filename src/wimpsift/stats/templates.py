"""Binned templates: expected events per bin for the signal and each background.

A :class:`TemplateSet` is the input of the likelihood. Counts are *expected events*
over the whole exposure (rate × exposure × efficiency): the signal template at a
reference WIMP-nucleon cross-section ``sigma_ref_cm2`` (so the signal strength
``mu`` converts to ``sigma_nucleon_cm2 = mu * sigma_ref_cm2``), each background at
its nominal normalisation. Templates may be N-dimensional (the traditional analysis);
the likelihood works on the flattened bins.

Templates filled from simulation know their own statistics: :func:`histogram_template`
fills a ``hist`` histogram with ``Weight`` storage, which keeps the sum of weights and
the sum of squared weights per bin, and returns both scaled to the expected events.
``TemplateSet.background_variances`` carries the Σw² of each background; the
likelihood turns them into one MC-statistics parameter per bin (Barlow–Beeston lite).

Validation happens once, at construction (:meth:`TemplateSet.__post_init__`):
non-finite or negative counts, empty templates, mismatched binning and bins with
expected signal but no background model raise :class:`wimpsift.errors.DataError`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import hist
import numpy as np

from wimpsift.errors import DataError


def _as_counts(name: str, counts: object) -> np.ndarray:
    try:
        arr = np.asarray(counts, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name}: counts are not numeric: {err}") from err
    if arr.size == 0:
        raise DataError(f"{name}: template is empty (no bins)")
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise DataError(f"{name}: {n_bad} non-finite count(s) (NaN or inf); expected finite counts")
    if np.any(arr < 0):
        raise DataError(f"{name}: negative expected count {arr.min()!r}; expected counts >= 0")
    if arr.sum() <= 0:
        raise DataError(f"{name}: template is empty (all expected counts are 0)")
    return arr


def _as_edges(bin_edges: Sequence[object], shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    edges = tuple(np.asarray(e, dtype=float) for e in bin_edges)
    if len(edges) != len(shape):
        raise DataError(
            f"bin_edges: {len(edges)} axes of edges for a {len(shape)}-dimensional template"
        )
    for axis, (e, n) in enumerate(zip(edges, shape, strict=True)):
        if e.ndim != 1 or e.size != n + 1:
            raise DataError(
                f"bin_edges[{axis}]: {e.size} edges for {n} bins; expected {n + 1} edges"
            )
        if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise DataError(f"bin_edges[{axis}]: edges must be finite and strictly increasing")
    return edges


def _as_variations(
    variations: Mapping[str, object] | None, shape: tuple[int, ...]
) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    if variations is None:
        return None
    if not isinstance(variations, Mapping):
        raise DataError("shape_variations: expected a mapping of name to (down, up) templates")
    out = {}
    for name, pair in variations.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise DataError(f"shape_variations: name {name!r} is not a valid identifier")
        try:
            down, up = (np.asarray(t, dtype=float) for t in pair)  # type: ignore[union-attr]
        except (TypeError, ValueError) as err:
            raise DataError(f"shape_variations[{name!r}]: expected (down, up) templates: {err}") from err
        for label, t in (("down", down), ("up", up)):
            if t.size != int(np.prod(shape)) or not np.all(np.isfinite(t)) or np.any(t < 0):
                raise DataError(f"shape_variations[{name!r}] {label}: expected {shape} finite counts >= 0")
        out[name] = (down.reshape(shape), up.reshape(shape))
    return out


def _as_variances(
    variances: Mapping[str, object], backgrounds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    if not isinstance(variances, Mapping) or set(variances) != set(backgrounds):
        got = sorted(variances) if isinstance(variances, Mapping) else type(variances).__name__
        raise DataError(
            f"background_variances: got {got}, expected one Σw² template per background "
            f"{sorted(backgrounds)}"
        )
    out = {}
    for name, counts in backgrounds.items():
        v = np.asarray(variances[name], dtype=float)
        if v.shape != counts.shape:
            raise DataError(
                f"background_variances[{name!r}]: binning {v.shape} does not match {counts.shape}")
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise DataError(f"background_variances[{name!r}]: expected finite values >= 0")
        out[name] = v
    return out


#: The keys a templates file may hold: :meth:`TemplateSet.to_dict`'s, what ``wimpsift
#: templates`` adds (detector, analysis, columns, provenance) and the observed counts that
#: ``wimpsift limits`` reads from it.
TEMPLATE_FILE_KEYS = frozenset({
    "mass_gev", "sigma_ref_cm2", "shape", "bin_edges", "signal", "backgrounds",
    "allow_background_free_bins", "background_variances", "shape_variations",
    "detector", "analysis", "columns", "provenance", "observed"})


@dataclass(frozen=True)
class TemplateSet:
    """Signal and background templates on one binning, validated at construction.

    Parameters
    ----------
    signal:
        Expected signal events per bin at ``sigma_ref_cm2``.
    backgrounds:
        ``{name: expected events per bin}`` at nominal normalisation.
    bin_edges:
        One array of edges per axis (``len == n_bins + 1``); ``None`` for unit bins.
    sigma_ref_cm2:
        WIMP-nucleon cross-section at which ``signal`` was computed.
    mass_gev:
        WIMP mass of the signal template (metadata).
    allow_background_free_bins:
        A bin with expected signal but zero total background is, for templates filled
        from finite simulation, an artefact that makes limits too strong; it is an
        error unless this flag says the experiment really is background-free there.
    background_variances:
        ``{name: Σw² per bin}`` of the simulated events behind each background template
        (in expected events squared), or ``None`` for templates known exactly.
    shape_variations:
        ``{name: (down, up)}``: the total background at -1σ and +1σ of a shape-changing
        nuisance parameter (e.g. the ER band mean); the likelihood interpolates each bin
        linearly, ``b + alpha (up - down) / 2``.
    """

    signal: np.ndarray
    backgrounds: Mapping[str, np.ndarray]
    bin_edges: tuple[np.ndarray, ...] | None = None
    sigma_ref_cm2: float = 1e-45
    mass_gev: float | None = None
    allow_background_free_bins: bool = False
    background_variances: Mapping[str, np.ndarray] | None = None
    shape_variations: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
    shape: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        signal = _as_counts("signal", self.signal)
        if not isinstance(self.backgrounds, Mapping) or not self.backgrounds:
            raise DataError("backgrounds: no background model given; expected at least one template")
        backgrounds: dict[str, np.ndarray] = {}
        for name, counts in self.backgrounds.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise DataError(f"backgrounds: name {name!r} is not a valid identifier")
            arr = np.asarray(counts, dtype=float)
            if arr.shape != signal.shape:
                raise DataError(
                    f"backgrounds[{name!r}]: binning {arr.shape} does not match the signal "
                    f"template's {signal.shape}"
                )
            # a zero background template is allowed only for a background-free model
            if self.allow_background_free_bins and arr.size and np.all(arr == 0):
                if not np.all(np.isfinite(arr)):
                    raise DataError(f"backgrounds[{name!r}]: non-finite counts")
                backgrounds[name] = arr
            else:
                backgrounds[name] = _as_counts(f"backgrounds[{name!r}]", arr)
        if not (np.isfinite(self.sigma_ref_cm2) and self.sigma_ref_cm2 > 0):
            raise DataError(f"sigma_ref_cm2: got {self.sigma_ref_cm2!r}, expected a positive cross-section")
        mass = self.mass_gev
        if mass is not None and (isinstance(mass, bool) or not isinstance(mass, numbers.Real)
                                 or not (np.isfinite(mass) and mass > 0)):
            raise DataError(f"mass_gev: got {mass!r}, expected a positive WIMP mass in GeV/c^2 "
                            "or null")
        total_bkg = sum(backgrounds.values())
        orphan = (signal > 0) & (total_bkg <= 0)
        if np.any(orphan) and not self.allow_background_free_bins:
            first = np.unravel_index(int(np.flatnonzero(orphan.ravel())[0]), signal.shape)
            raise DataError(
                f"signal: {int(orphan.sum())} bin(s) with expected signal but no background model "
                f"(first at bin index {tuple(int(i) for i in first)}); fill the background "
                "templates (more simulation, coarser bins or a floor) or set "
                "allow_background_free_bins"
            )
        edges = None if self.bin_edges is None else _as_edges(self.bin_edges, signal.shape)
        variances = None if self.background_variances is None else _as_variances(
            self.background_variances, backgrounds)
        object.__setattr__(self, "background_variances", variances)
        object.__setattr__(self, "shape_variations", _as_variations(self.shape_variations, signal.shape))
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "backgrounds", backgrounds)
        object.__setattr__(self, "bin_edges", edges)
        object.__setattr__(self, "shape", signal.shape)

    @property
    def background_names(self) -> list[str]:
        return list(self.backgrounds)

    @property
    def n_bins(self) -> int:
        return int(self.signal.size)

    def flat_signal(self) -> np.ndarray:
        return self.signal.ravel()

    def flat_backgrounds(self) -> np.ndarray:
        """Background templates as a ``(n_backgrounds, n_bins)`` array."""
        return np.stack([b.ravel() for b in self.backgrounds.values()])

    def flat_background_variances(self) -> np.ndarray | None:
        """Σw² of the background templates as ``(n_backgrounds, n_bins)``, or None."""
        if self.background_variances is None:
            return None
        return np.stack([self.background_variances[k].ravel() for k in self.backgrounds])

    @property
    def shape_names(self) -> list[str]:
        return [] if self.shape_variations is None else list(self.shape_variations)

    def flat_shape_deltas(self) -> np.ndarray:
        """``(n_shapes, n_bins)``: change of the total background per +1σ, (up - down) / 2."""
        if not self.shape_variations:
            return np.zeros((0, self.n_bins))
        return np.stack([0.5 * (up - down).ravel() for down, up in self.shape_variations.values()])

    def mc_relative_uncertainty(self) -> np.ndarray:
        """Relative MC-statistics uncertainty of the total background per flat bin,
        ``sqrt(Σ_k Σw²_k) / Σ_k b_k`` (pyhf's ``staterror``); 0 where unknown or empty."""
        variances = self.flat_background_variances()
        total = self.flat_backgrounds().sum(axis=0)
        if variances is None:
            return np.zeros_like(total)
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.sqrt(variances.sum(axis=0)) / total
        return np.where(total > 0, np.nan_to_num(delta, nan=0.0, posinf=0.0), 0.0)

    def combined(self, name: str = "background") -> TemplateSet:
        """One background component, the sum of all (the paper's broad combined option)."""
        variances = None if self.background_variances is None else {
            name: sum(self.background_variances.values())}
        return TemplateSet(
            signal=self.signal, backgrounds={name: sum(self.backgrounds.values())},
            bin_edges=self.bin_edges, sigma_ref_cm2=self.sigma_ref_cm2, mass_gev=self.mass_gev,
            allow_background_free_bins=self.allow_background_free_bins,
            background_variances=variances, shape_variations=self.shape_variations,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "mass_gev": self.mass_gev,
            "sigma_ref_cm2": self.sigma_ref_cm2,
            "shape": list(self.shape),
            "bin_edges": None if self.bin_edges is None else [e.tolist() for e in self.bin_edges],
            "signal": self.signal.ravel().tolist(),
            "backgrounds": {k: v.ravel().tolist() for k, v in self.backgrounds.items()},
            "allow_background_free_bins": self.allow_background_free_bins,
            "background_variances": None if self.background_variances is None else {
                k: v.ravel().tolist() for k, v in self.background_variances.items()},
            "shape_variations": None if self.shape_variations is None else {
                k: [d.ravel().tolist(), u.ravel().tolist()] for k, (d, u) in self.shape_variations.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TemplateSet:
        """Inverse of :meth:`to_dict`; missing keys, keys it does not write (a misspelt
        ``sigma_ref_cm2`` would otherwise leave the default 1e-45 cm^2 scaling every limit)
        and values of the wrong kind raise :class:`DataError`."""
        unknown = sorted(set(data) - TEMPLATE_FILE_KEYS)
        if unknown:
            raise DataError(f"templates: unknown key {unknown[0]!r}; expected keys among "
                            f"{', '.join(sorted(TEMPLATE_FILE_KEYS))}")
        for key, kinds, expected in (("sigma_ref_cm2", (int, float), "a number"),
                                     ("mass_gev", (int, float, type(None)), "a number or null"),
                                     ("allow_background_free_bins", (bool,), "true or false")):
            value = data.get(key)
            if key in data and (not isinstance(value, kinds)
                                or (isinstance(value, bool) and bool not in kinds)):
                raise DataError(f"{key}: got {value!r}, expected {expected}")
        try:
            shape = tuple(int(n) for n in data.get("shape") or [len(data["signal"])])  # type: ignore[arg-type]
            signal = np.asarray(data["signal"], dtype=float)
            backgrounds = data["backgrounds"]
        except KeyError as err:
            raise DataError(f"templates: missing key {err.args[0]!r}") from err
        except (TypeError, ValueError) as err:
            raise DataError(f"templates: malformed content: {err}") from err
        if not isinstance(backgrounds, Mapping):
            raise DataError("backgrounds: expected a mapping of name to counts")

        def _reshape(name: str, arr: object) -> np.ndarray:
            a = np.asarray(arr, dtype=float)
            if a.size != int(np.prod(shape)):
                raise DataError(f"{name}: {a.size} bins, expected {int(np.prod(shape))} (shape {shape})")
            return a.reshape(shape)

        variances = data.get("background_variances")
        if variances is not None and not isinstance(variances, Mapping):
            raise DataError("background_variances: expected a mapping of name to Σw² per bin")
        return cls(
            signal=_reshape("signal", signal),
            backgrounds={k: _reshape(f"backgrounds[{k!r}]", v) for k, v in backgrounds.items()},
            background_variances=None if variances is None else {
                k: _reshape(f"background_variances[{k!r}]", v) for k, v in variances.items()},
            bin_edges=data.get("bin_edges"),  # type: ignore[arg-type]
            sigma_ref_cm2=float(data.get("sigma_ref_cm2", 1e-45)),  # type: ignore[arg-type]
            mass_gev=data.get("mass_gev"),  # type: ignore[arg-type]
            allow_background_free_bins=bool(data.get("allow_background_free_bins", False)),
            shape_variations=data.get("shape_variations"),  # type: ignore[arg-type]
        )


class HistogramTemplate(NamedTuple):
    """Expected events per bin and their Σw² (MC-statistics variance), same scale."""

    counts: np.ndarray
    variances: np.ndarray


def weighted_histogram(columns: Sequence[np.ndarray], bin_edges: Sequence[np.ndarray],
                       weights: np.ndarray) -> HistogramTemplate:
    """Σw and Σw² per bin of events with finite ``columns`` (one array per axis), unscaled:
    a ``hist`` histogram with ``Weight`` storage; events outside the edges are dropped and
    a value on the last edge counts in the last bin, as in ``np.histogramdd``."""
    edges = [np.asarray(e, dtype=float) for e in bin_edges]
    h = hist.Hist(*(hist.axis.Variable(e, underflow=False, overflow=False) for e in edges),
                  storage=hist.storage.Weight())
    cols = [np.where(c == e[-1], np.nextafter(e[-1], e[0]), c)
            for c, e in zip(columns, edges, strict=True)]
    h.fill(*cols, weight=weights)
    return HistogramTemplate(h.values(), h.variances())


def histogram_template(
    values: np.ndarray | Sequence[np.ndarray],
    bin_edges: Sequence[np.ndarray],
    expected_events: float,
    weights: np.ndarray | None = None,
    name: str = "template",
) -> HistogramTemplate:
    """Histogram simulated events and scale them to ``expected_events`` in total.

    ``values`` is a 1-D array (one axis) or a sequence of arrays (one per axis).
    Events outside the edges are dropped before normalising, so ``expected_events``
    is the expectation *inside* the analysis region; a value on the last edge counts
    in the last bin. The histogram is a ``hist.Hist`` with ``Weight`` storage; its
    Σw² per bin is scaled by the square of the normalisation factor.
    """
    if not (np.isfinite(expected_events) and expected_events >= 0):
        raise DataError(f"{name}: expected_events {expected_events!r}, expected a finite count >= 0")
    if isinstance(values, np.ndarray) and values.ndim == 1:
        columns = [np.asarray(values, dtype=float)]
    else:
        columns = [np.asarray(v, dtype=float).ravel() for v in values]
    if len(columns) != len(bin_edges):
        raise DataError(f"{name}: {len(columns)} value columns for {len(bin_edges)} axes of bin edges")
    n = columns[0].size
    if n == 0:
        raise DataError(f"{name}: no simulated events to histogram")
    if any(c.size != n for c in columns):
        raise DataError(f"{name}: value columns have different lengths")
    finite = np.all([np.isfinite(c) for c in columns], axis=0)
    if not np.any(finite):
        raise DataError(f"{name}: all simulated values are non-finite")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    counts, variances = weighted_histogram([c[finite] for c in columns], bin_edges, w[finite])
    total = counts.sum()
    if total <= 0:
        raise DataError(f"{name}: no simulated event falls inside the bins")
    scale = expected_events / total
    return HistogramTemplate(counts * scale, variances * scale**2)
