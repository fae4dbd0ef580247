"""Cross-validated grid search of the paper's CNN (paper section IV A, Figs. 9-13).

Protocol (the paper's, with its grid as the default):

1. stage ``layers_batch_epochs``: conv layers {1, 2, 3} × batch {100, 200, 300} ×
   epochs {20, 30, 40, 50, 60} at LeakyReLU α = 0.05 and learning rate 0.001;
2. stage ``alpha``: α {0.001, 0.01, 0.05, 0.1} at the best (layers, batch, epochs);
3. stage ``learning_rate``: {0.001, 0.005, 0.01} at the best α.

Every configuration is scored by ``n_splits``-fold stratified cross-validation on the
chosen metric (recall by default); the table gives the mean and standard deviation over
folds. Epochs are checkpoints: one *trial* is one training of ``max(epochs)`` epochs per
(layers, batch, α, lr, fold), and the validation fold is scored at every epoch of the
epoch grid during that training (stages 2 and 3 keep the whole epoch grid too, so their
curves are the paper's Figs. 12-13). Stopping at epoch *k* of a longer run gives the same
model as a run of *k* epochs (see :mod:`wimpsift.training.cnn_estimator`), so this is
exact, not an approximation.

Trials run on :class:`wimpsift.execution.Executor`: a local cluster of single-threaded
worker processes by default, any scheduler given by address (``scheduler_address``), in
process (``executor="serial"``), or any backend, dask-jobqueue's Slurm, HTCondor and PBS
clusters included, given as ``execution``. Each finished trial is kept in the lineage
cache under ``cache_dir`` (:mod:`wimpsift.cache`, stage ``cnn.grid_trial``), keyed by
its settings, fold, a fingerprint of the data and the package versions; rerunning the
search skips trials found there, so an
interrupted search resumes where it stopped, and a trial shared by two stages (the
stage-1 α = 0.05, lr = 0.001 runs) is trained once. A running trial also saves a
checkpoint in its entry's work folder every five minutes of training
(:mod:`wimpsift.training.checkpoints`): a trial stopped part-way (a batch job past its
wall time, a killed session) continues from there, to the same bits on CPU, instead of
from scratch, which matters at the paper's scale on CPU, where one trial takes 10 to 12
minutes.

Cost: for the paper's epochs {20, ..., 60} one checkpointed training costs 60 epochs where
naive retraining costs 20 + 30 + ... + 60 = 200, so the exhaustive search cannot cost
less than 0.30 of naive retraining per configuration (0.26 with the trials shared between
stages). ``halving_factor = η`` (off by default) adds *successive halving* over the
epoch grid (Jamieson & Talwalkar 2016; the scheme of scikit-learn's
``HalvingGridSearchCV`` with epochs as the resource): every configuration of a stage is
trained to the first grid epoch, then only the best ``ceil(n / η)`` (by the mean CV
score at that epoch) are *continued* from their saved training state to the next grid
epoch, and so on. In the α and learning-rate stages, whose choice is made at the epochs
chosen in stage 1, nothing is pruned before that epoch, so their choices are exact;
only stage 1's can differ. scikit-learn's class retrains from scratch at each rung and cannot
resume a PyTorch training, hence this implementation. Continuing is exact (bit-identical
to an uninterrupted training on CPU), so every score in the table equals the exhaustive
search's; the pruned configurations simply lack their later epochs, and stage 1's
choice can differ from the exhaustive one only if its winner is behind at an earlier
epoch. With η = 3 the paper's stage 1 trains 9×20 + 3×10 + 1×30 = 240 epochs per fold
instead of 540.
"""

from __future__ import annotations

import itertools
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, ValidationError, field_validator
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedKFold

from wimpsift.cache import Cache, CacheEntry, array_digest
from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.execution import (
    ExecutionConfig,
    Executor,
    SchedulerAddress,
    Task,
    execution_config,
)
from wimpsift.progress import Progress, ProgressLines
from wimpsift.provenance import config_hash
from wimpsift.training.checkpoints import (
    CHECKPOINT_FILE,
    Checkpoints,
    checkpoint_epoch,
    load_plain,
)
from wimpsift.training.cnn_estimator import CNNClassifier, is_training_state
from wimpsift.training.cost import SearchProgress, search_left_s
from wimpsift.training.image_inputs import as_image_array, check_labels

