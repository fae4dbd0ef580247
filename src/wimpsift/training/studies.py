"""Studies of the per-mass discriminant (LUX machine-learning paper, Sec. III-IV).

Each study writes a CSV table and a PNG figure into an output folder and returns the
table:

- :func:`study_inputs` compares input sets on the same events: ``raw_vs_corrected``
  (r, z, S1, log10 S2 against r, z, cS1, log10 cS2; paper Sec. IV C) and
  ``prompt_fraction`` (with and without the S1 prompt fraction; paper Sec. IV D).
- :func:`study_pca`: background leakage at 50 % signal efficiency of the first
  principal component of the (standardised) inputs against that of the network; the
  paper finds PCA more than 10× worse at intermediate masses (Sec. III A).
- :func:`study_projections`: network output over 2-D projections of the inputs,
  log10 cS2 vs cS1 and z vs r² (paper Fig. 4), for background and signal events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wimpsift.errors import ConfigError, DataError
from wimpsift.metrics.leakage import discrimination_summary
from wimpsift.models.dense import input_matrix, resolve_inputs
from wimpsift.plots import pyplot as _pyplot
from wimpsift.plots import save_figure
from wimpsift.progress import Progress
from wimpsift.provenance import atomic_path
from wimpsift.training.discriminant import (
    DiscriminantConfig,
    TrainedDiscriminant,
    balanced_weights,
    check_training_table,
    metrics_table,
    split_table,
    train_masses,
)

Samples = Callable[[float], pd.DataFrame]

INPUT_STUDIES: dict[str, dict[str, str]] = {
    "raw_vs_corrected": {"corrected": "corrected", "raw": "raw"},
    "prompt_fraction": {"without_pf": "corrected", "with_pf": "corrected_pf"},
}


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return path


def _output_folder(output: str | Path) -> Path:
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def study_inputs(
    study: str, config: DiscriminantConfig, samples: Samples, output: str | Path,
    log: Callable[[str], None] | None = None, progress: Progress | None = None,
    trained: dict[str, dict[float, TrainedDiscriminant]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Train the same masses with each input set of ``study``; compare MI, AUC, leakage
    (``progress`` hears of the training epochs, :mod:`wimpsift.progress`). ``trained``:
    networks already trained with ``config`` on the same ``samples``, by inputs and mass
    (e.g. by ``reproduce lux``'s 5-D comparison); an input set with every mass there is
    not trained again. ``provenance`` goes into the figure
    (:func:`wimpsift.plots.save_figure`), as in the other studies."""
    if study not in INPUT_STUDIES:
        raise ConfigError(f"study: got {study!r}, expected one of {sorted(INPUT_STUDIES)}")
    folder = _output_folder(output)
    rows = []
    cache: dict[float, pd.DataFrame] = {}

    def cached(mass: float) -> pd.DataFrame:
        if mass not in cache:
            cache[mass] = samples(mass)
        return cache[mass]

    for variant, inputs in INPUT_STUDIES[study].items():
        cfg = config.model_copy(update={"inputs": inputs})
        done = (trained or {}).get(inputs, {})
        if all(m in done for m in cfg.masses_gev):
            models = {m: done[m] for m in cfg.masses_gev}
        else:
            models = train_masses(cfg, samples=cached, log=log, progress=progress)
        t = metrics_table(models)
        t.insert(0, "variant", variant)
        t.insert(1, "inputs", ",".join(resolve_inputs(inputs)))
        rows.append(t)
    table = pd.concat(rows, ignore_index=True)
    _write_csv(table, folder / f"{study}.csv")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (variant, t) in enumerate(table.groupby("variant", sort=False)):
        colour = f"C{i}"
        axes[0].plot(t.mass_gev, t.leakage_at_50pct_signal, "o-", ms=3, label=variant,
                     color=colour)
        axes[1].errorbar(t.mass_gev, t.output_mi_bits, t.output_mi_error_bits, marker="o", ms=3,
                         color=colour, label=f"{variant}: output")
        axes[1].errorbar(t.mass_gev, t.input_mi_bits, t.input_mi_error_bits, ls="--", marker=".",
                         color=colour, alpha=0.7, label=f"{variant}: inputs")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("background leakage at 50 % signal efficiency")
    axes[1].set_ylabel("MI with class [bits]")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("WIMP mass [GeV/c$^2$]")
        ax.legend(fontsize=7)
    fig.suptitle(study.replace("_", " "))
    fig.tight_layout()
    save_figure(fig, folder / f"{study}.png", provenance=provenance)
    return table


def first_principal_component(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """(mean, scale, direction) of the weighted first principal component of ``x``."""
    mean = np.average(x, axis=0, weights=weights)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weights))
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    cov = np.cov(z, rowvar=False, aweights=weights)
    values, vectors = np.linalg.eigh(np.atleast_2d(cov))
    return mean, scale, vectors[:, np.argmax(values)]


def pca_leakage(table: pd.DataFrame, inputs: Sequence[str]) -> dict[str, float]:
    """Leakage and AUC of the first principal component (fitted on the training split).

    The component is fitted on the balanced training sample; its sign is chosen on the
    training sample so that larger values are more signal-like; metrics on the test split.
    """
    train, test = split_table(table)
    x, y, w = check_training_table(train, inputs, "train")
    xt, yt, wt = check_training_table(test, inputs, "test")
    mean, scale, direction = first_principal_component(x, balanced_weights(y, w))
    proj = ((x - mean) / scale) @ direction
    if discrimination_summary(proj, y, balanced_weights(y, w))["auc"] < 0.5:
        direction = -direction
    proj_t = ((xt - mean) / scale) @ direction
    return discrimination_summary(proj_t, yt, balanced_weights(yt, wt))


