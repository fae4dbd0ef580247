"""Print the ``[fiducial.boundary]`` table of ``lz_ws2024.toml`` from LZ's published WS2024
fiducial-volume definition.

Source of the numbers: flamedisx's public LZ WS2024 model (FlamTeam/flamedisx,
``flamedisx/lz/WS2024_cuts_and_acceptances.py``, ``WS2024_fiducial_volume_cut``, there
adapted from LZ's BGSkimmer), BSD 3-Clause licence, Copyright (c) 2019, Jelle Aalbers.
The cut keeps drift times 71-1030 us and events whose reconstructed radius lies more than
a drift-time-dependent distance (``FV_POLY``, negative) inside the reconstructed wall;
the wall is a 5th-order polynomial in drift time for each of 12 azimuthal slices
(``WALL_POLYS``), drawn inward at depth by the non-uniform drift field.

wimpsift reconstructs positions without that field distortion, and its fiducial volumes
are axially symmetric, so the table here is the boundary in true coordinates: at each
drift time the distance to the wall is scaled from the reconstructed wall radius
(averaged over the 12 slices) to the TPC radius, r = R_TPC * (1 + FV_POLY / wall), and
drift time becomes depth with the detector file's drift velocity. Run
``python scripts/lz_ws2024_fiducial_boundary.py`` and paste its output.
"""

from __future__ import annotations

import numpy as np

# fifth-order polynomials in drift time (us), highest power first, cm
WALL_POLYS = [
    [-1.78880746e-13, 4.91268301e-10, -4.96134607e-07, 2.26430932e-04, -4.71792008e-02, 7.33811298e01],
    [-1.72264463e-13, 4.59149636e-10, -4.59325165e-07, 2.14612376e-04, -4.85599108e-02, 7.35290867e01],
    [-3.17099156e-14, 7.26336129e-11, -6.99495385e-08, 3.85531008e-05, -1.33386004e-02, 7.18002889e01],
    [-6.12280314e-14, 1.67968911e-10, -1.83625538e-07, 1.00457608e-04, -2.86728022e-02, 7.22754350e01],
    [-1.89897962e-14, 1.52777215e-11, -2.79681508e-09, 1.25689887e-05, -1.33093804e-02, 7.17662251e01],
    [-2.32118621e-14, 7.30043322e-11, -9.40606298e-08, 6.29728588e-05, -2.28150175e-02, 7.22661091e01],
    [-8.29749194e-14, 2.31096069e-10, -2.47867121e-07, 1.27576029e-04, -3.24702414e-02, 7.26357609e01],
    [-2.00718008e-13, 5.44135757e-10, -5.59484466e-07, 2.73028553e-04, -6.46879791e-02, 7.45264998e01],
    [-7.77420021e-14, 1.97357045e-10, -1.90016273e-07, 8.99659454e-05, -2.30169916e-02, 7.25038258e01],
    [-5.27296334e-14, 1.49415580e-10, -1.58205132e-07, 8.00275441e-05, -2.13559394e-02, 7.23995451e01],
    [-6.00198219e-14, 1.55333004e-10, -1.60367908e-07, 7.97754165e-05, -1.94435594e-02, 7.22714399e01],
    [-8.89919309e-14, 2.40830027e-10, -2.57060475e-07, 1.33002951e-04, -3.32969110e-02, 7.28696020e01],
]
FV_POLY = [-4.44147071e-14, 1.43684777e-10, -1.82739476e-07, 1.02160174e-04, -2.31617857e-02,
           -2.05932471e00]
DRIFT_TIME_RANGE_US = (71.0, 1030.0)
TPC_RADIUS_CM = 72.8          # lz_ws2024.toml geometry.tpc_radius_cm
DRIFT_VELOCITY_MM_US = 1.33   # lz_ws2024.toml drift.drift_velocity_mm_us
N_NODES = 25


def boundary(n_nodes: int = N_NODES) -> tuple[np.ndarray, np.ndarray]:
    """(z_cm rising, radius_cm) of the fiducial boundary at ``n_nodes`` drift times."""
    dt = np.linspace(*DRIFT_TIME_RANGE_US, n_nodes)
    wall = np.mean([np.polyval(c, dt) for c in WALL_POLYS], axis=0)
    radius = TPC_RADIUS_CM * (1.0 + np.polyval(FV_POLY, dt) / wall)
    z = -dt * DRIFT_VELOCITY_MM_US / 10.0
    return z[::-1], radius[::-1]


if __name__ == "__main__":
    z, r = boundary()
    print("[fiducial.boundary]")
    print("z_cm = [" + ", ".join(f"{v:.2f}" for v in z) + "]")
    print("radius_cm = [" + ", ".join(f"{v:.2f}" for v in r) + "]")
    volume = np.pi * np.sum(np.diff(z) * (r[:-1] ** 2 + r[:-1] * r[1:] + r[1:] ** 2) / 3.0)
    print(f"# volume {volume:.4g} cm3; x 2.885 g/cm3 = {volume * 2.885e-3:.0f} kg; "
          f"bounding radius {r.max():.2f} cm")
