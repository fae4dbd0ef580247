"""`wimpsift reproduce cnn`: the CNN paper's analysis end to end.

Stages (each writes under the output directory ``DIR``):

1. ``images``: training and independent test image sets (WIMP signal, ER background),
   built by :func:`wimpsift.images.dataset.cached_image_dataset` into the lineage cache
   under ``DIR/data/`` (different seeds, so the test events are new);
2. ``search``: the cross-validated grid search of :mod:`wimpsift.training.grid_search`
   on the ``search_kind`` images (HitPeak, as in the paper), cached under
   ``DIR/search/`` so an interrupted run resumes;
3. ``final``: one model per image kind with the chosen settings, trained on a 70:30
   stratified split with per-epoch curves and best weights, saved with its
   configuration, preprocessing and a TorchScript export under ``DIR/models/<kind>/``;
   each finished model is also kept in the cache under ``DIR/search/`` (stage
   ``cnn.final_model``) and each training saves checkpoints there while it runs, so an
   interrupted run resumes this stage too;
4. ``test``: metrics on the test set, ROC/PR curves and confusion matrices;
5. ``baselines``: the standard selection (below the NR band median, fitted on training
   NR events) and a dense network on event variables, on the same test events;
6. ``report``: ``DIR/metrics.json`` and ``DIR/report.html`` (our Table IV beside the
   paper's, every figure, the baselines).

That is ``backgrounds="er"``, the paper's WIMP-against-ER analysis. ``backgrounds="all"``
(the default) compares, instead, the standard selection, a dense network on event
variables, a WIMP-against-all CNN and a multi-class CNN against every background of
the detector (:mod:`wimpsift.pipelines.cnn_backgrounds`), with the CNN settings of the
paper's final model (no grid search) on ``all_backgrounds.image_kind`` images, and
adds the position reconstruction at a small scale; ``train_events_per_class`` and
``test_events_per_class`` are then events per *source* in the analysis window. Each
source's events and each trained CNN ensemble member are kept in the lineage cache
under ``DIR/cache/`` as soon as they are done, so a rerun after a stop simulates and
trains only what was missing (a member in training starts again: at the quick scale
one takes about three minutes).

Scales: ``paper`` is the paper's (10,000 + 10,000 training and 5,000 + 5,000 test
events, the full grid). ``quick`` (a few thousand events, a reduced grid and fewer
epochs; the report says so) fits in 20 minutes on two cores; with ``backgrounds="all"``
it uses :data:`ALL_BACKGROUNDS_QUICK` events per source.

``images="synthetic"`` replaces stage 1 by toy images drawn in process from a toy
event table (:mod:`wimpsift.images.synthetic`). It exists to test the plumbing without
the waveform simulation; its numbers mean nothing physically and the report says so in
its title.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError
from sklearn.model_selection import train_test_split

from wimpsift.cache import Cache, CacheEntry
from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import shipped_detectors
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.execution import (
    ExecutionConfig,
    Executor,
    SchedulerAddress,
    Task,
    execution_config,
)
from wimpsift.images.synthetic import synthetic_image_sets
from wimpsift.io.cnn_model import load_cnn, save_cnn
from wimpsift.metrics.classification import (
    background_rejection_at_acceptance,
    classification_metrics,
    plot_confusion_matrix,
    plot_history,
    plot_pr_curves,
    plot_roc_curves,
)
from wimpsift.papers import cnn_headline, cnn_table_iv
from wimpsift.pipelines.cnn_backgrounds import run_all_backgrounds
from wimpsift.plots.grid_search import plot_layer_heatmaps, plot_stage_curves
from wimpsift.progress import Progress, ProgressLines
from wimpsift.provenance import provenance, write_json
from wimpsift.seeding import int_seed
from wimpsift.training import checkpoints
from wimpsift.training.background_classifiers import AllBackgroundsSettings
from wimpsift.training.baselines import EventVariableMLP, NRBandMedianSelection
from wimpsift.training.cnn_estimator import CNNClassifier
from wimpsift.training.cost import SearchProgress, final_models_s
from wimpsift.training.grid_search import (
    GridSearchConfig,
    data_fingerprint,
    grid_config,
    grid_search,
)
from wimpsift.training.image_inputs import resolve_device

ImageKind = Literal["hit", "peak", "hitpeak"]
KIND_LABELS = {"hit": "Hit", "peak": "Peak", "hitpeak": "HitPeak"}

QUICK_GRID: dict[str, Any] = {
    "n_conv_layers": [1, 2], "batch_size": [100], "epochs": [4, 8, 12],
    "leaky_alpha": [0.01, 0.05], "learning_rate": [0.001, 0.005],
}
ALL_BACKGROUNDS_QUICK = {"train_events_per_class": 500, "test_events_per_class": 600}
"""events per source in the window, quick scale, ``backgrounds="all"``"""
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
    backgrounds: Literal["er", "all"] = "all"
    all_backgrounds: AllBackgroundsSettings = Field(default_factory=AllBackgroundsSettings)
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
    device: str | None = Field(None, description=(
        "torch device: 'cpu', 'cuda', 'cuda:N' or 'mps'; none: CUDA when present, else CPU. One "
        "this machine lacks is refused before the run when the networks train here"))
    threads: int = Field(1, ge=1)
    n_workers: int = Field(2, ge=1)
    scheduler_address: SchedulerAddress = None
    executor: Literal["dask", "serial"] = "dask"
    halving_factor: int | None = Field(None, ge=2)
    execution: ExecutionConfig | None = None  # any backend; overrides executor & co.
    images: Literal["wimpsift", "synthetic"] = "wimpsift"
    progress: bool = True


ER_ONLY = ("background", "kinds", "search_kind", "scoring", "grid", "validation_fraction",
           "monitor", "pool_stride", "halving_factor")
"""settings of the ``backgrounds="er"`` analysis (grid search, final models) that the
``backgrounds="all"`` comparison does not read: refused there rather than recorded in
its provenance as if they had been used"""


def make_config(scale: str = "quick", option_names: Mapping[str, str] | None = None,
                **overrides: Any) -> ReproduceCNNConfig:
    """The configuration of a scale with ``overrides`` (None values ignored) applied.

    ``option_names`` maps fields to the command's options that set them: a bad value's
    message then names the option (``--workers``), not the field (``n_workers``)."""
    names = option_names or {}
    if scale not in SCALES:
        raise ConfigError(f"scale: got {scale!r}, expected one of {sorted(SCALES)}")
    settings = {**SCALES[scale], "scale": scale}
    given = {k: v for k, v in overrides.items() if v is not None}
    if given.get("images") == "synthetic":
        # toy images exist for WIMP against ER only
        if given.get("backgrounds", "er") != "er":
            raise ConfigError("backgrounds: synthetic toy images exist for 'er' only; "
                              "use images='wimpsift' with backgrounds='all'")
        given["backgrounds"] = "er"
    if given.get("backgrounds", "all") == "all" and scale == "quick":
        settings.update(ALL_BACKGROUNDS_QUICK)
    settings.update(given)
    if "detector" in given and given["detector"] not in shipped_detectors():
        raise ConfigError(f"{names.get('detector', 'detector')}: got {given['detector']!r}, "
                          f"expected one of {shipped_detectors()}")
    try:
        cfg = ReproduceCNNConfig(**settings)
    except ValidationError as err:
        if option_names is not None:
            raise ConfigError(validation_message(err, option_names)) from err
        raise ConfigError(f"reproduce cnn: {validation_message(err)}") from err
    if cfg.search_kind not in cfg.kinds:
        raise ConfigError(
            f"search_kind: got {cfg.search_kind!r}, expected one of kinds {cfg.kinds}"
        )
    _grid(cfg)  # validate the grid now, not after the images are built
    ignored = [k for k in ER_ONLY if k in given] if cfg.backgrounds == "all" else []
    if ignored:
        raise ConfigError(
            f"{names.get(ignored[0], ignored[0])}: got {given[ignored[0]]!r}, but it sets the "
            "paper's WIMP-against-ER analysis only (backgrounds 'er'); with backgrounds 'all' "
            "the CNNs are set by all_backgrounds")
    # a device named and not here: now, not after the images; only where the networks
    # train on this machine, since a scheduler's or a batch system's workers may have
    # devices it lacks
    if _execution(cfg, cfg.n_workers).backend in ("in_process", "local"):
        resolve_device(cfg.device)
    return cfg


def _execution(cfg: ReproduceCNNConfig, n_workers: int) -> ExecutionConfig:
    """Where the image chunks, the sources of the all-backgrounds mix and the final
    models run: ``cfg.execution``, else a local cluster of ``n_workers`` (or the
    scheduler given) with the Dask executor, else in process."""
    return cfg.execution or execution_config(
        parallel=cfg.executor == "dask" and n_workers > 1,
        scheduler_address=cfg.scheduler_address, n_workers=n_workers, progress=False)


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


CLUSTER_START_CHUNKS = 5


def build_in_process(chunks: int, n_workers: int) -> bool:
    """Whether an image set of ``chunks`` chunks is built sooner in this process than on
    a local cluster of ``n_workers`` that must start first: when the cluster would save
    no more chunk-times than its start costs, :data:`CLUSTER_START_CHUNKS`
    (``chunks - ceil(chunks / n_workers)`` at most that). Measured on two cores
    (2026-12-05, ``wimpsift images --execution``, in process against two local workers:
    4 chunks 10.4 s and 12.9 s, 8 chunks 15.8 s and 16.8 s, 12 chunks 22.2 s and 21.8 s,
    16 chunks 29.0 s and 26.1 s), the two are even between 8 and 12 chunks, where the
    cluster saves 4 to 6 chunk-times: its start, and its chunks' being slower on cores
    shared with this process, cost about 5. More workers save more: the paper's 40-chunk
    set on fifteen workers is built on the cluster, where it was built here on one core
    before."""
    return chunks - math.ceil(chunks / max(n_workers, 1)) <= CLUSTER_START_CHUNKS


def wimpsift_image_sets(cfg: ReproduceCNNConfig, data_dir: Path, split: str,
                        events_per_class: int, seed: int) -> ImageSets:
    """Build (or resume) one image data set with the images API and load every kind."""
    try:
        from wimpsift.images.dataset import (
            ImageDatasetConfig,
            cached_image_dataset,
            load_images,
        )
    except ImportError as err:
        raise ConfigError(
            "images: wimpsift.images.dataset.cached_image_dataset is not available in this "
            f"installation ({err}); use images='synthetic' to test the rest of the pipeline"
        ) from err
    chunks = math.ceil(events_per_class / ImageDatasetConfig.model_fields["chunk_events"].default)
    local = cfg.execution is None and cfg.scheduler_address is None
    execution = (None if local and build_in_process(chunks, cfg.n_workers)
                 else _execution(cfg, cfg.n_workers))
    path = cached_image_dataset(  # the split is in the seed, hence in the cache key
        data_dir, cfg.detector, signal=cfg.signal, background=cfg.background,
        events_per_class=events_per_class, kinds=tuple(cfg.kinds), seed=seed,
        progress=cfg.progress, execution=execution,
    )
    return {kind: load_images(path, kind) for kind in cfg.kinds}


# --------------------------------------------------------------------------- stages


def _check_sets(sets: ImageSets, split: str) -> None:
    for kind, (X, y, table) in sets.items():
        if len(X) != len(y) or len(table) != len(y):
            raise DataError(
                f"{split} images ({kind}): {len(X)} images, {len(y)} labels and "
                f"{len(table)} table rows, expected equal counts"
            )


def fit_final_model(cfg: ReproduceCNNConfig, X: np.ndarray, y: np.ndarray,
                    params: dict[str, Any], progress: Progress | None = None,
                    label: str = "final model", checkpoint: str | None = None
                    ) -> tuple[CNNClassifier, dict[str, Any]]:
    """Train one final model on a stratified (1 - f):f split (70:30 by default);
    ``progress`` hears of every epoch done as ``"<label> epochs"``. ``checkpoint``: a
    file for :mod:`wimpsift.training.checkpoints` (a stopped training continues there)."""
    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=cfg.validation_fraction, stratify=y,
                              random_state=cfg.seed)
    est = CNNClassifier(**{**params, "pool_stride": cfg.pool_stride, "random_state": cfg.seed,
                           "device": cfg.device, "monitor": cfg.monitor,
                           "restore_best_weights": True, "num_threads": cfg.threads,
                           "checkpoint_epochs": ()})
    ckpt = checkpoints.Checkpoints(checkpoint, est, None, len(tr))

    def epoch_done(epoch: int, fitting: CNNClassifier) -> None:
        ckpt.after_epoch(epoch, fitting)
        if progress is not None:
            progress(f"{label} epochs", epoch, est.epochs)

    if progress is not None:
        progress(f"{label} epochs", ckpt.first_epoch, est.epochs)
    est.fit(X[tr], y[tr], validation_data=(X[va], y[va]), epoch_callback=epoch_done,
            resume_from=ckpt.resume_from)
    fit_time_s, images_per_s = ckpt.totals(est)
    info = {"n_train": len(tr), "n_validation": len(va), "best_epoch": est.best_epoch_,
            "fit_time_s": fit_time_s, "images_per_s": images_per_s,
            "n_parameters": est.n_parameters_}
    return est, info


CACHE_FOLDER = "cache"
"""the run's lineage cache with ``backgrounds="all"`` (sources' events, CNN ensemble members)"""
FINAL_STAGE = "cnn.final_model"
FINAL_VERSION = 1
#: what fit_final_model tells of a training (the metrics' final_training)
FINAL_INFO_KEYS = ("n_train", "n_validation", "best_epoch", "fit_time_s", "images_per_s",
                   "n_parameters")
FINAL_FOLDER = "model"  # the saved model, in the cache entry


def _final_entry(cache: Cache, cfg: ReproduceCNNConfig, kind: str, X: np.ndarray,
                 y: np.ndarray, params: dict[str, Any]) -> CacheEntry:
    """A final model's place in the cache: keyed by everything its training reads."""
    return cache.entry(FINAL_STAGE, FINAL_VERSION, {
        "kind": kind, "params": params, "seed": cfg.seed, "pool_stride": cfg.pool_stride,
        "validation_fraction": cfg.validation_fraction, "monitor": cfg.monitor,
        "threads": cfg.threads, "device": resolve_device(cfg.device).type,
        "data": data_fingerprint(X, y)})