Scoring = Literal["recall", "precision", "accuracy", "f1", "roc_auc", "average_precision"]
SCORINGS: tuple[str, ...] = ("recall", "precision", "accuracy", "f1", "roc_auc",
                             "average_precision")
STAGES = ("layers_batch_epochs", "alpha", "learning_rate")
TRIAL_STAGE = "cnn.grid_trial"
TRIAL_VERSION = 2  # 2: dropout masks and initial weights from per-model generators
TRIAL_RESULT_KEYS = ("scores", "fit_time_s")  # what the search reads of a trial's result
STATE_FILE = "state.pt"


class GridSearchConfig(WimpsiftConfig):
    """Settings of the grid search (defaults: the paper's grid and protocol)."""

    n_conv_layers: list[int] = Field(default_factory=lambda: [1, 2, 3], min_length=1)
    batch_size: list[int] = Field(default_factory=lambda: [100, 200, 300], min_length=1)
    epochs: list[int] = Field(default_factory=lambda: [20, 30, 40, 50, 60], min_length=1)
    leaky_alpha: list[float] = Field(default_factory=lambda: [0.001, 0.01, 0.05, 0.1],
                                     min_length=1)
    learning_rate: list[float] = Field(default_factory=lambda: [0.001, 0.005, 0.01],
                                       min_length=1)
    stage1_leaky_alpha: float = Field(0.05, ge=0.0, lt=1.0)
    stage1_learning_rate: float = Field(0.001, gt=0.0)
    n_splits: int = Field(3, ge=2)
    scoring: Scoring = "recall"
    random_state: int = Field(0, ge=0)
    estimator_params: dict[str, Any] = Field(default_factory=dict)
    executor: Literal["dask", "serial"] = "dask"
    scheduler_address: SchedulerAddress = None
    n_workers: int = Field(2, ge=1)
    threads_per_trial: int = Field(1, ge=1)
    halving_factor: int | None = Field(None, ge=2)
    progress: bool = True
    execution: ExecutionConfig | None = None  # any backend; overrides executor & co.

    @field_validator("n_conv_layers", "batch_size", "epochs")
    @classmethod
    def _positive_ints(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError("values must be >= 1")
        return sorted(set(value))

    @field_validator("n_conv_layers")
    @classmethod
    def _layers(cls, value: list[int]) -> list[int]:
        if any(v > 3 for v in value):
            raise ValueError("the paper's CNN has 1 to 3 convolution blocks")
        return value

    @field_validator("leaky_alpha", "learning_rate")
    @classmethod
    def _sorted(cls, value: list[float]) -> list[float]:
        return sorted(set(value))

    @field_validator("estimator_params")
    @classmethod
    def _no_grid_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(value) & {"n_conv_layers", "batch_size", "epochs", "leaky_alpha",
                                     "learning_rate", "checkpoint_epochs"})
        if clash:
            raise ValueError(f"{clash} are set by the grid, not by estimator_params")
        if value.get("restore_best_weights"):  # CNNClassifier.fit would refuse it in a trial
            raise ValueError("restore_best_weights: the trials fit without validation_data (each "
                             "eval epoch is scored on its fold), so it would have no effect")
        return value


def grid_config(**settings: Any) -> GridSearchConfig:
    """Validate grid-search settings; an empty grid or unknown key is a ConfigError."""
    try:
        cfg = GridSearchConfig(**settings)
    except ValidationError as err:
        raise ConfigError(f"grid search: {validation_message(err)}") from err
    try:
        CNNClassifier(**cfg.estimator_params).config()
    except TypeError as err:
        raise ConfigError(f"grid search: estimator_params: {err}") from err
    return cfg


# --------------------------------------------------------------------------- one trial


def data_fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    """The images' and labels' digest (:func:`wimpsift.cache.array_digest`, the labels as
    int64), to key cached trials and final models to their data."""
    return array_digest(X, np.asarray(y).astype(np.int64))


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    pred = (p >= 0.5).astype(int)
    two = len(np.unique(y)) == 2
    return {
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, p)) if two else float("nan"),
        "average_precision": float(skm.average_precision_score(y, p)) if two else float("nan"),
    }


