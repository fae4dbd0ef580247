"""`wimpsift reproduce cnn`: the CNN seed's analysis end to end.

Stages (each writes under the output directory ``DIR``):

1. ``images``: training and independent test image sets (WIMP signal, ER background),
   built by :func:`wimpsift.images.dataset.build_image_dataset` into
   ``DIR/data/{train,test}.h5`` (different seeds, so the test events are new);
2. ``search``: the cross-validated grid search of :mod:`wimpsift.training.grid_search`
   on the ``search_kind`` images (HitPeak, as in the seed), cached under
   ``DIR/search/`` so an interrupted run resumes;
3. ``final``: one model per image kind with the chosen settings, trained on a 70:30
   stratified split with per-epoch curves and best weights, saved with its
   configuration, preprocessing and a TorchScript export under ``DIR/models/<kind>/``;
4. ``test``: metrics on the test set, ROC/PR curves and confusion matrices;
5. ``baselines``: the standard selection (below the NR band median, fitted on training
   NR events) and a dense network on event variables, on the same test events;
6. ``report``: ``DIR/metrics.json`` and ``DIR/report.html`` (our Table IV beside the
   seed's, every figure, the baselines).

Scales: ``paper`` is the seed's (10,000 + 10,000 training and 5,000 + 5,000 test
events, the full grid). ``quick`` (a few thousand events, a reduced grid and fewer
epochs; the report says so) fits in 20 minutes on two cores.

``images="synthetic"`` replaces stage 1 by toy images drawn in process from a toy
event table. It exists to test the plumbing without the waveform simulation; its
numbers mean nothing physically and the report says so in its title.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError
from sklearn.model_selection import train_test_split

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, DataError
from wimpsift.execution import ExecutionConfig, Executor, Task, execution_config
from wimpsift.metrics.classification import (
    background_rejection_at_acceptance,
    classification_metrics,
    plot_confusion_matrix,
    plot_history,
    plot_pr_curves,
    plot_roc_curves,
)
from wimpsift.papers import CNN_HEADLINE, CNN_TABLE_IV
from wimpsift.plots.grid_search import plot_layer_heatmaps, plot_stage_curves
from wimpsift.provenance import atomic_path, provenance, write_json
from wimpsift.seeding import int_seed
from wimpsift.training.baselines import EventVariableMLP, NRBandMedianSelection
from wimpsift.training.cnn_estimator import CNNClassifier, save_cnn, validation_problems
from wimpsift.training.grid_search import (
    GridSearchConfig,
    grid_config,
    grid_search,
)

ImageKind = Literal["hit", "peak", "hitpeak"]
KIND_LABELS = {"hit": "Hit", "peak": "Peak", "hitpeak": "HitPeak"}

QUICK_GRID: dict[str, Any] = {
    "n_conv_layers": [1, 2], "batch_size": [100], "epochs": [4, 8, 12],
    "leaky_alpha": [0.01, 0.05], "learning_rate": [0.001, 0.005],
}
SCALES: dict[str, dict[str, Any]] = {
    "quick": {"train_events_per_class": 1000, "test_events_per_class": 1000,
              "grid": QUICK_GRID},
    "paper": {"train_events_per_class": 10000, "test_events_per_class": 5000, "grid": {}},
}


class ReproduceCNNConfig(WimpsiftConfig):
    """Settings of the reproduction (``scale`` fills the sizes and grid not given)."""

    scale: Literal["quick", "paper"] = "quick"
    detector: str = "xenon1t_sr0"
    signal: str = "wimp:500"
    background: str = "er"
    train_events_per_class: int = Field(1000, ge=10)
    test_events_per_class: int = Field(1000, ge=10)
    kinds: list[ImageKind] = Field(default_factory=lambda: ["hit", "peak", "hitpeak"],
                                   min_length=1)
    search_kind: ImageKind = "hitpeak"
    scoring: Literal["recall", "precision", "accuracy", "f1", "roc_auc",
                     "average_precision"] = "recall"
    grid: dict[str, Any] = Field(default_factory=dict)
    validation_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    monitor: Literal["val_loss", "val_accuracy", "val_precision", "val_recall"] = "val_loss"
    pool_stride: int = Field(2, ge=1)
    seed: int = Field(0, ge=0)
    device: str | None = None
    threads: int = Field(1, ge=1)
    n_workers: int = Field(2, ge=1)
    scheduler_address: str | None = None
    executor: Literal["dask", "serial"] = "dask"
    halving_factor: int | None = Field(None, ge=2)
    execution: ExecutionConfig | None = None  # any backend; overrides executor & co.
    images: Literal["wimpsift", "synthetic"] = "wimpsift"
    progress: bool = True


def make_config(scale: str = "quick", **overrides: Any) -> ReproduceCNNConfig:
    """The configuration of a scale with ``overrides`` (None values ignored) applied."""
    if scale not in SCALES:
        raise ConfigError(f"scale: got {scale!r}, expected one of {sorted(SCALES)}")
    settings = {**SCALES[scale], "scale": scale}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = ReproduceCNNConfig(**settings)
    except ValidationError as err:
        raise ConfigError(f"reproduce cnn: {validation_problems(err)}") from err
    if cfg.search_kind not in cfg.kinds:
        raise ConfigError(
            f"search_kind: got {cfg.search_kind!r}, expected one of kinds {cfg.kinds}"
        )
    _grid(cfg)  # validate the grid now, not after the images are built
    return cfg


def _grid(cfg: ReproduceCNNConfig) -> GridSearchConfig:
    return grid_config(**{
        "random_state": cfg.seed, "executor": cfg.executor, "n_workers": cfg.n_workers,
        "scheduler_address": cfg.scheduler_address, "progress": cfg.progress,
        "threads_per_trial": 1, "scoring": cfg.scoring, "halving_factor": cfg.halving_factor,
        "execution": cfg.execution,
        "estimator_params": {"pool_stride": cfg.pool_stride, "random_state": cfg.seed,
                             "device": cfg.device},
        **cfg.grid,
    })


# --------------------------------------------------------------------------- images

ImageSets = dict[str, tuple[np.ndarray, np.ndarray, pd.DataFrame]]


def wimpsift_image_sets(cfg: ReproduceCNNConfig, data_dir: Path, split: str,
                        events_per_class: int, seed: int) -> ImageSets:
    """Build (or resume) one image data set with the images API and load every kind."""
    try:
        from wimpsift.images.dataset import build_image_dataset, load_images
    except ImportError as err:
        raise ConfigError(
            "images: wimpsift.images.dataset.build_image_dataset is not available in this "
            f"installation ({err}); use images='synthetic' to test the rest of the pipeline"
        ) from err
    path = build_image_dataset(
        data_dir / f"{split}.h5", cfg.detector, signal=cfg.signal, background=cfg.background,
        events_per_class=events_per_class, kinds=tuple(cfg.kinds), seed=seed,
        progress=cfg.progress,
    )
    return {kind: load_images(path, kind) for kind in cfg.kinds}


def synthetic_image_sets(cfg: ReproduceCNNConfig, events_per_class: int, seed: int,
                         shapes: dict[str, tuple[int, int]] | None = None) -> ImageSets:
    """Toy images for plumbing tests only: NOT a physics simulation.

    A toy event table (cS1 uniform, log10(cS2/cS1) from two overlapping Gaussian bands,
    NR lower; uniform positions) and, per kind, a blob whose brightness and position
    encode cS1, cS2 and (x, y) plus pixel noise.
    """
    shapes = shapes or {"hit": (50, 100), "peak": (50, 100), "hitpeak": (75, 75)}
    rng = np.random.default_rng(seed)
    n = 2 * events_per_class
    y = np.repeat([1, 0], events_per_class)
    cs1 = rng.uniform(3, 70, n)
    band = np.where(y == 1, 1.9, 2.25) - 0.35 * np.log10(cs1 / 10) + rng.normal(0, 0.12, n)
    r = 36 * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    table = pd.DataFrame({
        "event_id": np.arange(n), "source": np.where(y == 1, "wimp", "er"),
        "recoil_type": np.where(y == 1, "nr", "er"), "cs1_pe": cs1,
        "cs2_pe": cs1 * 10 ** band, "s1_area_pe": cs1, "s2_area_pe": cs1 * 10 ** band,
        "x_cm": r * np.cos(phi), "y_cm": r * np.sin(phi), "r_cm": r,
        "z_cm": rng.uniform(-90, -5, n),
    })
    out: ImageSets = {}
    for kind in cfg.kinds:
        h, w = shapes[kind]
        yy, xx = np.mgrid[0:h, 0:w]
        img = rng.normal(0.1, 0.03, (n, h, w)).astype(np.float32)
        cx = (0.5 + table["x_cm"].to_numpy() / 100) * w
        cy = (0.5 + table["y_cm"].to_numpy() / 100) * h
        amp = 0.3 + 0.2 * (band - 1.5)
        for i in range(n):
            img[i] += amp[i] * np.exp(-((xx - cx[i]) ** 2 + (yy - cy[i]) ** 2) / 20.0)
        out[kind] = (np.clip(img, 0, 1), y.copy(), table.copy())
    return out


# --------------------------------------------------------------------------- stages


def _check_sets(sets: ImageSets, split: str) -> None:
    for kind, (X, y, table) in sets.items():
        if len(X) != len(y) or len(table) != len(y):
            raise DataError(
                f"{split} images ({kind}): {len(X)} images, {len(y)} labels and "
                f"{len(table)} table rows, expected equal counts"
            )


def fit_final_model(cfg: ReproduceCNNConfig, X: np.ndarray, y: np.ndarray,
                    params: dict[str, Any]) -> tuple[CNNClassifier, dict[str, Any]]:
    """Train one final model on a stratified (1 - f):f split (70:30 by default)."""
    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=cfg.validation_fraction, stratify=y,
                              random_state=cfg.seed)
    est = CNNClassifier(**{**params, "pool_stride": cfg.pool_stride, "random_state": cfg.seed,
                           "device": cfg.device, "monitor": cfg.monitor,
                           "restore_best_weights": True, "num_threads": cfg.threads,
                           "checkpoint_epochs": ()})
    est.fit(X[tr], y[tr], validation_data=(X[va], y[va]))
    info = {"n_train": len(tr), "n_validation": len(va), "best_epoch": est.best_epoch_,
            "fit_time_s": est.fit_time_s_, "images_per_s": est.images_per_s_,
            "n_parameters": est.n_parameters_}
    return est, info


def _final_models(cfg: ReproduceCNNConfig, train: ImageSets, params: dict[str, Any]
                  ) -> dict[str, tuple[CNNClassifier, dict[str, Any]]]:
    """One final model per kind, on the executor (in parallel on Dask workers)."""
    execution = cfg.execution or execution_config(
        parallel=cfg.executor == "dask" and len(cfg.kinds) > 1,
        scheduler_address=cfg.scheduler_address, n_workers=min(cfg.n_workers, len(cfg.kinds)),
        progress=False)
    with Executor(execution) as executor:
        # scattered: large arrays do not belong in the task graph
        tasks = {k: Task(fit_final_model, (cfg, executor.scatter(train[k][0]),
                                           executor.scatter(train[k][1]), params))
                 for k in cfg.kinds}
        return executor.map(tasks, "final models")  # type: ignore[return-value]


def _save_final(out: Path, kind: str, est: CNNClassifier, info: dict[str, Any]) -> None:
    model_dir = out / "models" / kind
    save_cnn(est, model_dir, preprocessing={
        "image_kind": kind, "input_shape": list(est.input_shape_),
        "pixels": "float32 in [0, 1] as written by wimpsift.images",
        "labels": {"1": "WIMP (signal)", "0": "ER (background)"},
    }, stage="cnn.final_model")
    plot_history(est.history_, out / "figures" / f"history_{kind}.png",
                 title=f"{KIND_LABELS[kind]}: final training (70:30)")
    info["model_dir"] = str(model_dir.relative_to(out))


def run_reproduce_cnn(cfg: ReproduceCNNConfig, out: str | Path) -> dict[str, Any]:
    """Run every stage; return the metrics dictionary also written to ``metrics.json``."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures").mkdir(exist_ok=True)
        (out / "data").mkdir(exist_ok=True)
    except OSError as err:
        raise ConfigError(f"output: cannot create {str(out)!r}: {err}") from err
    grid_cfg = _grid(cfg)
    write_json(out / "config.json", {"provenance": provenance(cfg, cfg.seed, "cnn.reproduce"),
                                     "grid": grid_cfg.model_dump(mode="json")})
    timings: dict[str, float] = {}

    # 1. images -----------------------------------------------------------------------
    t0 = time.perf_counter()
    # independent children of the run's seed for the training and test images
    train_seed, test_seed = int_seed(cfg.seed, "images", "train"), int_seed(cfg.seed, "images", "test")
    if cfg.images == "synthetic":
        train = synthetic_image_sets(cfg, cfg.train_events_per_class, train_seed)
        test = synthetic_image_sets(cfg, cfg.test_events_per_class, test_seed)
    else:
        train = wimpsift_image_sets(cfg, out / "data", "train", cfg.train_events_per_class,
                                    train_seed)
        test = wimpsift_image_sets(cfg, out / "data", "test", cfg.test_events_per_class,
                                   test_seed)
    _check_sets(train, "training")
    _check_sets(test, "test")
    timings["images_s"] = time.perf_counter() - t0

    # 2. grid search ------------------------------------------------------------------
    t0 = time.perf_counter()
    Xs, ys, _ = train[cfg.search_kind]
    search = grid_search(Xs, ys, grid_cfg, cache_dir=out / "search")
    write_json(out / "search" / "results.json", {
        "provenance": provenance(grid_cfg, cfg.seed, "cnn.grid_search"), **search.to_json()})
    figures: dict[str, str] = {}
    for p in plot_layer_heatmaps(search, out / "figures"):
        figures[f"Grid search, {p.stem[len('grid_layers'):]} conv layer(s) (Figs. 9-11)"] = p.name
    figures["Grid search: LeakyReLU alpha (Fig. 12)"] = plot_stage_curves(
        search, "alpha", out / "figures" / "grid_alpha.png").name
    figures["Grid search: learning rate (Fig. 13)"] = plot_stage_curves(
        search, "learning_rate", out / "figures" / "grid_learning_rate.png").name
    timings["search_s"] = time.perf_counter() - t0

    # 3.-4. final models and test ------------------------------------------------------
    t0 = time.perf_counter()
    params = dict(search.best_params)
    per_kind: dict[str, dict[str, Any]] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    finals = _final_models(cfg, train, params)
    for kind in cfg.kinds:
        est, info = finals[kind]
        _save_final(out, kind, est, info)
        Xt, yt, _ = test[kind]
        scores = est.predict_proba(Xt)[:, 1]
        m = classification_metrics(yt, scores)
        m["final_training"] = info
        per_kind[kind] = m
        curves[KIND_LABELS[kind]] = (yt, scores)
        figures[f"Training history, {KIND_LABELS[kind]} (Fig. 14)"] = f"history_{kind}.png"
        plot_confusion_matrix(yt, scores, out / "figures" / f"confusion_{kind}.png",
                              title=f"{KIND_LABELS[kind]} test set")
        figures[f"Confusion matrix, {KIND_LABELS[kind]} (Fig. 17)"] = f"confusion_{kind}.png"
    plot_roc_curves(curves, out / "figures" / "roc.png")
    plot_pr_curves(curves, out / "figures" / "pr.png")
    figures["ROC curves (Fig. 15)"] = "roc.png"
    figures["Precision-recall curves (Fig. 16)"] = "pr.png"
    timings["final_and_test_s"] = time.perf_counter() - t0

    # 5. baselines on the same test events ------------------------------------------------
    t0 = time.perf_counter()
    _, ytr, table_tr = train[cfg.search_kind]
    _, yte, table_te = test[cfg.search_kind]
    standard = NRBandMedianSelection().fit(table_tr, ytr)
    std_scores = standard.decision_function(table_te)
    cut = standard.selection_summary(table_te, yte)
    std_rej = background_rejection_at_acceptance(yte, std_scores, 0.5)
    mlp = EventVariableMLP(random_state=cfg.seed).fit(table_tr, ytr)
    mlp_scores = mlp.predict_proba(table_te)[:, 1]
    mlp_metrics = classification_metrics(yte, mlp_scores)
    baselines = {
        "standard_selection": {
            "er_rejection_at_50pct": std_rej["background_rejection"],
            "er_rejection_at_50pct_error": std_rej["background_rejection_error"],
            "er_leaked_at_50pct": std_rej["background_leaked"],
            "n_background": std_rej["n_background"],
            "cut_below_training_nr_median": cut,
            "roc_auc": classification_metrics(yte, std_scores, threshold=0.0)["roc_auc"],
        },
        "dense_network": {**mlp_metrics, "inputs": list(mlp.columns),
                          "hidden_layer_sizes": list(mlp.hidden_layer_sizes)},
    }
    all_curves = {f"CNN {k}": v for k, v in curves.items()}
    all_curves["Standard selection (NR median)"] = (yte, std_scores)
    all_curves["Dense network (event variables)"] = (yte, mlp_scores)
    plot_roc_curves(all_curves, out / "figures" / "roc_with_baselines.png",
                    title="CNNs and baselines on the same test events")
    figures["ROC, CNNs and baselines"] = "roc_with_baselines.png"
    timings["baselines_s"] = time.perf_counter() - t0

    # 6. report ---------------------------------------------------------------------------
    metrics = {
        "provenance": provenance(cfg, cfg.seed, "cnn.reproduce"),
        "scale": cfg.scale,
        "images": cfg.images,
        "n_train_events": {k: int(len(v[1])) for k, v in train.items()},
        "n_test_events": {k: int(len(v[1])) for k, v in test.items()},
        "grid_search": {"best_params": search.best_params, "best_score": search.best_score,
                        "epochs_trained": search.epochs_trained(),
                        "halving_factor": grid_cfg.halving_factor,
                        "scoring": grid_cfg.scoring, "n_trials": len(search.trials),
                        "n_trained": search.n_trained, "n_cached": search.n_cached},
        **{kind: per_kind[kind] for kind in cfg.kinds},
        "baselines": baselines,
        "paper_reference": {"table_iv": CNN_TABLE_IV, **CNN_HEADLINE},
        "timings_s": timings,
    }
    write_json(out / "metrics.json", metrics)
    write_report(out / "report.html", cfg, grid_cfg, metrics, search.rows(), figures)
    return metrics