def _final_models(cfg: ReproduceCNNConfig, train: ImageSets, params: dict[str, Any],
                  progress: Progress | None = None, cache_dir: Path | None = None
                  ) -> dict[str, tuple[CNNClassifier, dict[str, Any]]]:
    """One final model per kind, on the executor (in parallel on Dask workers, which
    print their epoch lines on their own stderr, that of this process on a local cluster).
    With ``cache_dir`` each finished model is kept in the lineage cache (stage
    ``cnn.final_model``) and read back by a rerun, and each training saves checkpoints in
    its entry's work folder, so a stopped run loses at most minutes of this stage."""
    cache = None if cache_dir is None else Cache(cache_dir)
    entries = {} if cache is None else {
        k: _final_entry(cache, cfg, k, train[k][0], train[k][1], params) for k in cfg.kinds}
    finals: dict[str, tuple[CNNClassifier, dict[str, Any]]] = {}
    for k, entry in entries.items():
        info = entry.load(FINAL_INFO_KEYS)
        if info is not None and (entry.path / FINAL_FOLDER).is_dir():
            # a damaged entry is trained again, as the cache does with any
            with contextlib.suppress(DataError, KeyError, RuntimeError):
                finals[k] = (load_cnn(entry.path / FINAL_FOLDER, device=cfg.device), info)
    todo = [k for k in cfg.kinds if k not in finals]
    if not todo:
        return finals
    execution = _execution(cfg, min(cfg.n_workers, len(todo)))
    with Executor(execution) as executor:
        if progress is not None and not executor.in_process:
            progress = ProgressLines()  # a plan's lines cannot travel to a worker
        # scattered: large arrays do not belong in the task graph
        tasks = {k: Task(fit_final_model, (cfg, executor.scatter(train[k][0]),
                                           executor.scatter(train[k][1]), params),
                         {"progress": progress, "label": f"final {KIND_LABELS[k]} model",
                          "checkpoint": (str(entries[k].work / checkpoints.CHECKPOINT_FILE)
                                         if k in entries else None)})
                 for k in todo}
        trained = executor.map(tasks, "final models")
    for k in todo:
        est, info = trained[k]
        if k in entries:
            entries[k].store(info, files={FINAL_FOLDER: lambda d, est=est: save_cnn(
                est, d, stage=FINAL_STAGE, export="none")})
            shutil.rmtree(entries[k].work, ignore_errors=True)  # its checkpoint, superseded
        finals[k] = (est, info)
    return {k: finals[k] for k in cfg.kinds}


