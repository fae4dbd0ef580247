"""Layers whose randomness comes from a ``torch.Generator``, never torch's global one.

``nn.Linear`` and ``nn.Conv2d`` draw their initial weights from torch's global generator
when they are built, and ``nn.Dropout`` (``F.dropout``) draws its masks from it and
takes no generator. A run's randomness must come from its own ``SeedSequence``
(:mod:`wimpsift.seeding`) and leave the caller's global state alone, so the networks
are built from these pieces instead:

* :func:`linear` and :func:`conv2d` build the layer without initialising it
  (``torch.nn.utils.skip_init``: nothing is drawn);
* :func:`torch_default_init` draws the weights as ``reset_parameters`` of those layers
  does (Kaiming-uniform with ``a = √5``, biases uniform in ``±1/√fan_in``) and
  :func:`glorot_init` as Keras does (Glorot-uniform kernels, zero biases), both from a
  generator through ``torch.nn.init``'s ``generator=`` argument;
* :class:`Dropout` is inverted dropout as ``nn.Dropout`` (keep with probability
  ``1 − p``, scale the kept values by ``1/(1 − p)``), with the mask drawn by
  ``Tensor.bernoulli_(generator=...)`` from the generator it holds. Hand-written
  because torch's dropout has no generator argument.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def linear(in_features: int, out_features: int) -> nn.Linear:
    """An uninitialised ``nn.Linear`` (initialise it with one of the ``*_init``)."""
    return nn.utils.skip_init(nn.Linear, in_features, out_features)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, **kwargs) -> nn.Conv2d:
    """An uninitialised ``nn.Conv2d`` (initialise it with one of the ``*_init``)."""
    return nn.utils.skip_init(nn.Conv2d, in_channels, out_channels, kernel_size, **kwargs)


@torch.no_grad()
def torch_default_init(layer: nn.Linear | nn.Conv2d, generator: torch.Generator) -> None:
    """Weights as torch's own ``reset_parameters``, drawn from ``generator``."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


@torch.no_grad()
def glorot_init(layer: nn.Linear | nn.Conv2d, generator: torch.Generator) -> None:
    """Keras' default: Glorot-uniform weights from ``generator``, zero biases."""
    nn.init.xavier_uniform_(layer.weight, generator=generator)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class Dropout(nn.Module):
    """Inverted dropout with masks drawn from ``self.generator`` (on the input's device).

    In evaluation mode, or with ``p == 0``, it returns its input unchanged.
    """

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p: got {p!r}, expected a probability in [0, 1)")
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.generator.device.type != x.device.type:
            raise RuntimeError(f"Dropout: its generator is on {self.generator.device}, the "
                               f"input on {x.device}; give the model a generator there")
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"
