"""Print the ``[fiducial.boundary]`` table of ``xenon1t_sr1.toml`` from XENON1T SR1's
published 1.3 t fiducial-volume shape.

Source of the numbers: flamedisx's public XENON1T SR1 model (FlamTeam/flamedisx,
``flamedisx/xenon/x1t_sr1.py``, the spatial template ``construct_exponential_r_spatial_hist``,
comment "For SR1 FV"), BSD 3-Clause licence, Copyright (c) 2019, Jelle Aalbers. The volume
keeps r < 42.8387 cm, -94 < z < -8 cm, z < -2.63725 - 0.00946597 r^2 (top) and
z > -158.173 + 0.0456094 r^2 (bottom), z in cm below the gate. Only these published numbers
are used; the function below is written here.

At each depth the largest radius is the smallest of the three radial limits; the table
puts nodes about 1 cm apart where a parabola limits the radius and at the two depths where the
parabolas meet r = 42.8387 cm. Between nodes the detector file's radius is linear in z,
which lies inside the concave sqrt curve by at most a few mm. Run
``python scripts/xenon1t_sr1_fiducial_boundary.py`` and paste its output.
"""

from __future__ import annotations

import math

import numpy as np

R_MAX_CM = 42.8387
Z_RANGE_CM = (-94.0, -8.0)
TOP = (-2.63725, 0.00946597)      # z < a - b r^2
BOTTOM = (-158.173, 0.0456094)    # z > a + b r^2
DENSITY_G_CM3 = 2.862             # xenon1t_sr1.toml geometry.liquid_density_g_cm3
NODE_SPACING_CM = 1.0


def max_radius_cm(z_cm: np.ndarray) -> np.ndarray:
    """Largest radius inside the SR1 fiducial volume at each depth."""
    z = np.asarray(z_cm, dtype=float)
    r2_top = (TOP[0] - z) / TOP[1]
    r2_bottom = (z - BOTTOM[0]) / BOTTOM[1]
    return np.sqrt(np.clip(np.minimum(np.minimum(r2_top, r2_bottom), R_MAX_CM**2), 0.0, None))


def boundary() -> tuple[np.ndarray, np.ndarray]:
    """(z_cm rising, radius_cm) nodes of the boundary."""
    z_bottom_kink = BOTTOM[0] + BOTTOM[1] * R_MAX_CM**2
    z_top_kink = TOP[0] - TOP[1] * R_MAX_CM**2
    lower = np.arange(Z_RANGE_CM[0], z_bottom_kink - NODE_SPACING_CM / 2, NODE_SPACING_CM)
    upper = np.arange(Z_RANGE_CM[1], z_top_kink + NODE_SPACING_CM / 2, -NODE_SPACING_CM)[::-1]
    z = np.concatenate([lower, [z_bottom_kink, z_top_kink], upper])
    z = np.round(z, 2)
    return z, np.round(max_radius_cm(z), 2)


def exact_mass_kg() -> float:
    """Mass of the exact shape (fine numerical integral over depth)."""
    z = np.linspace(*Z_RANGE_CM, 200_001)
    return float(math.pi * np.trapezoid(max_radius_cm(z) ** 2, z) * DENSITY_G_CM3 / 1000.0)


if __name__ == "__main__":
    z, r = boundary()
    r0, r1 = r[:-1], r[1:]
    table_kg = math.pi * np.sum(np.diff(z) * (r0**2 + r0 * r1 + r1**2) / 3.0) * DENSITY_G_CM3 / 1000.0
    print(f"# exact shape {exact_mass_kg():.1f} kg, table {table_kg:.1f} kg at {DENSITY_G_CM3} g/cm3")
    print("[fiducial.boundary]")
    print("z_cm = [" + ", ".join(f"{v:.2f}" for v in z) + "]")
    print("radius_cm = [" + ", ".join(f"{v:.2f}" for v in r) + "]")