def _save_final(out: Path, kind: str, est: CNNClassifier, info: dict[str, Any],
                record: dict[str, Any]) -> None:
    model_dir = out / "models" / kind
    save_cnn(est, model_dir, preprocessing={
        "image_kind": kind, "input_shape": list(est.input_shape_),
        "pixels": "float32 in [0, 1] as written by wimpsift.images",
        "labels": {"1": "WIMP (signal)", "0": "ER (background)"},
    }, stage="cnn.final_model")
    plot_history(est.history_, out / "figures" / f"history_{kind}.png",
                 title=f"{KIND_LABELS[kind]}: final training (70:30)", provenance=record)
    info["model_dir"] = str(model_dir.relative_to(out))


def _plan(cfg: ReproduceCNNConfig) -> list[tuple[str, float]]:
    """Stages with nominal seconds on two cores, scaled from the quick scale's."""
    if cfg.backgrounds == "all":
        # measured at the quick scale on two cores with two workers (500 + 600 events per
        # source, 16,000 test events of each dominant source, 2,500 WIMP events, 12
        # epochs, ensembles of 3, a binary CNN per volume; seed 4, 2026-12-05, AMD EPYC
        # zen2, one malloc arena): images 261 s, classifiers 942 s (members fitted in
        # parallel, 156-173 s each, the test events scored in process), comparison 19 s,
        # positions 30 s
        size = (cfg.train_events_per_class + cfg.test_events_per_class) / 1100
        # the CNNs' time scales with epochs × networks per CNN (× 3/2 with a binary CNN
        # per volume: three CNNs instead of two)
        networks = 1.5 if cfg.all_backgrounds.cnn_binary_per_volume else 1.0
        epochs = cfg.all_backgrounds.epochs * cfg.all_backgrounds.cnn_ensemble * networks / 6
        # the dominant sources' test events add about 32 s per 4000, WIMP test events
        # about 12 s per 2500 (the shares of 2026-12-04, scaled to the total measured)
        dominant = cfg.all_backgrounds.test_events_dominant / 4000
        wimp = cfg.all_backgrounds.test_events_signal / 2500
        return [("images", (120 + 32 * dominant + 12 * wimp) * size),
                ("classifiers", (100 + 94 * epochs) * size),
                ("comparison", 20 * size),
                ("positions", 34 * cfg.all_backgrounds.position_train_events / 12000),
                ("report", 5)]
    events = (cfg.train_events_per_class + cfg.test_events_per_class) / 2000
    train = cfg.train_events_per_class / 1000
    # measured in the main job from a fresh clone (2026-12-02, quick, 1000 + 1000 events
    # per class, its grid): images 25 s, grid search 227 s, final models and test 98 s,
    # baselines 0.6 s; the paper's full grid about eight times the quick one. At the
    # paper's scale (10,000 + 5,000 per class, two workers, 2026-12-05): images 88 s, so
    # a fixed 15 s and 10 s per 2,000 events (30 s per 2,000 announced 3.8 min, and the
    # fast finish then scaled the grid search's hours by 0.39); grid trials 617-709 s
    # each, so its 42 trials about 3.9 h, where the factor 8 gives 3.6 h (964-1,141 s on
    # an AVX2 machine: the stage rescales itself from its trainings' pace)
    grid = (1.5 if cfg.grid else 1.0) if cfg.scale == "quick" else 8.0
    return [("images", 15 + 10 * events), ("grid search", 160 * train * grid),
            ("final models and test", 100 * train), ("baselines", 2 * train), ("report", 5)]


