"""Uniform (CDF) transform g(f) of a discriminant output, fitted on a balanced test set.

LUX machine-learning paper, Sec. III: the network output f(x) piles up near 0 and 1,
so it is mapped through the cumulative distribution function of a test set made of
equal parts signal and background, g(f) = CDF(f), with linear interpolation between
the test values. On a balanced sample g(f) is then uniform in [0, 1], and binned
likelihood templates in g keep their resolution at the extremes.

Weights are honoured: each class is rescaled to half of the total weight before the
CDF is built (so background sources keep their relative expected rates). The CDF at a
test value is the weight strictly below it plus half the weight at it (mid-point
rule); values below (above) every knot map to 0 (1). At most ``max_knots`` knots are
kept, evenly spaced in g, so the saved transform stays small.

The transform is stored as JSON-able knots and can be applied to any event table via
the discriminant that owns it (:class:`wimpsift.training.discriminant.TrainedDiscriminant`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wimpsift.errors import ConfigError, DataError
from wimpsift.metrics.leakage import validate_scores

#: how far above 1 the last knot of g may lie: the rounding of a sum of weights
G_ROUNDING = 1e-9


@dataclass
class UniformTransform:
    """g(f): piecewise-linear CDF of the balanced test-set output."""

    max_knots: int = 4001
    knots_f_: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    knots_g_: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def fit(self, values: object, labels: object, weights: object | None = None) -> UniformTransform:
        if not isinstance(self.max_knots, int) or self.max_knots < 2:
            raise ConfigError(f"max_knots: got {self.max_knots!r}, expected an integer >= 2")
        f, y, w = validate_scores(values, labels, weights)
        w = w.copy()
        for c in (0, 1):
            w[y == c] *= 0.5 / w[y == c].sum()
        uniq, inverse = np.unique(f, return_inverse=True)
        w_at = np.bincount(inverse, weights=w)
        below = np.concatenate([[0.0], np.cumsum(w_at)[:-1]])
        g = below + 0.5 * w_at
        if uniq.size > self.max_knots:
            pick = np.unique(np.searchsorted(g, np.linspace(g[0], g[-1], self.max_knots)))
            pick = np.unique(np.r_[0, np.clip(pick, 0, uniq.size - 1), uniq.size - 1])
            uniq, g = uniq[pick], g[pick]
        self.knots_f_, self.knots_g_ = uniq.astype(float), g.astype(float)
        return self

    @property
    def is_fitted(self) -> bool:
        return self.knots_f_.size > 0

    def __call__(self, values: object) -> np.ndarray:
        if not self.is_fitted:
            raise DataError("uniform transform: not fitted; call fit() on a test set first")
        f = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(f)):
            raise DataError(f"values: {int(np.sum(~np.isfinite(f)))} non-finite value(s)")
        return np.interp(f, self.knots_f_, self.knots_g_, left=0.0, right=1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"max_knots": self.max_knots, "knots_f": self.knots_f_.tolist(),
                "knots_g": self.knots_g_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UniformTransform:
        try:
            out = cls(max_knots=int(data["max_knots"]))
            out.knots_f_ = np.asarray(data["knots_f"], dtype=float)
            out.knots_g_ = np.asarray(data["knots_g"], dtype=float)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"uniform transform: malformed saved transform: {err}") from err
        f, g = out.knots_f_, out.knots_g_
        if f.ndim != 1 or f.shape != g.shape:
            raise DataError("uniform transform: knots_f and knots_g must be lists of equal length")
        if not (np.all(np.isfinite(f)) and np.all(np.diff(f) > 0)):
            raise DataError("uniform transform: knots_f must be finite and increasing")
        # g is a CDF: fit() writes it non-decreasing (equal where weights are zero), in
        # [0, 1] up to the rounding of its sum of weights
        if not (np.all(np.isfinite(g)) and np.all(np.diff(g) >= 0)
                and np.all(g >= 0) and np.all(g <= 1 + G_ROUNDING)):
            raise DataError("uniform transform: knots_g must be finite, non-decreasing and "
                            "within [0, 1]")
        return out
