"""Recoil sources: WIMPs (wimprates), ER backgrounds, neutrons, CEvNS, data-driven kinds."""

from __future__ import annotations

from wimpsift.detectors import BackgroundSpec, Detector
from wimpsift.errors import bad_value
from wimpsift.sources.base import RecoilType, Source
from wimpsift.sources.cevns import SolarB8Cevns
from wimpsift.sources.data_driven import DataDrivenSource
from wimpsift.sources.electronic import ElectronicRecoilLines, FlatElectronicRecoils
from wimpsift.sources.external_gammas import ExternalGammas
from wimpsift.sources.neutrons import RadiogenicNeutrons
from wimpsift.sources.positions import Volume, sample_positions
from wimpsift.sources.surface import SurfaceEvents
from wimpsift.sources.wimp import SIGNAL_ENERGY_MIN_KEV, HaloModel, WimpSource, wimp_source

__all__ = [
    "DataDrivenSource",
    "ExternalGammas",
    "SurfaceEvents",
    "background_names",
    "HaloModel",
    "RecoilType",
    "Source",
    "WimpSource",
    "make_source",
    "source_names",
    "sample_positions",
    "wimp_source",
]


def background_names(detector: Detector, volume: Volume = "fiducial") -> list[str]:
    """The detector's backgrounds that are part of an analysis in ``volume``.

    Each background lists its volumes (``volumes`` in the detector file): near-wall
    populations (external gammas, surface events) belong to the active volume only,
    the fiducial leakage of the surface events (``wall``) to the fiducial volume only.
    """
    if volume not in ("fiducial", "active"):
        raise bad_value("volume", volume, "'fiducial' or 'active'")
    return [b.name for b in detector.backgrounds if volume in b.volumes]


def source_names(detector: Detector, volume: Volume = "fiducial") -> list[str]:
    """Names of the WIMP and the backgrounds of an analysis in ``volume``
    (:func:`background_names`); :func:`make_source` builds any background by name."""
    return ["wimp", *background_names(detector, volume)]


def _from_spec(spec: BackgroundSpec) -> Source:
    if spec.kind == "er_flat":
        return FlatElectronicRecoils(
            name=spec.name,
            recoil_type="er",
            energy_min_kev=spec.energy_min_kev,
            energy_max_kev=spec.energy_max_kev,
            rate_per_kg_day_kev=spec.rate_per_kg_day_kev,
        )
    if spec.kind == "er_lines":
        energies = spec.line_energies_kev or []
        return ElectronicRecoilLines(
            name=spec.name,
            recoil_type="er",
            energy_min_kev=0.5 * min(energies),
            energy_max_kev=1.5 * max(energies),
            energies_kev=list(energies),
            rates_per_kg_day=list(spec.line_rates_per_kg_day or []),
            widths_kev=list(spec.line_widths_kev or []),
        )
    if spec.kind == "nr_exponential":
        return RadiogenicNeutrons(
            name=spec.name,
            recoil_type="nr",
            energy_min_kev=spec.energy_min_kev,
            energy_max_kev=spec.energy_max_kev,
            rate_per_tonne_year=spec.rate_per_tonne_year,
            rate_energy_min_kev=spec.rate_energy_min_kev,
            rate_energy_max_kev=spec.rate_energy_max_kev,
            e_fold_kev=spec.e_fold_kev,
        )
    if spec.kind == "cevns_b8":
        return SolarB8Cevns(
            name=spec.name,
            recoil_type="nr",
            energy_min_kev=spec.energy_min_kev,
            energy_max_kev=spec.energy_max_kev,
            flux_per_cm2_s=spec.flux_per_cm2_s,
        )
    if spec.kind == "external_gamma":
        return ExternalGammas(
            name=spec.name,
            recoil_type="er",
            energy_min_kev=spec.energy_min_kev,
            energy_max_kev=spec.energy_max_kev,
            rate_per_kg_day_kev=spec.fiducial_rate_per_kg_day_kev,
            gamma_energy_kev=spec.gamma_energy_kev,
        )
    if spec.kind == "surface":
        return SurfaceEvents(
            name=spec.name,
            recoil_type="er",
            energy_min_kev=spec.energy_min_kev,
            energy_max_kev=spec.energy_max_kev,
            kind="surface",
            expected_events=spec.expected_events,
            reference_exposure_kg_days=spec.reference_exposure_kg_days,
            charge_kept_min=spec.charge_kept_min,
            charge_kept_max=spec.charge_kept_max,
            recoil_fraction=spec.recoil_fraction,
        )
    # data-driven kinds
    e_min = spec.energy_min_kev if spec.energy_min_kev is not None else 0.5
    e_max = spec.energy_max_kev if spec.energy_max_kev is not None else 15.0
    kept_min, kept_max = spec.charge_kept_range
    return DataDrivenSource(
        name=spec.name,
        recoil_type="er",
        energy_min_kev=e_min,
        energy_max_kev=e_max,
        rate_per_kg_day_kev=1.0,
        kind=spec.kind,
        expected_events=spec.expected_events,
        reference_exposure_kg_days=spec.reference_exposure_kg_days,
        charge_kept_min=kept_min,
        charge_kept_max=kept_max,
    )


def make_source(
    detector: Detector,
    name: str,
    mass_gev: float | None = None,
    sigma_cm2: float | None = None,
    halo: HaloModel | None = None,
    signal_energy_min_kev: float = SIGNAL_ENERGY_MIN_KEV,
) -> Source:
    """Build a source by name: ``wimp`` (needs mass and cross-section) or a detector background.

    ``signal_energy_min_kev`` is the lowest WIMP recoil energy simulated (see
    :data:`wimpsift.sources.wimp.SIGNAL_ENERGY_MIN_KEV`).
    """
    if name == "wimp":
        if mass_gev is None:
            raise bad_value("mass_gev", mass_gev, "a WIMP mass in GeV/c^2 for source 'wimp'")
        return wimp_source(mass_gev, 1e-45 if sigma_cm2 is None else sigma_cm2, halo,
                           energy_min_kev=signal_energy_min_kev)
    return _from_spec(detector.background(name))
