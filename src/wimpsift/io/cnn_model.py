"""Saving and loading a trained :class:`~wimpsift.training.cnn_estimator.CNNClassifier`:
weights (``model.pt``, read back with ``weights_only=True``), settings and history
(``model.json``) and exports (TorchScript, ``torch.export``)."""

from __future__ import annotations

import copy
import io
import json
import pickle
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from wimpsift.errors import DataError
from wimpsift.models.cnn import PaperCNN, SigmoidHead, count_parameters
from wimpsift.provenance import atomic_path, provenance, write_json
from wimpsift.training.cnn_estimator import CNNClassifier, cpu_state
from wimpsift.training.image_inputs import resolve_device


def save_cnn(
    estimator: CNNClassifier,
    directory: str | Path,
    *,
    preprocessing: dict[str, Any] | None = None,
    stage: str = "cnn.final_model",
    export: Literal["torchscript", "none"] = "torchscript",
) -> dict[str, Path]:
    """Save weights, configuration, preprocessing and history; export TorchScript.

    Files: ``model.pt`` (state dict), ``model.json`` (settings, input shape, classes,
    preprocessing, history, provenance) and ``model.torchscript.pt`` (a traced module
    mapping an ``(N, C, H, W)`` float32 batch to WIMP probabilities) and, where torch
    has ``torch.export``, the same as an exported program ``model.pt2`` (dynamic batch),
    the successor of TorchScript.
    """
    estimator._check_fitted()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = estimator.config()
    paths = {"weights": directory / "model.pt", "metadata": directory / "model.json"}
    with atomic_path(paths["weights"]) as tmp:
        torch.save(cpu_state(estimator.model_), tmp)
    meta = {
        "provenance": provenance(cfg, cfg.random_state, stage),
        "params": cfg.model_dump(mode="json"),
        "input_shape": list(estimator.input_shape_),
        "classes": np.asarray(estimator.classes_).tolist(),
        "positive_class": np.asarray(estimator.classes_)[1].item(),
        "preprocessing": preprocessing or {"pixels": "float32 in [0, 1]"},
        "n_parameters": estimator.n_parameters_,
        "best_epoch": estimator.best_epoch_,
        "history": estimator.history_,
        "output": "logit; probability = sigmoid(logit)",
    }
    write_json(paths["metadata"], meta)
    if export == "torchscript":
        wrapped = SigmoidHead(copy.deepcopy(estimator.model_).to("cpu")).eval()
        example = torch.zeros((2, *estimator.input_shape_))
        paths["torchscript"] = directory / "model.torchscript.pt"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates jit
            traced = torch.jit.trace(wrapped, example)
            with atomic_path(paths["torchscript"]) as tmp:
                traced.save(str(tmp))
        if hasattr(torch, "export"):
            paths["exported_program"] = directory / "model.pt2"
            program = torch.export.export(
                wrapped, (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}}
            )
            buffer = io.BytesIO()
            torch.export.save(program, buffer)
            with atomic_path(paths["exported_program"]) as tmp:
                tmp.write_bytes(buffer.getvalue())
    return paths


def load_cnn(directory: str | Path, device: str | None = "cpu") -> CNNClassifier:
    """Load a model written by :func:`save_cnn` (ready for ``predict_proba``)."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / "model.json").read_text())
        state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    except (OSError, json.JSONDecodeError, RuntimeError, pickle.UnpicklingError) as err:
        raise DataError(f"model: cannot read a saved CNN from {str(directory)!r}: {err}") from err
    params = dict(meta["params"])
    params["device"] = device
    est = CNNClassifier(**params)
    cfg = est.config()
    est.classes_ = np.asarray(meta["classes"])
    est.input_shape_ = tuple(meta["input_shape"])
    est.device_ = resolve_device(device)
    est.model_ = PaperCNN(est.input_shape_, cfg.architecture()).to(est.device_)
    est.model_.load_state_dict(state)
    est.model_.eval()
    est.n_parameters_ = count_parameters(est.model_)
    est.history_ = meta.get("history", {})
    est.best_epoch_ = meta.get("best_epoch")
    est.checkpoints_ = {}
    return est
