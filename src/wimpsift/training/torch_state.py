"""Torch's process-wide switches that decide whether a network gives the same bytes twice:
the CPU thread count and, on CUDA, the choice of kernels.

:func:`same_bits` sets them for one training or one prediction and puts back what it
found, so a caller's own torch settings survive.

- **CPU:** the thread count is the only switch. A sum split over a different number of
  threads rounds differently, so a fit pins it (the CNNs' ``num_threads``/``threads``).
  Torch's CPU kernels for these networks are already deterministic: nothing else is set,
  and CPU results are the bytes they were before this module existed.
- **CUDA:** cuDNN picks convolution algorithms by speed, and some of them add in
  whatever order the GPU's threads finish, so the same seed can give different weights.
  Inside :func:`same_bits` torch is asked for deterministic algorithms and cuDNN for
  deterministic convolutions without benchmarking. The request is warn-only: an
  operation without a deterministic kernel warns, naming itself, instead of stopping a
  run. cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` for
  deterministic matrix products; it is set to ``:4096:8`` (torch's documented value)
  when absent, and left set, since cuBLAS reads it once per process.

Not measured on a GPU yet: no CUDA machine was at hand when this was written. The test
``tests/cnn/test_torch_state.py::test_cuda_training_gives_the_same_bytes_twice`` runs
only where CUDA is present and checks the claim there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

CUBLAS_WORKSPACE = ":4096:8"
"""torch's documented ``CUBLAS_WORKSPACE_CONFIG`` for deterministic cuBLAS products"""


@contextmanager
def same_bits(device: torch.device, threads: int | None) -> Iterator[None]:
    """Within the block: ``threads`` CPU threads (None: leave as is) and, when ``device``
    is CUDA, deterministic kernels; afterwards, the settings found on entry."""
    old_threads = torch.get_num_threads()
    old = (torch.are_deterministic_algorithms_enabled(),
           torch.is_deterministic_algorithms_warn_only_enabled(),
           torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        if threads:
            torch.set_num_threads(threads)
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old[0], warn_only=old[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old[2], old[3]