# --------------------------------------------------------------------------- HTML


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else html.escape(str(v))


def write_report(path: Path, cfg: ReproduceCNNConfig, grid_cfg: GridSearchConfig,
                 metrics: dict[str, Any], rows: list[dict[str, Any]],
                 figures: dict[str, str]) -> None:
    """One self-contained HTML page (figures referenced from ``figures/``)."""
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             "<title>wimpsift reproduce cnn</title><style>body{font-family:sans-serif;"
             "max-width:1100px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #aaa;padding:3px 8px;text-align:right}"
             "img{max-width:100%;border:1px solid #ddd}</style></head><body>"]
    title = "CNN classification of WIMP vs ER event images"
    if cfg.images == "synthetic":
        title += " &mdash; SYNTHETIC TOY IMAGES (plumbing test, no physics meaning)"
    parts.append(f"<h1>{title}</h1>")
    scale_note = (
        "<p><b>Scale: quick.</b> A reduced run: "
        f"{cfg.train_events_per_class} + {cfg.train_events_per_class} training and "
        f"{cfg.test_events_per_class} + {cfg.test_events_per_class} test events (the seed "
        "used 10,000 + 10,000 and 5,000 + 5,000), a reduced grid and fewer epochs (below). "
        "Numbers are therefore not directly comparable with the seed's.</p>"
        if cfg.scale == "quick" else
        "<p><b>Scale: paper</b> (the seed's event counts and full grid).</p>")
    parts.append(scale_note)
    prov = metrics["provenance"]
    parts.append(f"<p>wimpsift {e(prov['version'])}, seed {cfg.seed}, configuration hash "
                 f"<code>{e(prov['config_hash'])}</code>; detector {e(cfg.detector)}, "
                 f"signal {e(cfg.signal)}, background {e(cfg.background)}, pooling stride "
                 f"{cfg.pool_stride}.</p>")

    parts.append("<h2>Table IV: test-set results, ours beside the seed's</h2><table><tr>"
                 "<th>Metric</th>")
    for kind in cfg.kinds:
        parts.append(f"<th>{KIND_LABELS[kind]} (ours)</th><th>{KIND_LABELS[kind]} (seed)</th>")
    parts.append("</tr>")
    for key, label in [("accuracy", "Accuracy"), ("recall", "Recall"),
                       ("precision", "Precision"), ("average_precision", "Average precision"),
                       ("roc_auc", "ROC AUC"), ("er_rejection_at_50pct",
                                                "ER rejection at 50 % WIMP acceptance")]:
        parts.append(f"<tr><td style='text-align:left'>{label}</td>")
        for kind in cfg.kinds:
            ours = metrics[kind][key]
            if key == "er_rejection_at_50pct":
                ours_s = f"{ours:.4f} ± {metrics[kind]['er_rejection_at_50pct_error']:.4f}"
            else:
                ours_s = _fmt(ours)
            seed_v = CNN_TABLE_IV[kind].get(key)
            if kind == "hitpeak" and seed_v is None:
                seed_v = {"precision": 0.8615,
                          "er_rejection_at_50pct": 0.993}.get(key)
            parts.append(f"<td>{ours_s}</td><td>{'' if seed_v is None else _fmt(seed_v)}</td>")
        parts.append("</tr>")
    parts.append("</table>")

    parts.append("<h2>ER rejection at 50 % WIMP acceptance: CNN against the baselines "
                 "(same test events)</h2><table><tr><th>Classifier</th><th>ER rejection</th>"
                 "<th>ER events leaked</th><th>Seed</th></tr>")
    for kind in cfg.kinds:
        m = metrics[kind]
        seed_v = "0.993" if kind == "hitpeak" else ""
        parts.append(f"<tr><td style='text-align:left'>CNN {KIND_LABELS[kind]}</td>"
                     f"<td>{m['er_rejection_at_50pct']:.4f} ± "
                     f"{m['er_rejection_at_50pct_error']:.4f}</td>"
                     f"<td>{m['er_leaked_at_50pct']} / {m['n_background']}</td>"
                     f"<td>{seed_v}</td></tr>")
    b = metrics["baselines"]
    s = b["standard_selection"]
    parts.append("<tr><td style='text-align:left'>Standard selection (below NR median)</td>"
                 f"<td>{s['er_rejection_at_50pct']:.4f} ± {s['er_rejection_at_50pct_error']:.4f}"
                 f"</td><td>{s['er_leaked_at_50pct']} / {s['n_background']}</td><td>0.998</td></tr>")
    d = b["dense_network"]
    parts.append("<tr><td style='text-align:left'>Dense network on "
                 f"{e(', '.join(d['inputs']))}</td><td>{d['er_rejection_at_50pct']:.4f} ± "
                 f"{d['er_rejection_at_50pct_error']:.4f}</td>"
                 f"<td>{d['er_leaked_at_50pct']} / {d['n_background']}</td><td></td></tr>"
                 "</table>")
    cut = s["cut_below_training_nr_median"]
    parts.append(f"<p>The standard cut itself (NR median from training NR events) keeps "
                 f"{cut['nr_acceptance']:.3f} of test WIMPs and rejects "
                 f"{cut['er_rejection']:.4f} of test ER events. Errors are binomial.</p>")

    g = metrics["grid_search"]
    parts.append("<h2>Grid search</h2>")
    parts.append(f"<p>{grid_cfg.n_splits}-fold stratified cross-validation on the "
                 f"{KIND_LABELS[cfg.search_kind]} training images, scored on "
                 f"{e(grid_cfg.scoring)}. Grid: conv layers {grid_cfg.n_conv_layers}, batch "
                 f"{grid_cfg.batch_size}, epochs {grid_cfg.epochs} (checkpoints of one "
                 f"training), then α {grid_cfg.leaky_alpha}, then learning rate "
                 f"{grid_cfg.learning_rate}. Chosen: <code>{e(json.dumps(g['best_params']))}"
                 f"</code>, CV {e(grid_cfg.scoring)} {g['best_score']:.3f}. Trials: "
                 f"{g['n_trials']} ({g['n_trained']} trained, {g['n_cached']} from cache), "
                 f"{g['epochs_trained']} training epochs.</p>")
    if grid_cfg.halving_factor:
        parts.append(
            f"<p><b>Successive halving</b> (η = {grid_cfg.halving_factor}): at each grid "
            "epoch only the best 1/η of a stage's configurations were continued, so the "
            "table lacks the later epochs of the others. Every score shown equals the "
            "exhaustive search's (continuing a training is exact); the choice could differ "
            "only if the exhaustive winner was behind at an earlier epoch.</p>")
    parts.append("<table><tr><th>stage</th><th>layers</th><th>batch</th><th>α</th><th>lr</th>"
                 "<th>epochs</th><th>mean ± std</th></tr>")
    for r in rows:
        parts.append(f"<tr><td>{e(r['stage'])}</td><td>{r['n_conv_layers']}</td>"
                     f"<td>{r['batch_size']}</td><td>{r['leaky_alpha']:g}</td>"
                     f"<td>{r['learning_rate']:g}</td><td>{r['epochs']}</td>"
                     f"<td>{r['mean']:.3f} ± {r['std']:.3f}</td></tr>")
    parts.append("</table>")
    parts.append(
        "<h2>Choices where the seed is vague</h2><ul>"
        f"<li>Max pooling stride {cfg.pool_stride} (the seed's text: the volume halves, "
        "stride 2; its notebook: stride 1).</li>"
        "<li>L2 penalties as Keras adds them: 0.005·Σw² on conv kernels and "
        "0.001·Σ(w²+b²) on the dense layer, added to the mean batch loss; Glorot-uniform "
        "kernels, zero biases.</li>"
        "<li>The sigmoid and binary cross-entropy are computed together from the logit "
        "(numerically stable, same function).</li>"
        "<li>Epochs in the grid are checkpoints of one training per (layers, batch, α, lr, "
        "fold); stages α and learning rate keep the epochs chosen in the first stage.</li>"
        f"<li>Final models keep the weights of the best validation epoch "
        f"(<code>{e(cfg.monitor)}</code>), as the seed's saved 'best weights'.</li>"
        "<li>Scoring the search on recall (the seed's choice) rewards models that call "
        "everything a WIMP; precision and the ROC AUC are reported beside it and "
        "<code>--scoring</code> changes the criterion.</li>"
        "<li>The test set is an independent simulation (another seed). The standard "
        "selection's NR median is estimated from training WIMP (NR) events only.</li>"
        "</ul>")
    parts.append("<h2>Figures</h2>")
    for caption, name in figures.items():
        parts.append(f"<figure><img src='figures/{e(name)}'><figcaption>{e(caption)}"
                     "</figcaption></figure>")
    t = metrics["timings_s"]
    parts.append("<h2>Timings</h2><p>" + ", ".join(f"{e(k)}: {v:.0f} s" for k, v in t.items())
                 + "</p></body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
