"""Baselines for the CNN, on the same events: the standard selection and a dense network.

* :class:`NRBandMedianSelection`: XENON1T's standard ER/NR discrimination. In bins of
  cS1 the median of the NR band in ``log10(cS2/cS1)`` is estimated from *training* NR
  events (interpolated linearly between bin centres, held flat outside); an event
  passes when it lies below the median. By construction this keeps 50 % of NR events
  and the ER rejection is the fraction of ER events above the NR median (the paper's
  99.8 % for XENON1T). The score ``median(cS1) - log10(cS2/cS1)`` is higher for more
  NR-like events, so the same ROC/rejection code applies to it.
* :class:`EventVariableMLP`: a small dense network on event variables (default cS1,
  log10 cS2, r, z), scikit-learn's ``MLPClassifier`` behind a ``StandardScaler``;
  :class:`EventVariableMLPEnsemble`, several of them with the seeds of the CNN ensembles'
  members, their log-odds averaged (the dense baseline gets the CNNs' care).

Both follow scikit-learn conventions and take a pandas DataFrame with wimpsift's event
columns (``cs1_pe``, ``cs2_pe``, ``r_cm``, ``z_cm``, ...) and labels 1 = WIMP, 0 = ER.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from wimpsift.errors import DataError, bad_value
from wimpsift.seeding import int_seed

DERIVED = {"log10_cs2": ("cs2_pe", np.log10), "log10_s2": ("s2_area_pe", np.log10)}


def event_features(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Columns of an event table as a float64 matrix; ``log10_cs2``/``log10_s2`` derived.

    Raises DataError for missing columns, non-positive S2 under a log or non-finite values.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"events: got {type(table).__name__}, expected a pandas DataFrame")
    out = []
    for name in columns:
        if name in DERIVED:
            source, fn = DERIVED[name]
            if source not in table.columns:
                raise DataError(f"events: missing column {source!r} (needed for {name!r})")
            values = table[source].to_numpy(dtype=float)
            if (values <= 0).any():
                raise DataError(f"events: column {source!r} has non-positive values; "
                                f"cannot take {name}")
            out.append(fn(values))
        else:
            if name not in table.columns:
                raise DataError(f"events: missing column {name!r}")
            out.append(table[name].to_numpy(dtype=float))
    matrix = np.column_stack(out) if out else np.empty((len(table), 0))
    if not np.isfinite(matrix).all():
        raise DataError(f"events: non-finite values in columns {list(columns)}")
    return matrix


def _labels(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"y: got shape {y.shape}, expected ({n},)")
    classes = np.unique(y)
    if not (len(classes) == 2 and set(classes.tolist()) <= {0, 1}):
        raise DataError(f"y: got classes {classes.tolist()}, expected both 0 (ER) and 1 (WIMP)")
    return y.astype(int)


class NRBandMedianSelection(ClassifierMixin, BaseEstimator):
    """Cut below the NR band median in (cS1, log10(cS2/cS1)); see the module docstring."""

    def __init__(self, n_bins: int = 20, cs1_column: str = "cs1_pe",
                 cs2_column: str = "cs2_pe") -> None:
        self.n_bins = n_bins
        self.cs1_column = cs1_column
        self.cs2_column = cs2_column

    def _xy(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        m = event_features(table, [self.cs1_column, self.cs2_column])
        if (m <= 0).any():
            raise DataError(f"events: {self.cs1_column}/{self.cs2_column} must be positive")
        return m[:, 0], np.log10(m[:, 1] / m[:, 0])

    def fit(self, table: pd.DataFrame, y: Any) -> NRBandMedianSelection:
        if not isinstance(self.n_bins, int) or self.n_bins < 1:
            raise bad_value("n_bins", self.n_bins, "a positive integer")
        cs1, band = self._xy(table)
        y = _labels(y, len(cs1))
        nr_cs1, nr_band = cs1[y == 1], band[y == 1]
        n_bins = max(1, min(self.n_bins, len(nr_cs1) // 20))
        # equal-population bins in cS1: every median is estimated from ~ the same count
        edges = np.quantile(nr_cs1, np.linspace(0, 1, n_bins + 1))
        edges = np.unique(edges)
        which = np.clip(np.searchsorted(edges, nr_cs1, side="right") - 1, 0, len(edges) - 2)
        centres, medians = [], []
        for b in range(len(edges) - 1):
            sel = which == b
            if sel.sum() >= 5:
                centres.append(float(np.median(nr_cs1[sel])))
                medians.append(float(np.median(nr_band[sel])))
        if not centres:
            raise DataError("events: too few NR events to estimate the NR band median")
        self.bin_edges_ = edges
        self.cs1_centres_ = np.asarray(centres)
        self.nr_median_ = np.asarray(medians)
        self.classes_ = np.array([0, 1])
        return self

    def nr_median(self, cs1: np.ndarray) -> np.ndarray:
        return np.interp(cs1, self.cs1_centres_, self.nr_median_)

    def decision_function(self, table: pd.DataFrame) -> np.ndarray:
        """``median(cS1) - log10(cS2/cS1)``: positive below the NR median (passes)."""
        cs1, band = self._xy(table)
        return self.nr_median(cs1) - band

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return (self.decision_function(table) > 0).astype(int)

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        p1 = 1.0 / (1.0 + np.exp(-10.0 * self.decision_function(table)))
        return np.column_stack([1 - p1, p1])

    def selection_summary(self, table: pd.DataFrame, y: Any) -> dict[str, float]:
        """NR (WIMP) acceptance and ER rejection of the cut itself on labelled events; the
        rejection's error is binomial (the cut is fixed by the training events), at least
        :data:`~wimpsift.metrics.remaining.ZERO_COUNT_UPPER_68` leaked events, as
        :func:`~wimpsift.metrics.classification.rejection_error` (a cut that leaked no ER
        event reported an error of exactly 0)."""
        from wimpsift.metrics.remaining import ZERO_COUNT_UPPER_68

        passed = self.predict(table).astype(bool)
        y = _labels(y, len(passed))
        n_er = int((y == 0).sum())
        rejection = 1.0 - passed[y == 0].mean()
        leaked_error = max(np.sqrt(n_er * rejection * (1 - rejection)), ZERO_COUNT_UPPER_68)
        return {
            "nr_acceptance": float(passed[y == 1].mean()),
            "er_rejection": float(rejection),
            "er_rejection_error": float(leaked_error / n_er),
            "er_leaked": int(passed[y == 0].sum()),
            "n_er": n_er,
        }


class EventVariableMLP(ClassifierMixin, BaseEstimator):
    """A small dense network on event variables (standardised inputs)."""

    def __init__(self, columns: Sequence[str] = ("cs1_pe", "log10_cs2", "r_cm", "z_cm"),
                 hidden_layer_sizes: Sequence[int] = (32, 16), max_iter: int = 300,
                 random_state: int = 0) -> None:
        self.columns = columns
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, table: pd.DataFrame, y: Any, sample_weight: Any = None) -> EventVariableMLP:
        """Fit; ``sample_weight`` (optional) weights each event's loss."""
        if not self.columns:
            raise bad_value("columns", self.columns, "at least one event column")
        X = event_features(table, list(self.columns))
        y = _labels(y, len(X))
        fit_params = {}
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=float)
            if w.shape != (len(X),) or not np.isfinite(w).all() or (w < 0).any():
                raise DataError(f"sample_weight: expected {len(X)} finite non-negative weights")
            fit_params["mlpclassifier__sample_weight"] = w / w.mean()
        self.pipeline_ = make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=tuple(self.hidden_layer_sizes),
                          max_iter=self.max_iter, early_stopping=True,
                          random_state=self.random_state),
        ).fit(X, y, **fit_params)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(event_features(table, list(self.columns)))

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(table)[:, 1] >= 0.5).astype(int)


