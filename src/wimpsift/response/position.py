"""Position resolution of (x, y) reconstructed from the top-array S2 hit pattern.

The resolution scales as σ = σ₁₀₀₀ √(1000 PE / S2_top), the statistical limit of a
centroid-like reconstruction, with σ₁₀₀₀ a detector setting. Reconstructed positions
are clipped to the TPC radius.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector


def xy_resolution_cm(s2_top_pe: np.ndarray, detector: Detector) -> np.ndarray:
    top = np.clip(np.asarray(s2_top_pe, dtype=float), 1.0, None)
    return detector.charge.xy_resolution_cm_at_1000pe_top * np.sqrt(1000.0 / top)


def reconstruct_xy(
    x_cm: np.ndarray,
    y_cm: np.ndarray,
    s2_top_pe: np.ndarray,
    detector: Detector,
    rng: np.random.Generator,
    inward_bias_cm: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Smear true (x, y) by the resolution; ``inward_bias_cm`` pulls wall events inwards."""
    sigma = xy_resolution_cm(s2_top_pe, detector)
    x = np.asarray(x_cm) + sigma * rng.standard_normal(np.size(x_cm))
    y = np.asarray(y_cm) + sigma * rng.standard_normal(np.size(y_cm))
    r = np.hypot(x, y)
    r_new = np.clip(r - inward_bias_cm, 0.0, detector.geometry.tpc_radius_cm)
    scale = np.divide(r_new, r, out=np.ones_like(r), where=r > 0)
    return x * scale, y * scale
