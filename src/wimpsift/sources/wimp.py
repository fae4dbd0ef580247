"""Spin-independent elastic WIMP-nucleus recoils on xenon, from wimprates.

wimprates uses numericalunits, whose unit values are random per process, so only
its ``rate_wimp_std`` entry point (which returns plain numbers in events per
tonne·year·keV) is used here, and halo parameters are passed as plain numbers in
km/s and GeV/cm³ converted inside :func:`_halo_model`. Even so, the random unit
values leave up to ~1e-13 relative noise in the rates (measured), which differs
between processes; rates are rounded to 7 significant digits (far finer than
wimprates' integration accuracy) so that the same seed samples the same energies in
every process (a rounding boundary lands within the noise with probability ~1e-6 per
tabulated value).

wimprates derives the Earth's speed from ``v_0`` (plus the Sun's peculiar and the
Earth's orbital velocity); older analyses fixed it instead (XENON1T 2018: 232 km/s).
``HaloModel.v_earth_km_s`` sets it: :func:`_halo_class` then evaluates the same
truncated, boosted Maxwellian as ``wimprates.observed_speed_dist`` with that speed
(normalised to 1, as the wimprates path is; see below), because wimprates offers no
argument for it.

wimprates 0.5.0's ``rate_elastic`` integrates the speed distribution up to
``v_max(t, halo_model.v_esc)``, which adds the Earth speed of its *default* v_0 (252 km/s),
not the halo's: a halo with a faster Earth (v_0 above 238 km/s, or a fixed Earth speed
above 252 km/s) lost its fastest WIMPs (measured: at v_0 = 300 km/s the 10 GeV/c^2
spectrum ended at 9.9 keV instead of its kinematic endpoint, 11.4 keV, and its rate above
4 keV was 5 % low; at 400 km/s, 27 % low). :func:`_halo_class` raises the ``v_esc`` that
bound reads by the difference and evaluates the distribution with the true escape speed;
for slower halos (the default one and XENON1T's 2018 one included) nothing changes. The
raise is the annual average Earth's (``t`` None, as every rate here is computed).

Its normalisation is not wimprates'. wimprates multiplies its truncated Maxwellian by
Lewin & Smith's k = erf(z) - 2z exp(-z^2)/sqrt(pi) (z = v_esc/v_0) where dividing by it
normalises it, so wimprates' speed distribution integrates to k^2: 0.987 at v_0 =
220 km/s, 0.970 at 238, but 0.83 at 300, 0.50 at 400 and 0.22 at 520 km/s, so its rates
for a faster halo were too low by that factor (found 2026-12-07). :func:`_halo_class`
divides by k^2: the speed distribution integrates to 1 for every halo (tested), and every
rate is 1/k^2 above wimprates' (1.3 % at XENON1T's 2018 halo, 3.1 % at the default one).
XENON1T's reference spectrum in xe-likelihood and the 50 GeV/c^2 spectrum the tests ship
(``tests/data/wimp_si_50GeV_1e-45cm2_dRdE.csv``), both made with wimprates, carry
wimprates' factor: tests compare ours times k^2 with them, and reinterpreted limits are
1.3 % below what wimprates' normalisation gives.

That distribution (wimprates' and ours) is valid only while the Earth's galactic speed
is below ``v_esc``: above it, no halo WIMP is slower than ``v_earth - v_esc`` in the
lab, but the formula's maximum cosine is clipped at 1 and not at -1, so the speed
distribution is negative there (measured: v_0 = 990 km/s, wimprates' Earth at 1001 km/s,
gives a negative 0.875-1.125 keV bin at 50 GeV/c^2 and a reconstructed bin of the
XENON1T likelihood with negative signal). :func:`check_halo` refuses such halos.

wimprates integrates the speed distribution with one adaptive ``quad`` over
``[v_min, v_max]``; a halo much narrower than that interval is not resolved: the
peak around the Earth's speed is stepped over or counted twice (measured against the
same integral split at the Earth's speed, 0.5-60 keV: at v_0 = 10 km/s and the XENON1T
2018 Earth speed, 50 GeV/c^2 rates off by up to 52 % per energy and 1.5 % in total; at
3 km/s, 26 % in total; at 1 km/s, 49 %; at 20 km/s up to 1.8 % per energy (10, 50 and
1000 GeV/c^2, both Earth speeds); from 30 km/s on below 4e-4).
:func:`check_halo` refuses v_0 below :data:`MIN_V0_KM_S`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import bad_value
from wimpsift.sources.base import Source

KG_DAY_PER_TONNE_YEAR = 1000.0 * 365.25

#: Lowest WIMP recoil energy simulated (keVnr), a setting (``signal_energy_min_kev``).
#: Low enough that NEST, not this number, decides what a recoil produces: below
#: ~1 keVnr NEST's quanta rarely give a 2- or 3-fold S1, so the window efficiency
#: there is set by NEST and the per-PMT S1 detection.
SIGNAL_ENERGY_MIN_KEV = 0.5


class HaloModel(WimpsiftConfig):
    """Standard halo model parameters; defaults per arXiv 2105.00599 (wimprates defaults)."""

    rho_dm_gev_cm3: float = Field(0.3, gt=0)
    v_0_km_s: float = Field(238.0, gt=0)
    v_esc_km_s: float = Field(544.0, gt=0)
    v_earth_km_s: float | None = Field(
        None, gt=0, description="Earth's speed in the galactic frame; None: wimprates' from v_0")


#: slowest v_0 whose speed integral wimprates resolves (see the module docstring)
MIN_V0_KM_S = 30.0


SPECTRUM_REVISION = 3
"""Revision of the recoil spectrum of a halo, bumped when the code changes that spectrum
(2: wimprates' speed bound follows the halo's own Earth speed; before, halos with a
faster Earth lost their fastest WIMPs; 3: the speed distribution is normalised to 1, not
wimprates' k^2, which moves every halo's rates, the default one's too). The wimpsift
version did not move with it, so every cache key holding a halo carries it
(:func:`halo_lineage`) and results cached before are computed again."""


def _lewin_smith_k(z: float) -> float:
    """Lewin & Smith's truncation constant erf(z) - 2 z exp(-z^2) / sqrt(pi), z = v_esc / v_0."""
    from scipy.special import erf

    return float(erf(z) - 2 / np.pi**0.5 * z * np.exp(-z * z))


def wimprates_normalisation(halo: HaloModel) -> float:
    """k^2, the factor wimprates' rates (and spectra made with it, such as XENON1T's
    reference spectrum) carry against ours for ``halo`` (module docstring): multiply a
    rate of ours by it to compare with them."""
    return _lewin_smith_k(halo.v_esc_km_s / halo.v_0_km_s) ** 2


def halo_lineage(halo: HaloModel | None) -> dict[str, int]:
    """What a cache key holding ``halo`` adds: :data:`SPECTRUM_REVISION` (nothing where
    ``halo`` is None: a key of backgrounds alone)."""
    return {} if halo is None else {"halo_spectrum": SPECTRUM_REVISION}


def _wimprates():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import wimprates

    return wimprates


def earth_speed_km_s(halo: HaloModel) -> float:
    """The Earth's speed in the galactic frame that the rates use: the fixed one, or
    wimprates' from ``v_0`` (annual average)."""
    if halo.v_earth_km_s is not None:
        return float(halo.v_earth_km_s)
    wr = _wimprates()
    import numericalunits as nu

    return float(wr.v_earth(None, halo.v_0_km_s * nu.km / nu.s) / (nu.km / nu.s))


def check_halo(halo: HaloModel, parameter: str = "halo.v_0_km_s") -> HaloModel:
    """``halo`` if its v_0 is at least :data:`MIN_V0_KM_S` and its Earth speed below
    ``v_esc`` (see the module docstring), else a ConfigError naming ``parameter``."""
    if not halo.v_0_km_s >= MIN_V0_KM_S:
        raise bad_value(parameter, float(halo.v_0_km_s),
                        f"a v0 of at least {MIN_V0_KM_S:g} km/s: wimprates' speed integral does "
                        "not resolve narrower halos (rates off by up to 50 % at 10 km/s)")
    v_earth = earth_speed_km_s(halo)
    if v_earth < halo.v_esc_km_s:
        return halo
    if halo.v_earth_km_s is not None:
        raise bad_value("halo.v_earth_km_s", halo.v_earth_km_s,
                        f"an Earth speed below v_esc {halo.v_esc_km_s:g} km/s")
    slowest = earth_speed_km_s(halo.model_copy(update={"v_0_km_s": 1e-3}))
    if slowest >= halo.v_esc_km_s:  # the Earth's own orbit and the Sun's peculiar motion
        raise bad_value("halo.v_esc_km_s", halo.v_esc_km_s,
                        f"an escape speed above wimprates' Earth speed at any v0 "
                        f"({slowest:.0f} km/s)")
    from scipy.optimize import brentq

    v0_max = brentq(lambda v0: earth_speed_km_s(halo.model_copy(update={"v_0_km_s": v0}))
                    - halo.v_esc_km_s, 1e-3, halo.v_esc_km_s)
    raise bad_value(parameter, float(halo.v_0_km_s),
                    f"a v0 below {v0_max:.1f} km/s: wimprates puts the Earth at {v_earth:.0f} km/s, "
                    f"not below v_esc {halo.v_esc_km_s:g} km/s, where the halo's speed "
                    "distribution turns negative")


def _halo_model(halo: HaloModel):
    check_halo(halo)
    import numericalunits as nu

    km_s = nu.km / nu.s
    return _halo_class()(
        v_0=halo.v_0_km_s * km_s,
        v_esc=halo.v_esc_km_s * km_s,
        rho_dm=halo.rho_dm_gev_cm3 * nu.GeV / nu.c0**2 / nu.cm**3,
        v_earth=None if halo.v_earth_km_s is None else halo.v_earth_km_s * km_s,
    )


def _halo_class():
    """wimprates' standard halo with this halo's Earth speed in the rate integral's bound,
    and optionally a fixed Earth speed (see the module docstring)."""
    wr = _wimprates()

    class _Halo(wr.StandardHaloModel):
        def __init__(self, v_0, v_esc, rho_dm, v_earth=None):
            super().__init__(v_0=v_0, v_esc=v_esc, rho_dm=rho_dm)
            self.escape_speed = v_esc
            # Lewin & Smith's truncation constant: wimprates multiplies by it, which divided
            # by k^2 gives a distribution normalised to 1 (module docstring)
            self.k = _lewin_smith_k(v_esc / v_0)
            self.fixed_earth = v_earth is not None
            self.v_earth = wr.v_earth(None, v_0=v_0) if v_earth is None else v_earth
            # wimprates integrates up to v_max(t, v_esc), its default v0's Earth speed + v_esc:
            # raise its v_esc where this halo's fastest WIMP is faster, so nothing is cut
            fastest, bound = v_esc + self.v_earth, wr.v_max(None, v_esc)
            if fastest > bound:
                self.v_esc = v_esc + (fastest - bound)

        def velocity_dist(self, v, t):
            if not self.fixed_earth:
                return (wr.observed_speed_dist(v, t, v_0=self.v_0, v_esc=self.escape_speed)
                        / self.k**2)
            v = np.asarray(v, dtype=float)
            v_0, v_esc, v_e = self.v_0, self.escape_speed, self.v_earth
            cos_max = np.minimum(1, (v_esc**2 - v_e**2 - v**2) / (2 * v_e * v))
            y = (v / (np.pi**0.5 * v_0 * v_e * self.k)
                 * (np.exp(-(((v - v_e) / v_0) ** 2))
                    - np.exp(-(v**2 + v_e**2 + 2 * v * v_e * cos_max) / v_0**2)))
            return np.where(v > v_esc + v_e, 0.0, y)

    return _Halo


def wimp_rate_per_tonne_year_kev(
    energy_kev: np.ndarray, mass_gev: float, sigma_nucleon_cm2: float, halo: HaloModel,
    interaction: str = "SI",
) -> np.ndarray:
    """dR/dE in events / (tonne year keV) for elastic scattering on xenon; ``interaction``
    as wimprates names it (``SI``, ``SD_n_central``, ``SD_p_central``)."""
    wr = _wimprates()
    energy_kev = np.atleast_1d(np.asarray(energy_kev, dtype=float))
    rate = np.asarray(
        wr.rate_wimp_std(energy_kev, mass_gev, sigma_nucleon_cm2, halo_model=_halo_model(halo),
                         interaction=interaction),
        dtype=float,
    )
    return np.array([float(f"{r:.7g}") for r in rate])  # drop numericalunits' noise


@dataclass
class WimpSource(Source):
    """WIMP nuclear recoils for one mass and cross-section."""

    mass_gev: float = 50.0
    sigma_nucleon_cm2: float = 1e-45
    halo: HaloModel = field(default_factory=HaloModel)
    _table: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def differential_rate_per_kg_day_kev(self, energy_kev: np.ndarray) -> np.ndarray:
        # wimprates integrates the velocity distribution per energy: tabulate once, then interpolate
        if self._table is None:
            grid = self.energy_grid_kev()[::10]
            rate = wimp_rate_per_tonne_year_kev(grid, self.mass_gev, self.sigma_nucleon_cm2, self.halo)
            self._table = (grid, rate / KG_DAY_PER_TONNE_YEAR)
        grid, rate = self._table
        energy_kev = np.asarray(energy_kev, dtype=float)
        inside = (energy_kev >= grid[0]) & (energy_kev <= grid[-1])
        return np.where(inside, np.interp(energy_kev, grid, rate), 0.0)


def wimp_source(
    mass_gev: float,
    sigma_nucleon_cm2: float,
    halo: HaloModel | None = None,
    energy_min_kev: float = SIGNAL_ENERGY_MIN_KEV,
    energy_max_kev: float | None = None,
) -> WimpSource:
    """A WIMP source; the energy range ends where the spectrum becomes negligible. A mass
    too light to give recoils above ``energy_min_kev`` is a ConfigError naming
    ``mass_gev``."""
    from wimpsift.errors import bad_value

    if not np.isfinite(mass_gev) or mass_gev <= 0:
        raise bad_value("mass_gev", mass_gev, "a positive WIMP mass in GeV/c^2")
    if not np.isfinite(sigma_nucleon_cm2) or sigma_nucleon_cm2 <= 0:
        raise bad_value("sigma_cm2", sigma_nucleon_cm2, "a positive cross-section in cm^2")
    if not np.isfinite(energy_min_kev) or energy_min_kev <= 0:
        raise bad_value("signal_energy_min_kev", energy_min_kev, "a positive recoil energy in keVnr")
    if energy_max_kev is None:
        energy_max_kev = float(min(200.0, max(10.0, 2.5 * mass_gev)))
    halo = halo or HaloModel()
    # the spectrum falls with energy: no rate at the lowest energy is no rate at all, which
    # is said now, not when the first events are drawn (after outputs were started)
    if wimp_rate_per_tonne_year_kev(np.array([energy_min_kev]), mass_gev, sigma_nucleon_cm2,
                                    halo)[0] <= 0:
        from wimpsift.errors import ConfigError

        raise ConfigError(
            f"mass_gev: a {mass_gev:g} GeV/c^2 WIMP has zero rate over its energy range "
            f"({energy_min_kev:g}-{energy_max_kev:g} keVnr; its recoils stay below "
            f"{energy_min_kev:g} keVnr); use a heavier WIMP or a lower signal_energy_min_kev")
    return WimpSource(
        name="wimp",
        recoil_type="nr",
        energy_min_kev=energy_min_kev,
        energy_max_kev=energy_max_kev,
        mass_gev=mass_gev,
        sigma_nucleon_cm2=sigma_nucleon_cm2,
        halo=halo,
    )


def check_wimp_masses(masses_gev: Iterable[float], parameter: str,
                      halo: HaloModel | None = None) -> None:
    """A ConfigError naming ``parameter`` when a mass is too light to give recoils in the
    simulated energy range (:func:`wimp_source`'s check), for a command to call before it
    starts any work."""
    from wimpsift.errors import ConfigError, renamed

    for mass in masses_gev:
        try:
            wimp_source(float(mass), 1e-45, halo)
        except ConfigError as err:
            raise renamed(err, {"mass_gev": parameter}) from None
