"""The liquid xenon's density as NEST sees it.

NEST computes its yields at the density that ``NESTcalc.SetDensity`` derives from the
temperature of its detector object (for the liquid, the pressure does not enter); its
default object, at 177 K, gives 2.861 g/cm³. A wimpsift detector declares the density
instead (``geometry.liquid_density_g_cm3``, from its paper; its fiducial mass uses the
same number). :func:`nest_temperature_k` finds the temperature at which NEST's density
equals the declared one, so that NEST's yields, the fiducial mass and the per-interaction
path (:mod:`wimpsift.sources.interactions`, which hands the density to NEST directly)
all see the same liquid. The root is SciPy's ``brentq`` on NEST's own density function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from wimpsift.errors import ConfigError

# NEST's liquid at its default pressure (2.14 bar): above the triple point (161.4 K, where
# NEST turns to the solid's 3.41 g/cm³), below boiling (near 179.4 K, where it turns to gas)
LIQUID_TEMPERATURE_K = (161.5, 179.0)


@lru_cache(maxsize=1)
def _density_at() -> Callable[[float], float]:
    import nestpy

    detector = nestpy.detectors.VDetector()
    calc = nestpy.NESTcalc(detector)
    pressure_bar = detector.get_p_bar()
    return lambda temperature_k: float(calc.SetDensity(temperature_k, pressure_bar))


@lru_cache(maxsize=1)
def nest_liquid_density_range() -> tuple[float, float]:
    """Lowest and highest liquid density (g/cm³) NEST gives over ``LIQUID_TEMPERATURE_K``."""
    density_at = _density_at()
    warm, cold = LIQUID_TEMPERATURE_K[1], LIQUID_TEMPERATURE_K[0]
    return density_at(warm), density_at(cold)


def density_range_problem(density_g_cm3: float) -> str | None:
    """Why NEST cannot simulate a liquid of this density, or None when it can."""
    low, high = nest_liquid_density_range()
    if low <= density_g_cm3 <= high:
        return None
    return (f"{density_g_cm3:g} g/cm3 is outside NEST's liquid xenon, {low:.4f} to "
            f"{high:.4f} g/cm3 ({LIQUID_TEMPERATURE_K[1]:g} K down to "
            f"{LIQUID_TEMPERATURE_K[0]:g} K)")


@lru_cache(maxsize=64)
def nest_temperature_k(density_g_cm3: float) -> float:
    """Temperature (K) at which NEST's liquid xenon has ``density_g_cm3``."""
    from scipy.optimize import brentq

    problem = density_range_problem(density_g_cm3)
    if problem is not None:
        raise ConfigError(f"geometry.liquid_density_g_cm3: {problem}")
    density_at = _density_at()
    return float(brentq(lambda t: density_at(t) - density_g_cm3, *LIQUID_TEMPERATURE_K,
                        xtol=1e-9))