def run_trial(X: np.ndarray, y01: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
              params: dict[str, Any], eval_epochs: Sequence[int],
              resume_from: dict[str, Any] | None = None,
              keep_state: bool = False, progress: Progress | None = None,
              label: str = "grid trial", checkpoint: str | None = None,
              checkpoint_every_s: float | None = None) -> dict[str, Any]:
    """Train to ``max(eval_epochs)`` epochs (from scratch, or continuing ``resume_from``)
    and score the validation fold at each of ``eval_epochs`` reached in this training.
    ``keep_state`` adds the ``training_state_`` (key ``"state"``) for a later
    continuation; ``progress`` hears of every epoch as ``"<label> epochs"``.
    ``checkpoint``: a file for :class:`~wimpsift.training.checkpoints.Checkpoints` (every
    ``checkpoint_every_s`` seconds; a checkpoint found there is continued, to the same
    scores on CPU; key ``"epochs_from_checkpoint"`` says how many epochs it held). Runs
    on a Dask worker (or in process)."""
    eval_set = set(eval_epochs)
    Xv, yv = X[val_idx], y01[val_idx]
    start = 0 if resume_from is None else int(resume_from["epoch"])
    est = CNNClassifier(**{**params, "epochs": max(eval_epochs)})
    ckpt = Checkpoints(checkpoint, est, resume_from, len(train_idx), checkpoint_every_s)
    per_epoch = ckpt.scores

    def score(epoch: int, fitting: CNNClassifier) -> None:
        if epoch in eval_set:
            per_epoch[str(epoch)] = _scores(yv, fitting.predict_proba(Xv)[:, 1])
        ckpt.after_epoch(epoch, fitting)
        if progress is not None:
            progress(f"{label} epochs", epoch, est.epochs)

    if progress is not None:
        progress(f"{label} epochs", ckpt.first_epoch, est.epochs)
    est.fit(X[train_idx], y01[train_idx], epoch_callback=score, resume_from=ckpt.resume_from)
    fit_time_s, images_per_s = ckpt.totals(est)
    out = {"scores": per_epoch, "fit_time_s": fit_time_s, "images_per_s": images_per_s,
           "n_parameters": est.n_parameters_, "epochs_trained": est.epochs - start,
           "epochs_from_checkpoint": ckpt.first_epoch - start}
    if keep_state:
        out["state"] = est.training_state_
    return out


@dataclass
class Trial:
    """One training of one configuration on one fold: from scratch to the last grid
    epoch, or (successive halving) a segment from ``start`` to ``stop`` epochs that
    continues the trial ``parent``."""

    stage: str
    params: dict[str, Any]  # CNNClassifier settings without epochs
    fold: int
    key: str = ""
    result: dict[str, Any] | None = None
    start: int = 0
    stop: int | None = None  # None: the whole epoch grid in one training
    parent: Trial | None = None
    keep_state: bool = False


# --------------------------------------------------------------------------- results


@dataclass
class GridSearchResult:
    """All trials plus the per-stage tables and choices."""

    config: GridSearchConfig
    trials: list[Trial] = field(default_factory=list)
    best_params: dict[str, Any] = field(default_factory=dict)
    best_score: float = float("nan")
    stage_best: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_trained: int = 0
    n_cached: int = 0

    def rows(self, stage: str | None = None, scoring: str | None = None) -> list[dict[str, Any]]:
        """Mean ± std over folds for each (configuration, epochs) of a stage."""
        scoring = scoring or self.config.scoring
        groups: dict[tuple, list[float]] = {}
        for t in self.trials:
            if (stage is not None and t.stage != stage) or t.result is None:
                continue
            for epoch, metrics in t.result["scores"].items():
                key = (t.stage, t.params["n_conv_layers"], t.params["batch_size"],
                       t.params["leaky_alpha"], t.params["learning_rate"], int(epoch))
                groups.setdefault(key, []).append(metrics[scoring])
        rows = []
        for key, values in sorted(groups.items(), key=lambda kv: (STAGES.index(kv[0][0]),
                                                                 *kv[0][1:])):
            rows.append({
                "stage": key[0], "n_conv_layers": key[1], "batch_size": key[2],
                "leaky_alpha": key[3], "learning_rate": key[4], "epochs": key[5],
                "scoring": scoring, "mean": float(np.mean(values)),
                "std": float(np.std(values)), "n_folds": len(values),
            })
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "scoring": self.config.scoring,
            "best_params": self.best_params,
            "best_score": self.best_score,
            "stage_best": self.stage_best,
            "rows": self.rows(),
            "n_trials": len(self.trials),
            "n_trained": self.n_trained,
            "n_cached": self.n_cached,
            "halving_factor": self.config.halving_factor,
            "epochs_trained": self.epochs_trained(),
            "train_time_s": float(sum(t.result["fit_time_s"] for t in self.trials if t.result)),
        }

    def epochs_trained(self) -> int:
        """Training epochs over all distinct trials (a shared trial counts once)."""
        seen: dict[str, int] = {}
        for t in self.trials:
            if t.result is not None:
                seen[t.key] = int(t.result.get("epochs_trained", max(self.config.epochs)))
        return sum(seen.values())


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # highest mean; ties broken by the smaller std, then by fewer epochs (cheaper)
    return max(rows, key=lambda r: (round(r["mean"], 12), -r["std"], -r["epochs"]))