class EventVariableMLPEnsemble:
    """``size`` :class:`EventVariableMLP` trained on the same events with the seeds of
    :class:`~wimpsift.training.weighted_cnn.WeightedCNNEnsemble`'s members (member 0 with
    ``random_state``, member k with ``int_seed(random_state, "ensemble", k)``); the score
    is the members' mean log-odds, as the binary CNN ensemble's is their mean logit."""

    def __init__(self, size: int, columns: Sequence[str], random_state: int = 0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise bad_value("size", size, "at least one network")
        self.members = [EventVariableMLP(columns=columns, random_state=(
            random_state if k == 0 else int_seed(random_state, "ensemble", k)))
            for k in range(size)]

    def fit(self, table: pd.DataFrame, y: Any, sample_weight: Any = None
            ) -> EventVariableMLPEnsemble:
        for member in self.members:
            member.fit(table, y, sample_weight)
        return self

    def member_log_odds(self, table: pd.DataFrame) -> np.ndarray:
        """Every member's log(p / (1 − p)) of WIMP; (size, N)."""
        p = np.stack([m.predict_proba(table)[:, 1] for m in self.members])
        return np.log(np.clip(p, 1e-300, None)) - np.log(np.clip(1 - p, 1e-300, None))

    def log_odds(self, table: pd.DataFrame) -> np.ndarray:
        """The members' mean log-odds; (N,)."""
        return self.member_log_odds(table).mean(axis=0)
