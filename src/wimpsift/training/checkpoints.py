"""Checkpoints of a training in progress: its state saved every few minutes, so that a
training stopped part-way (a batch job past its wall time, a killed session) continues
from the last one instead of from scratch.

A checkpoint is one file written by ``torch.save`` under a temporary name and renamed,
holding ``state`` (:meth:`~wimpsift.training.cnn_estimator.CNNClassifier.current_state`),
``scores`` (what the training scored so far), ``fit_time_s`` and ``images`` (training
seconds and images so far). It is read back with ``weights_only=True``: only tensors and
plain Python types, so a planted file cannot run code; a damaged, refused or foreign file
is ignored and the training starts again. Continuing a checkpoint gives the same weights
to the bit on CPU (:mod:`wimpsift.training.cnn_estimator`, "Resuming").

Used by the grid search's trials (:mod:`wimpsift.training.grid_search`) and the CNN
reproduction's final models (:mod:`wimpsift.pipelines.reproduce_cnn`), each in its cache
entry's work folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from wimpsift.training.cnn_estimator import CNNClassifier, _resume_settings, is_training_state

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_KEYS = ("state", "scores", "fit_time_s", "images")
#: seconds of training between two checkpoints: a grid trial at the CNN paper's scale
#: takes 10 to 12 min on one CPU core (617-709 s measured, 2026-12-05), and a checkpoint
#: of its largest network (one convolution layer, 0.66 M parameters, with Adam's
#: moments) is about 8 MB
EVERY_S = 300.0


def load_plain(path: Path, what: str, warn: bool = True) -> Any:
    """``torch.load`` with ``weights_only=True`` (only tensors and plain Python types, so
    a planted file cannot run code), or None when the file is damaged or refused (logged
    unless ``warn`` is false: for a look that the file's reader repeats)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several types for bad files
        if not warn:
            return None
        logging.getLogger(__name__).warning(
            "ignoring %s %s (%s: %s); it is trained again",
            what, path, type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        return None


def _saved(path: Path, start: int, last_epoch: int, warn: bool = True
           ) -> dict[str, Any] | None:
    """The checkpoint file at ``path`` when it is one that a training from ``start`` to
    ``last_epoch`` could continue: a plain file with the checkpoint's keys and a training
    state at a whole epoch after ``start`` and before ``last_epoch``. None otherwise
    (nothing there, or a damaged, refused, foreign or out-of-range file)."""
    if not path.is_file():
        return None
    saved = load_plain(path, "checkpoint", warn)
    if not (isinstance(saved, dict) and set(saved) == set(CHECKPOINT_KEYS)
            and is_training_state(saved["state"]) and isinstance(saved["scores"], dict)
            and type(saved["state"]["epoch"]) is int
            and start < saved["state"]["epoch"] < last_epoch):
        return None
    return saved


def checkpoint_epoch(path: Path, start: int, last_epoch: int) -> int | None:
    """The epoch the checkpoint at ``path`` holds, or None (:func:`_saved`): for the
    progress estimate of a training from ``start`` to ``last_epoch`` about to continue it
    (the training itself checks its settings too, :func:`load_checkpoint`, and warns
    when it cannot read it)."""
    saved = _saved(path, start, last_epoch, warn=False)
    return None if saved is None else saved["state"]["epoch"]


def load_checkpoint(path: Path, est: CNNClassifier, start: int, last_epoch: int
                    ) -> dict[str, Any] | None:
    """The checkpoint at ``path`` when it holds one that ``est`` can continue: its
    settings, an epoch after ``start`` and before ``last_epoch``. None otherwise (nothing
    there, or a damaged, refused or foreign file): the training starts from ``start``."""
    saved = _saved(path, start, last_epoch)
    if saved is None or saved["state"]["settings"] != _resume_settings(est.config()):
        return None
    return saved


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a temporary name, then a rename). A folder that
    cannot be written (a worker without the cache's file system) only logs: the training
    goes on without checkpoints."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a full disk as RuntimeError
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        logging.getLogger(__name__).warning("cannot save the checkpoint %s (%s)", path, err)


class Checkpoints:
    """The checkpoints of one training that would otherwise start at ``resume_from`` (a
    state, or None for a fresh training): the checkpoint found at ``path`` to continue
    instead, if any (:func:`load_checkpoint`); a new one after an epoch once ``every_s``
    seconds (default :data:`EVERY_S`) have passed since the last; the training's time and
    images summed over its continuations. ``path`` None: no checkpoints.

    Used as::

        ckpt = Checkpoints(path, est, None, n_train=len(X))
        est.fit(X, y, resume_from=ckpt.resume_from, epoch_callback=ckpt.after_epoch)
        fit_time_s, images_per_s = ckpt.totals(est)
    """

    def __init__(self, path: str | Path | None, est: CNNClassifier,
                 resume_from: dict[str, Any] | None, n_train: int,
                 every_s: float | None = None):
        self.path = None if path is None else Path(path)
        self.last_epoch = int(est.epochs)
        self.n_train = n_train
        self.every_s = EVERY_S if every_s is None else every_s
        start = 0 if resume_from is None else int(resume_from["epoch"])
        saved = None if self.path is None else load_checkpoint(self.path, est, start,
                                                               self.last_epoch)
        #: the state the training continues: the checkpoint's, else the one given
        self.resume_from = resume_from if saved is None else saved["state"]
        #: epochs done before the training starts
        self.first_epoch = 0 if self.resume_from is None else int(self.resume_from["epoch"])
        #: what the training scored before its checkpoint (each later epoch adds its own)
        self.scores: dict[str, Any] = {} if saved is None else dict(saved["scores"])
        self.before_s = 0.0 if saved is None else float(saved["fit_time_s"])
        self.before_images = 0.0 if saved is None else float(saved["images"])
        self.started = self.last_save = time.perf_counter()

    def after_epoch(self, epoch: int, fitting: CNNClassifier) -> None:
        """Save a checkpoint after ``epoch`` when one is due (an ``epoch_callback``)."""
        now = time.perf_counter()
        if self.path is None or epoch >= self.last_epoch or now - self.last_save < self.every_s:
            return
        save_checkpoint(self.path, {
            "state": fitting.current_state(), "scores": self.scores,
            "fit_time_s": self.before_s + now - self.started,
            "images": self.before_images + (epoch - self.first_epoch) * self.n_train})
        self.last_save = time.perf_counter()

    def totals(self, est: CNNClassifier) -> tuple[float, float]:
        """Training seconds and images per second of the whole training, its
        continuations included."""
        fit_time_s = self.before_s + est.fit_time_s_
        images = self.before_images + est.images_per_s_ * est.fit_time_s_
        return fit_time_s, images / fit_time_s if fit_time_s > 0 else float("nan")
