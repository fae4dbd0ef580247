"""Checks of the CNN's inputs, shared by the estimator and the grid search: image arrays,
labels and the torch device."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from wimpsift.errors import ConfigError, DataError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` → CUDA when present, else CPU; a device named is checked to exist here.

    A CUDA or MPS device this machine doesn't have, or any other kind but the CPU, is a
    :class:`ConfigError`, so a run stops before its images are built rather than at the
    first tensor moved to the device.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    expected = "expected 'cpu', 'cuda', 'cuda:N' or 'mps'"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"device: got {device!r}, {expected}") from err
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        present, seen = (resolved.index or 0) < count, f"{count} CUDA device(s)"
    elif resolved.type == "mps":
        present, seen = torch.backends.mps.is_available(), "no MPS device"
    else:
        raise ConfigError(f"device: got {device!r}, {expected}")
    if not present:
        raise ConfigError(f"device: got {device!r}, but torch sees {seen} on this machine; "
                          f"{expected} for a device present")
    return resolved


# --------------------------------------------------------------------------- data checks


def as_image_array(images: Any, parameter: str = "X") -> np.ndarray:
    """Validate images and return a float32 ``(N, C, H, W)`` array with pixels in [0, 1].

    Raises :class:`DataError` for mismatched shapes, non-finite or out-of-range pixels,
    and wrong dimensionality.
    """
    if isinstance(images, list | tuple):
        shapes = {np.shape(im) for im in images}
        if len(shapes) > 1:
            raise DataError(
                f"{parameter}: mismatched image shapes {sorted(shapes)[:4]}; "
                "expected every image of one kind to have the same shape"
            )
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise DataError(f"{parameter}: cannot read images as a float32 array ({err})") from err
    if arr.ndim == 3:
        # reshape, not arr[:, None]: a stride-0 channel axis makes torch pick another
        # convolution kernel, whose different rounding changes Adam's first steps
        arr = np.ascontiguousarray(arr).reshape(arr.shape[0], 1, *arr.shape[1:])
    if arr.ndim != 4:
        raise DataError(
            f"{parameter}: got an array of shape {arr.shape}, expected (N, H, W) or (N, C, H, W)"
        )
    if arr.shape[0] == 0:
        raise DataError(f"{parameter}: got no images")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).reshape(len(arr), -1).any(axis=1).sum())
        raise DataError(f"{parameter}: {bad} image(s) have non-finite pixels (NaN or inf)")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{parameter}: pixels span [{lo:g}, {hi:g}], expected values in [0, 1]")
    return np.ascontiguousarray(arr)


def check_labels(y: Any, n: int, parameter: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Return (classes, 0/1 labels); two classes required; the larger label is positive."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{parameter}: got shape {y.shape}, expected ({n},) (one label per image)")
    classes = np.unique(y)
    if len(classes) != 2:
        raise DataError(
            f"{parameter}: got {len(classes)} class(es) {classes.tolist()}, expected exactly 2 "
            "(signal and background); a single-class data set cannot train a classifier"
        )
    return classes, (y == classes[1]).astype(np.float32)
