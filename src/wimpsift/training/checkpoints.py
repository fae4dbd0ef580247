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
from pathlib import Path
from typing import Any

import torch

from wimpsift.training.cnn_estimator import CNNClassifier, _resume_settings, is_training_state

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_KEYS = ("state", "scores", "fit_time_s", "images")
#: seconds of training between two checkpoints: a grid trial at the CNN paper's scale
#: took 12 to 26 min on one CPU core (2026-12-05), and a checkpoint of its largest network
#: (one convolution layer, 0.66 M parameters, with Adam's moments) is about 8 MB
EVERY_S = 300.0


def load_plain(path: Path, what: str) -> Any:
    """``torch.load`` with ``weights_only=True`` (only tensors and plain Python types, so
    a planted file cannot run code), or None, logged, when the file is damaged or refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several types for bad files
        logging.getLogger(__name__).warning(
            "ignoring %s %s (%s: %s); it is trained again",
            what, path, type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        return None


def load_checkpoint(path: Path, est: CNNClassifier, start: int, last_epoch: int
                    ) -> dict[str, Any] | None:
    """The checkpoint at ``path`` when it holds one that ``est`` can continue: its
    settings, an epoch after ``start`` and before ``last_epoch``. None otherwise (nothing
    there, or a damaged, refused or foreign file): the training starts from ``start``."""
    if not path.is_file():
        return None
    saved = load_plain(path, "checkpoint")
    if not (isinstance(saved, dict) and set(saved) == set(CHECKPOINT_KEYS)
            and is_training_state(saved["state"]) and isinstance(saved["scores"], dict)):
        return None
    state = saved["state"]
    if (state["settings"] != _resume_settings(est.config())
            or not start < int(state["epoch"]) < last_epoch):
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