# --------------------------------------------------------------------------- execution


def load_trial_state(path: Path) -> dict[str, Any] | None:
    """A saved trial state, or None when it is damaged or not a plain state file (then
    its trial is trained again)."""
    state = load_plain(path, "trial state")
    return state if is_training_state(state) else None


class _Runner:
    """Executes trials on the :class:`~wimpsift.execution.Executor`, each kept in the
    lineage cache (stage ``cnn.grid_trial``) with its training state when needed."""

    def __init__(self, cfg: GridSearchConfig, X: np.ndarray, y01: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], cache_dir: Path | None,
                 fingerprint: str, units: Units | None = None):
        self.cfg, self.X, self.y01, self.folds = cfg, X, y01, folds
        # distinct trainings finished (trained here or read from the cache) and how many
        # of them were read; reported through ``units`` (the exhaustive search only: with
        # successive halving the count depends on the choices)
        self.units = units if cfg.halving_factor is None else None
        self.finished: set[str] = set()
        self.found = 0.0
        # of the distinct trainings finished: (n_conv_layers, batch_size), fit time
        self.fit_times_s: dict[str, tuple[tuple[Any, Any], float]] = {}
        # of the running stage's trainings not finished, those continuing a checkpoint:
        # the share of their epochs done before this run
        self.head_starts: dict[str, float] = {}
        self.parallel = 1
        self.stage = 0  # index in STAGES of the stage running
        # stage 1's choice, once made: the (layers, batch) stages 2 and 3 train, its epochs
        self.fixed: tuple[Any, Any] | None = None
        self.chosen_epochs: int | None = None
        self.cache = None if cache_dir is None else Cache(cache_dir)
        self.fingerprint = fingerprint
        self.executor = Executor(trial_execution(cfg))
        self._scattered: tuple[Any, Any] | None = None
        self.n_trained = 0
        self.n_cached = 0
        self.memory: dict[str, dict[str, Any]] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, CacheEntry] = {}

    def key(self, trial: Trial) -> str:
        settings: dict[str, Any] = {
            "params": trial.params, "fold": trial.fold, "n_splits": self.cfg.n_splits,
            "cv_random_state": self.cfg.random_state, "eval_epochs": self.cfg.epochs,
            "data": self.fingerprint,
        }
        if trial.stop is not None:
            settings["segment"] = [trial.start, trial.stop]
        key = config_hash(settings)
        if self.cache is not None and key not in self.entries:
            self.entries[key] = self.cache.entry(TRIAL_STAGE, TRIAL_VERSION, settings)
        return key

    def state(self, key: str) -> dict[str, Any] | None:
        """The saved training state at the end of trial ``key`` (memory, then disk)."""
        if key in self.states:
            return self.states[key]
        entry = self.entries.get(key)
        if entry is None or not (entry.path / STATE_FILE).is_file():
            return None
        state = load_trial_state(entry.path / STATE_FILE)
        if state is None:
            return None  # a damaged or refused state is recomputed with its trial
        self.states[key] = state
        return state

    def _cached(self, trial: Trial) -> dict[str, Any] | None:
        if trial.keep_state and self.state(trial.key) is None:
            return None  # a continuation needs this trial's state, not just its scores
        if trial.key in self.memory:
            return self.memory[trial.key]
        entry = self.entries.get(trial.key)
        return None if entry is None else entry.load(TRIAL_RESULT_KEYS)

    def _store(self, trial: Trial, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.states[trial.key] = state
        entry = self.entries.get(trial.key)
        if entry is None:
            return
        files = {} if state is None else {STATE_FILE: lambda path: torch.save(state, path)}
        entry.store(trial.result or {}, files=files)
        shutil.rmtree(entry.work, ignore_errors=True)  # its checkpoint, now superseded

    def checkpoint(self, key: str) -> str | None:
        """Where trial ``key`` keeps its checkpoint while it runs (None without a cache)."""
        entry = self.entries.get(key)
        return None if entry is None else str(entry.work / CHECKPOINT_FILE)

    def close(self) -> None:
        self.executor.close()

    def _finish(self, trial: Trial, found: float, result: dict[str, Any]) -> None:
        """Count ``trial``'s training finished; ``found``: the share of it done before this
        run (1 from the cache, the share of its epochs continued from a checkpoint)."""
        if trial.key in self.finished:
            return
        self.finished.add(trial.key)
        self.head_starts.pop(trial.key, None)
        self.found += found
        fit_time_s = result.get("fit_time_s")
        if isinstance(fit_time_s, (int, float)) and 0 < fit_time_s < float("inf"):
            setting = (trial.params.get("n_conv_layers"), trial.params.get("batch_size"))
            self.fit_times_s[trial.key] = (setting, float(fit_time_s))
        self._report()

    def _report(self) -> None:
        if self.units is None or not self.finished:
            return
        sizes = stage_sizes(self.cfg)
        # the later stages train the chosen (layers, batch): their trainings' time, once
        # known, is the best guess for the rest
        times = ([t for setting, t in self.fit_times_s.values() if setting == self.fixed]
                 or [t for _, t in self.fit_times_s.values()])
        training_s = float(np.mean(times)) if times else None
        left_s = None
        if training_s is not None:
            # within the stage's size by construction; clipped so that an estimate can
            # never stop a search
            finished = min(max(len(self.finished) - sum(sizes[:self.stage]), 0),
                           sizes[self.stage])
            heads = list(self.head_starts.values())[:sizes[self.stage] - finished]
            left_s = search_left_s(sizes, self.stage, finished, self.parallel, training_s,
                                   heads)
        self.units(SearchProgress(len(self.finished), sum(sizes), self.found, self.parallel,
                                  left_s, training_s, self.chosen_epochs))

    def run(self, trials: list[Trial], description: str) -> None:
        self.stage = STAGES.index(trials[0].stage)
        if self.stage:
            # stage 1's choice is known from here: the estimate does not wait for this
            # stage's first training
            self._report()
        todo = []
        for t in trials:
            t.key = self.key(t)
            t.result = self._cached(t)
            if t.result is None:
                todo.append(t)
            else:
                self.n_cached += 1
                self._finish(t, 1.0, t.result)  # one trained in this run is finished already
        # a trial shared with an earlier stage is trained once
        unique: dict[str, list[Trial]] = {}
        for t in todo:
            unique.setdefault(t.key, []).append(t)
        if not unique:
            return
        for key, group in unique.items():
            share = 0.0 if self.units is None else self._head_start(group[0])
            if share > 0:
                self.head_starts[key] = share
        if self._scattered is None:
            self._scattered = (self.executor.scatter(self.X), self.executor.scatter(self.y01))
            self.parallel = self.executor.n_slots()
            self._report()  # the trainings found in the cache, now shared among the slots
        elif self.head_starts:
            self._report()  # the checkpoints found
        # each training reports its epochs (from a worker, on the worker's stderr)
        lines = ProgressLines() if self.cfg.progress else None
        tasks = {key: Task(run_trial, (*self._scattered, *self._args(group[0])),
                           {"progress": lines, "label": _trial_label(group[0]),
                            "checkpoint": self.checkpoint(key)})
                 for key, group in unique.items()}
        for key, result in self.executor.run(tasks, description,
                                             n_done=len(trials) - len(unique)):
            state = result.pop("state", None)
            # not stored: an interrupted run's results equal an uninterrupted one's
            from_checkpoint = result.pop("epochs_from_checkpoint", 0)
            for t in unique[key]:
                t.result = result
            self.memory[key] = result
            self._store(unique[key][0], state)
            self.n_trained += 1
            first = unique[key][0]
            self._finish(first, from_checkpoint / self._epochs(first), result)

    def _epochs(self, trial: Trial) -> int:
        """The epochs ``trial`` trains."""
        return (max(self.cfg.epochs) if trial.stop is None else trial.stop) - trial.start

    def _head_start(self, trial: Trial) -> float:
        """The share of ``trial``'s epochs held by the checkpoint it will continue (0
        without one)."""
        path, epochs = self.checkpoint(trial.key), self._epochs(trial)
        epoch = None if path is None else checkpoint_epoch(Path(path), trial.start,
                                                           trial.start + epochs)
        return 0.0 if epoch is None else (epoch - trial.start) / epochs

    def _args(self, t: Trial) -> tuple[Any, ...]:
        train_idx, val_idx = self.folds[t.fold]
        params = {**t.params, "num_threads": self.cfg.threads_per_trial, "verbose": False}
        if t.stop is None:
            return train_idx, val_idx, params, list(self.cfg.epochs)
        resume = None
        if t.parent is not None:
            resume = self.state(t.parent.key)
            if resume is None:
                raise DataError(f"grid search: the state of trial {t.parent.key} is missing")
        eval_epochs = [e for e in self.cfg.epochs if t.start < e <= t.stop]
        return train_idx, val_idx, params, eval_epochs, resume, t.keep_state


def _trial_label(trial: Trial) -> str:
    p = trial.params
    return (f"grid trial ({p.get('n_conv_layers')} layers, batch {p.get('batch_size')}, "
            f"alpha {p.get('leaky_alpha')}, lr {p.get('learning_rate')}; fold {trial.fold})")


#: hears of every distinct training of the exhaustive search finished: what is done and
#: how long the rest takes (:class:`wimpsift.training.cost.SearchProgress`)
Units = Callable[[SearchProgress], None]


def stage_sizes(cfg: GridSearchConfig) -> tuple[int, int, int]:
    """Distinct trainings of each stage of the exhaustive search: every stage-1 (layers,
    batch) per fold, then each α and learning rate per fold, less the ones an earlier
    stage trained (α and learning rate of stage 1 in stage 2; stage 2's learning rate in
    stage 3)."""
    shared_alpha = cfg.stage1_leaky_alpha in cfg.leaky_alpha
    shared_lr = cfg.stage1_learning_rate in cfg.learning_rate
    return (cfg.n_splits * len(cfg.n_conv_layers) * len(cfg.batch_size),
            cfg.n_splits * (len(cfg.leaky_alpha) - shared_alpha),
            cfg.n_splits * (len(cfg.learning_rate) - shared_lr))


def trial_execution(cfg: GridSearchConfig) -> ExecutionConfig:
    """Where the trials run: ``execution`` when given, else the ``executor`` options
    (one single-threaded worker process per trial on a local cluster)."""
    if cfg.execution is not None:
        return cfg.execution
    return execution_config(parallel=cfg.executor == "dask",
                            scheduler_address=cfg.scheduler_address,
                            n_workers=cfg.n_workers, threads_per_worker=1,
                            progress=cfg.progress)


def stratified_folds(y: np.ndarray, n_splits: int, random_state: int
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs of shuffled stratified k-fold cross-validation."""
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return list(skf.split(np.zeros(len(y)), y))


def grid_search(
    X: Any,
    y: Any,
    config: GridSearchConfig | None = None,
    cache_dir: str | Path | None = None,
    units: Units | None = None,
) -> GridSearchResult:
    """Run the three-stage cross-validated grid search; returns a :class:`GridSearchResult`.

    ``X``: images ``(N, H, W)`` or ``(N, C, H, W)`` in [0, 1]; ``y``: two classes (the
    larger label is the positive, WIMP, class). ``cache_dir`` makes the search resumable.
    ``units`` hears of every distinct training finished (:data:`Units`; the exhaustive
    search only).
    """
    cfg = config or GridSearchConfig()
    X = as_image_array(X, "X")
    classes, y01 = check_labels(y, len(X))
    counts = np.bincount(y01.astype(int), minlength=2)
    if counts.min() < cfg.n_splits:
        raise DataError(
            f"y: the smaller class has {counts.min()} events, expected at least "
            f"n_splits={cfg.n_splits} for stratified cross-validation"
        )
    folds = stratified_folds(y01, cfg.n_splits, cfg.random_state)
    runner = _Runner(cfg, X, y01, folds, Path(cache_dir) if cache_dir else None,
                     data_fingerprint(X, y01), units)
    result = GridSearchResult(config=cfg)
    base = {**CNNClassifier().get_params(), **cfg.estimator_params}
    base.pop("epochs")
    base.pop("checkpoint_epochs")

    def run_stage(stage: str, combos: list[dict[str, Any]], description: str,
                  decide_at: int | None = None) -> None:
        if cfg.halving_factor is None:
            trials = [Trial(stage, {**base, **c}, fold) for c in combos
                      for fold in range(cfg.n_splits)]
            runner.run(trials, description)
            result.trials += trials
        else:
            _successive_halving(runner, result, stage, [{**base, **c} for c in combos],
                                description, decide_at)

    try:
        stage = STAGES[0]
        combos = [{"n_conv_layers": n, "batch_size": b, "leaky_alpha": cfg.stage1_leaky_alpha,
                   "learning_rate": cfg.stage1_learning_rate}
                  for n, b in itertools.product(cfg.n_conv_layers, cfg.batch_size)]
        run_stage(stage, combos, "grid: layers x batch")
        best = _best(result.rows(stage))
        result.stage_best[stage] = best
        fixed = {"n_conv_layers": best["n_conv_layers"], "batch_size": best["batch_size"]}
        epochs = runner.chosen_epochs = best["epochs"]
        runner.fixed = (best["n_conv_layers"], best["batch_size"])
        lr = cfg.stage1_learning_rate

        def choose_at_epochs(stage: str, combos: list[dict[str, Any]], description: str
                             ) -> dict[str, Any]:
            run_stage(stage, combos, description, epochs)
            best = _best([r for r in result.rows(stage) if r["epochs"] == epochs])
            result.stage_best[stage] = best
            return best

        alpha = choose_at_epochs(STAGES[1], [{**fixed, "leaky_alpha": a, "learning_rate": lr}
                                             for a in cfg.leaky_alpha],
                                 "grid: alpha")["leaky_alpha"]
        best = choose_at_epochs(STAGES[2], [{**fixed, "leaky_alpha": alpha, "learning_rate": r}
                                            for r in cfg.learning_rate], "grid: learning rate")
    finally:
        runner.close()
    result.best_params = {**{k: v for k, v in base.items() if k in cfg.estimator_params},
                          **fixed, "epochs": epochs, "leaky_alpha": alpha,
                          "learning_rate": best["learning_rate"]}
    result.best_score = best["mean"]
    result.n_trained, result.n_cached = runner.n_trained, runner.n_cached
    _ = classes
    return result


def _successive_halving(runner: _Runner, result: GridSearchResult, stage: str,
                        configs: list[dict[str, Any]], description: str,
                        decide_at: int | None = None) -> None:
    """Run one stage with successive halving over the epoch grid (module docstring).

    ``decide_at``: the epoch at which the stage's choice is made (stages α and learning
    rate); no configuration is pruned before it, so that choice is the exhaustive one.
    The segments still end at every grid epoch, so they are shared with stage 1's."""
    cfg = runner.cfg
    epochs = list(cfg.epochs)
    alive = list(range(len(configs)))
    last: dict[tuple[int, int], Trial] = {}
    for rung, stop in enumerate(epochs):
        start = epochs[rung - 1] if rung else 0
        trials = [Trial(stage, configs[i], fold, start=start, stop=stop,
                        parent=last.get((i, fold)), keep_state=stop < epochs[-1])
                  for i in alive for fold in range(cfg.n_splits)]
        runner.run(trials, f"{description}, epoch {stop}, {len(alive)} left")
        result.trials += trials
        for t, (i, fold) in zip(trials, itertools.product(alive, range(cfg.n_splits)),
                                strict=True):
            last[(i, fold)] = t

        def rank(i: int, stop: int = stop) -> tuple[float, float]:
            values = [last[(i, f)].result["scores"][str(stop)][cfg.scoring]  # type: ignore[index]
                      for f in range(cfg.n_splits)]
            return (-round(float(np.mean(values)), 12), float(np.std(values)))

        if decide_at is None or stop >= decide_at:
            alive = sorted(alive, key=rank)[:math.ceil(len(alive) / cfg.halving_factor)]  # type: ignore[operator]
