"""Background sources of a detector definition: one validated model per kind.

``BackgroundSpec`` is a union discriminated by ``kind``: each kind declares exactly the
keys it needs (a missing key names the kind and the key; a key of another kind is an
error), instead of one model whose keys are all optional and a table of which are
required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from wimpsift.config import WimpsiftConfig

ELECTRON_MASS_KEV = 510.99895


def compton_edge_kev(gamma_energy_kev: float) -> float:
    """Largest energy a gamma ray of ``gamma_energy_kev`` deposits in one Compton scatter
    (backscatter): E 2k / (1 + 2k), k = E / m_e c²."""
    k = gamma_energy_kev / ELECTRON_MASS_KEV
    return gamma_energy_kev * 2 * k / (1 + 2 * k)


Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
SourceKind = Literal["er_flat", "er_lines", "nr_exponential", "cevns_b8", "accidental", "wall",
                     "anomalous", "external_gamma", "surface"]
AnalysisVolume = Literal["fiducial", "active"]


class _Background(WimpsiftConfig):
    """Fields every background kind has (on the common configuration base)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    note: str = ""
    published_expected_events: Annotated[float, Field(ge=0)] | None = None
    """comparison only: the publication's expected count in the window for this detector's exposure"""
    published_source: str = Field(
        "", description="where that count (or a data-driven kind's expected_events) is published: "
        "paper, table, page")
    published_verified: bool = Field(
        False, description="true only where the count was read in that source; false: recalled or "
        "not confirmed (published_source then says what was searched)")
    volumes: Annotated[tuple[AnalysisVolume, ...], Field(min_length=1)] = ("fiducial", "active")
    """analysis volumes this source is part of: a population already counted by another
    entry inside the fiducial volume (the measured ER rate holds the materials' gammas
    there, the data-driven wall count is the surface events' leakage) is listed for one
    volume only, so no event is counted twice"""

    @model_validator(mode="after")
    def _published_has_source(self) -> _Background:
        if self.published_source.strip():
            return self
        if self.published_expected_events is not None:
            raise ValueError(f"background {self.name!r}: published_expected_events needs published_source "
                             "(the paper, table and page it is read from)")
        if getattr(self, "expected_events", None) is not None:
            raise ValueError(f"background {self.name!r}: a data-driven expected_events needs "
                             "published_source (the publication of this detector's count it scales from)")
        return self

    @model_validator(mode="after")
    def _energy_order(self) -> _Background:
        lo, hi = getattr(self, "energy_min_kev", None), getattr(self, "energy_max_kev", None)
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"background {self.name!r}: energy_min_kev must be below energy_max_kev")
        return self


class FlatElectronicBackground(_Background):
    kind: Literal["er_flat"]
    rate_per_kg_day_kev: Positive
    energy_min_kev: Positive
    energy_max_kev: Positive


class ElectronicLinesBackground(_Background):
    kind: Literal["er_lines"]
    line_energies_kev: list[Positive]
    line_rates_per_kg_day: list[Positive]
    line_widths_kev: list[Annotated[float, Field(ge=0)]]

    @model_validator(mode="after")
    def _equal_lengths(self) -> ElectronicLinesBackground:
        n = len(self.line_energies_kev)
        if not (n and len(self.line_rates_per_kg_day) == len(self.line_widths_kev) == n):
            raise ValueError(f"background {self.name!r}: line lists must be non-empty and of equal length")
        return self


class NeutronBackground(_Background):
    kind: Literal["nr_exponential"]
    rate_per_tonne_year: Positive
    rate_energy_min_kev: Positive
    rate_energy_max_kev: Positive
    e_fold_kev: Positive
    energy_min_kev: Positive
    energy_max_kev: Positive

    @model_validator(mode="after")
    def _rate_interval_order(self) -> NeutronBackground:
        # the rate normalises the spectrum over this interval: reversed, the spectrum is
        # negative; equal, infinite
        if self.rate_energy_min_kev >= self.rate_energy_max_kev:
            raise ValueError(f"background {self.name!r}: rate_energy_min_kev must be below "
                             "rate_energy_max_kev")
        return self


class CevnsBackground(_Background):
    kind: Literal["cevns_b8"]
    flux_per_cm2_s: Positive
    energy_min_kev: Positive
    energy_max_kev: Positive