def run_reproduce_cnn(cfg: ReproduceCNNConfig, out: str | Path) -> dict[str, Any]:
    """Run every stage (progress on stderr unless ``cfg.progress`` is off); return the
    metrics dictionary also written to ``metrics.json``."""
    from wimpsift.execution import check_scheduler_reachable
    from wimpsift.pipelines.stages import StagePlan

    check_scheduler_reachable(cfg.scheduler_address, cfg.execution)
    with StagePlan("cnn", _plan(cfg), enabled=cfg.progress) as plan:
        if cfg.backgrounds == "all":
            return _run_all(cfg, Path(out), plan)
        return _run(cfg, Path(out), plan)


def _prepare(cfg: ReproduceCNNConfig, out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures").mkdir(exist_ok=True)
        (out / "data").mkdir(exist_ok=True)
    except OSError as err:
        raise ConfigError(f"output: cannot create {str(out)!r}: {err}") from err


def _wimp(cfg: ReproduceCNNConfig) -> tuple[float, float | None]:
    parts = cfg.signal.split(":")
    if parts[0] != "wimp" or len(parts) not in (2, 3):
        raise ConfigError(f"signal: got {cfg.signal!r}, expected 'wimp:<mass GeV>[:<sigma>]' "
                          "with backgrounds='all'")
    try:
        return float(parts[1]), (float(parts[2]) if len(parts) == 3 else None)
    except ValueError:
        raise ConfigError(f"signal: got {cfg.signal!r}, expected numbers after 'wimp:'"
                          ) from None


def _run_all(cfg: ReproduceCNNConfig, out: Path, plan) -> dict[str, Any]:
    """``backgrounds="all"``: every background, four classifiers, positions; report."""
    mass_gev, sigma_cm2 = _wimp(cfg)
    _prepare(cfg, out)
    write_json(out / "config.json", {"provenance": provenance(cfg, cfg.seed, "cnn.reproduce")})
    sections, figures = run_all_backgrounds(
        cfg.detector, cfg.train_events_per_class, cfg.test_events_per_class, cfg.seed,
        cfg.all_backgrounds, mass_gev, sigma_cm2, out / "figures", cfg.threads, cfg.device,
        plan, out / "data", provenance(cfg, cfg.seed, "cnn.all_backgrounds.test_scores"),
        _execution(cfg, cfg.n_workers), out / CACHE_FOLDER)
    plan.start("report")
    metrics = {"provenance": provenance(cfg, cfg.seed, "cnn.reproduce"), "scale": cfg.scale,
               "backgrounds": "all", **sections}
    write_json(out / "metrics.json", metrics)
    from wimpsift.reports.cnn_backgrounds import write_backgrounds_report

    write_backgrounds_report(out / "report.html", metrics,
                             [{"src": f"figures/{name}", "caption": caption}
                              for caption, name in figures.items()])
    plan.finish()
    return metrics


def _run(cfg: ReproduceCNNConfig, out: Path, plan) -> dict[str, Any]:
    _prepare(cfg, out)
    grid_cfg = _grid(cfg)
    record = provenance(cfg, cfg.seed, "cnn.reproduce")  # of the metrics and every figure
    write_json(out / "config.json", {"provenance": record,
                                     "grid": grid_cfg.model_dump(mode="json")})
    timings: dict[str, float] = {}

    # 1. images -----------------------------------------------------------------------
    plan.start("images")
    t0 = time.perf_counter()
    # independent children of the run's seed for the training and test images
    train_seed, test_seed = int_seed(cfg.seed, "images", "train"), int_seed(cfg.seed, "images", "test")
    if cfg.images == "synthetic":
        train = synthetic_image_sets(cfg.kinds, cfg.train_events_per_class, train_seed)
        test = synthetic_image_sets(cfg.kinds, cfg.test_events_per_class, test_seed)
    else:
        train = wimpsift_image_sets(cfg, out / "data", "train", cfg.train_events_per_class,
                                    train_seed)
        test = wimpsift_image_sets(cfg, out / "data", "test", cfg.test_events_per_class,
                                   test_seed)
    _check_sets(train, "training")
    _check_sets(test, "test")
    timings["images_s"] = time.perf_counter() - t0

    # 2. grid search ------------------------------------------------------------------
    plan.start("grid search")
    t0 = time.perf_counter()
    Xs, ys, _ = train[cfg.search_kind]

    def heard(p: SearchProgress) -> None:
        plan.units(p.done, p.total, p.found, p.left_s)
        if p.training_s is not None and p.epochs is not None:
            # the final models' time from the grid's trainings of the chosen settings
            plan.expect("final models and test", final_models_s(
                training_s=p.training_s, grid_epochs=grid_cfg.epochs,
                n_splits=grid_cfg.n_splits, n_images=len(ys), epochs=p.epochs,
                validation_fraction=cfg.validation_fraction, n_models=len(cfg.kinds),
                n_test_images=len(test[cfg.search_kind][1]), parallel=p.parallel))

    search = grid_search(Xs, ys, grid_cfg, cache_dir=out / "search", units=heard)
    write_json(out / "search" / "results.json", {
        "provenance": provenance(grid_cfg, cfg.seed, "cnn.grid_search"), **search.to_json()})
    figures: dict[str, str] = {}
    for p in plot_layer_heatmaps(search, out / "figures", provenance=record):
        figures[f"Cross-validated {cfg.scoring} by epochs and batch size, "
                f"{p.stem[len('grid_layers'):].strip('_')} convolution layer(s) (paper Figs. 9-11)"] = p.name
    figures[f"Cross-validated {cfg.scoring} against the LeakyReLU α (paper Fig. 12)"] = plot_stage_curves(
        search, "alpha", out / "figures" / "grid_alpha.png", provenance=record).name
    figures[f"Cross-validated {cfg.scoring} against the learning rate (paper Fig. 13)"] = plot_stage_curves(
        search, "learning_rate", out / "figures" / "grid_learning_rate.png",
        provenance=record).name
    timings["search_s"] = time.perf_counter() - t0

    # 3.-4. final models and test ------------------------------------------------------
    plan.start("final models and test")
    t0 = time.perf_counter()
    params = dict(search.best_params)
    per_kind: dict[str, dict[str, Any]] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    finals = _final_models(cfg, train, params, plan.progress, cache_dir=out / "search")
    for kind in cfg.kinds:
        est, info = finals[kind]
        _save_final(out, kind, est, info, record)
        Xt, yt, _ = test[kind]
        scores = est.predict_proba(Xt)[:, 1]
        m = classification_metrics(yt, scores)
        m["final_training"] = info
        per_kind[kind] = m
        curves[KIND_LABELS[kind]] = (yt, scores)
        figures[f"Accuracy, loss, precision and recall per epoch, training and validation, "
                f"{KIND_LABELS[kind]} images, final 70:30 training (paper Fig. 14)"] = f"history_{kind}.png"
        plot_confusion_matrix(yt, scores, out / "figures" / f"confusion_{kind}.png",
                              title=f"{KIND_LABELS[kind]} test set", provenance=record)
        figures[f"Confusion matrix of the {KIND_LABELS[kind]} CNN on the test set at output 0.5 "
                "(paper Fig. 17)"] = f"confusion_{kind}.png"
    plot_roc_curves(curves, out / "figures" / "roc.png", provenance=record)
    plot_pr_curves(curves, out / "figures" / "pr.png", provenance=record)
    figures["ROC curves of the CNNs on the test set, ER acceptance on a log axis (paper Fig. 15)"] = "roc.png"
    figures["Precision against recall of the CNNs on the test set (paper Fig. 16)"] = "pr.png"
    timings["final_and_test_s"] = time.perf_counter() - t0

    # 5. baselines on the same test events ------------------------------------------------
    plan.start("baselines")
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
                    title="CNNs and baselines on the same test events", provenance=record)
    figures["ROC curves of the CNNs, the standard selection and the dense network on the same "
            "test events (no seed counterpart)"] = "roc_with_baselines.png"
    timings["baselines_s"] = time.perf_counter() - t0

    # 6. report ---------------------------------------------------------------------------
    plan.start("report")
    metrics = {
        "provenance": record,
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
        "paper_reference": {"table_iv": cnn_table_iv(), **cnn_headline()},
        "timings_s": timings,
    }
    write_json(out / "metrics.json", metrics)
    write_report(out / "report.html", grid_cfg, metrics, search.rows(), figures)
    plan.finish()
    return metrics


# --------------------------------------------------------------------------- HTML


def write_report(path: Path, grid_cfg: GridSearchConfig, metrics: dict[str, Any],
                 rows: list[dict[str, Any]], figures: dict[str, str]) -> Path:
    """``report.html`` through :mod:`wimpsift.reports` (figures under ``figures/``)."""
    from wimpsift.reports.cnn import write_cnn_report

    return write_cnn_report(path, metrics, [{"src": f"figures/{name}", "caption": caption}
                                            for caption, name in figures.items()],
                            grid_cfg.model_dump(mode="json"), rows)