def study_pca(
    models: dict[float, TrainedDiscriminant], samples: Samples, output: str | Path,
    provenance: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Leakage of the first principal component against the network, per mass."""
    folder = _output_folder(output)
    rows = []
    for mass in sorted(models):
        model = models[mass]
        pca = pca_leakage(samples(mass), model.inputs)
        nn_leak = model.metrics["leakage_at_50pct_signal"]
        rows.append({"mass_gev": mass, "nn_leakage": nn_leak, "nn_auc": model.metrics["auc"],
                     "pca_leakage": pca["leakage_at_50pct_signal"], "pca_auc": pca["auc"],
                     "leakage_ratio_pca_over_nn": pca["leakage_at_50pct_signal"] / nn_leak
                     if nn_leak > 0 else float("inf")})
    table = pd.DataFrame(rows)
    _write_csv(table, folder / "pca.csv")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(table.mass_gev, table.nn_leakage, "o-", ms=3, label="network")
    axes[0].plot(table.mass_gev, table.pca_leakage, "s-", ms=3, label="first principal component")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("background leakage at 50 % signal efficiency")
    axes[0].legend()
    axes[1].plot(table.mass_gev, table.leakage_ratio_pca_over_nn, "o-", ms=3)
    axes[1].axhline(10, color="0.6", ls="--", lw=0.8)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("leakage ratio PCA / network")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("WIMP mass [GeV/c$^2$]")
    fig.tight_layout()
    save_figure(fig, folder / "pca.png", provenance=provenance)
    return table


PROJECTIONS = (("cs1_pe", "log10_cs2_pe"), ("r2_cm2", "z_cm"))


def _projection_values(table: pd.DataFrame, name: str) -> np.ndarray:
    if name == "r2_cm2":
        return table["r_cm"].to_numpy(dtype=float) ** 2
    return input_matrix(table, [name])[:, 0]


def study_projections(
    model: TrainedDiscriminant, table: pd.DataFrame, output: str | Path, n_events: int = 1000,
    seed: int = 0, n_bins: int = 20, provenance: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Network output over (cS1, log10 cS2) and (r², z) for background and signal (Fig. 4).

    The figure shows ``n_events`` test events of each class, drawn in proportion to
    their weights (so the background panel shows the background model's mixture),
    coloured by the network output f; the table holds the weighted mean output and the
    expected events in ``n_bins``² bins of each projection and class, from all test
    events: an event's ``weight`` is its share of the expected events of the whole
    sample (both splits), so each class's test weights are scaled by the class's total
    weight over its test weight (the bins of a class add up to its expected events).
    """
    folder = _output_folder(output)
    _, test = split_table(table)
    check_training_table(test, model.inputs, "test")
    needed = {"r_cm", "z_cm", "cs1_pe", "cs2_pe"} - set(test.columns)
    if needed:
        raise DataError(f"table: missing column(s) {sorted(needed)} for the projections")
    f = model.output(test)
    rng = np.random.default_rng(seed)
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    rows = []
    for i, (cls, name) in enumerate(((0, "background"), (1, f"{model.mass_gev:g} GeV WIMP"))):
        sel = np.flatnonzero(test["label"].to_numpy() == cls)
        w_sel = test["weight"].to_numpy(dtype=float)[sel]
        # the test split holds about test_fraction of each class's expected events
        to_expected = (table["weight"].to_numpy(dtype=float)[table["label"].to_numpy() == cls].sum()
                       / w_sel.sum())
        # events drawn in proportion to their weights: the plot shows the model mixture
        enough = np.count_nonzero(w_sel) >= min(n_events, sel.size)
        shown = rng.choice(sel, size=min(n_events, sel.size), replace=not enough,
                           p=w_sel / w_sel.sum())
        for j, (xa, ya) in enumerate(PROJECTIONS):
            xv = _projection_values(test, xa)
            yv = _projection_values(test, ya)
            ax = axes[i, j]
            sc = ax.scatter(xv[shown], yv[shown], c=f[shown], s=4, cmap="viridis", vmin=0, vmax=1)
            ax.set_xlabel(xa)
            ax.set_ylabel(ya)
            ax.set_title(name)
            fig.colorbar(sc, ax=ax, label="network output f")
            xe = np.linspace(xv.min(), xv.max(), n_bins + 1)
            ye = np.linspace(yv.min(), yv.max(), n_bins + 1)
            count, _, _ = np.histogram2d(xv[sel], yv[sel], [xe, ye])
            wsum, _, _ = np.histogram2d(xv[sel], yv[sel], [xe, ye], weights=w_sel)
            total, _, _ = np.histogram2d(xv[sel], yv[sel], [xe, ye], weights=f[sel] * w_sel)
            for a in range(n_bins):
                for b in range(n_bins):
                    if wsum[a, b] > 0:
                        rows.append({"class": "signal" if cls else "background",
                                     "projection": f"{ya}_vs_{xa}",
                                     "x_low": xe[a], "x_high": xe[a + 1], "y_low": ye[b],
                                     "y_high": ye[b + 1], "n_events": int(count[a, b]),
                                     "expected_events": wsum[a, b] * to_expected,
                                     "mean_output": total[a, b] / wsum[a, b]})
    fig.tight_layout()
    save_figure(fig, folder / f"projections_{model.mass_gev:g}GeV.png", provenance=provenance)
    out = pd.DataFrame(rows)
    _write_csv(out, folder / f"projections_{model.mass_gev:g}GeV.csv")
    return out