class AccidentalBackground(_Background):
    """Data-driven: expected events in the analysis window for a reference exposure."""

    kind: Literal["accidental"]
    expected_events: Positive
    reference_exposure_kg_days: Positive
    energy_min_kev: Positive | None = None
    energy_max_kev: Positive | None = None

    @property
    def charge_kept_range(self) -> tuple[float, float]:
        return (1.0, 1.0)


class _ChargeKept(_Background):
    """Events that keep only part of their charge: ``charge_kept_min`` ≤ ``charge_kept_max``
    (the fields are declared by each kind, so their order in a dump is the kind's)."""

    if TYPE_CHECKING:  # declared by each kind
        charge_kept_min: float
        charge_kept_max: float

    @model_validator(mode="after")
    def _kept_order(self) -> _ChargeKept:
        if self.charge_kept_min > self.charge_kept_max:
            raise ValueError(f"background {self.name!r}: charge_kept_min must not exceed charge_kept_max")
        return self

    @property
    def charge_kept_range(self) -> tuple[float, float]:
        return (self.charge_kept_min, self.charge_kept_max)


class ChargeLossBackground(_ChargeKept):
    """Data-driven events that keep only a fraction of their charge (wall, anomalous)."""

    kind: Literal["wall", "anomalous"]
    expected_events: Positive
    reference_exposure_kg_days: Positive
    charge_kept_min: Fraction
    """smallest fraction of the charge these events keep"""
    charge_kept_max: Fraction
    energy_min_kev: Positive
    energy_max_kev: Positive


class ExternalGammaBackground(_Background):
    """ER from gamma rays of the detector materials, attenuated from the TPC's surfaces.

    Normalised by the published rate of such single scatters in the fiducial volume;
    the transport Monte Carlo (:mod:`wimpsift.sources.external_gammas`) gives the rest
    of the active volume and the multiple scatters.
    """

    kind: Literal["external_gamma"]
    fiducial_rate_per_kg_day_kev: Positive
    """single-scatter rate of the materials' gammas in the fiducial volume"""
    gamma_energy_kev: Positive
    """energy of the gamma rays entering the TPC (one representative line)"""
    energy_min_kev: Positive
    energy_max_kev: Positive
    """range of the total energy an event deposits in the active volume"""

    @model_validator(mode="after")
    def _window_reachable(self) -> ExternalGammaBackground:
        # the transport draws tracks until enough deposit energy_min_kev or more: a gamma
        # whose single scatters stay below it gets there only by several near-backscatters
        # in a row (each below the last one's edge), so rarely that the drawing runs on
        # for hours; at such energies photoabsorption, which the transport leaves out,
        # dominates anyway
        edge = compton_edge_kev(self.gamma_energy_kev)
        if edge < self.energy_min_kev:
            raise ValueError(
                f"background {self.name!r}: gamma_energy_kev {self.gamma_energy_kev:g} deposits at "
                f"most {edge:.3g} keV in one Compton scatter, below energy_min_kev "
                f"{self.energy_min_kev:g}; expected the MeV gamma rays of the materials")
        return self


class SurfaceBackground(_ChargeKept):
    """210Pb-chain decays on the PTFE wall over the whole drift length: 206Pb recoils
    and betas that keep only part of their charge.

    Data-driven like ``wall``: ``expected_events`` is the published count of these
    events reconstructed in the analysis window (fiducial volume) for a reference
    exposure; the simulation spreads the same population over the whole wall.
    """

    kind: Literal["surface"]
    expected_events: Positive
    reference_exposure_kg_days: Positive
    charge_kept_min: Fraction
    charge_kept_max: Fraction
    recoil_fraction: Fraction
    """share of 206Pb recoils (NR) among the events; the rest are betas (ER)"""
    energy_min_kev: Positive
    energy_max_kev: Positive
    """range of the betas' deposited energy"""


BackgroundSpec = Annotated[
    FlatElectronicBackground | ElectronicLinesBackground | NeutronBackground | CevnsBackground
    | AccidentalBackground | ChargeLossBackground | ExternalGammaBackground | SurfaceBackground,
    Field(discriminator="kind"),
]
