"""A small CNN regressing the S2 position (x, y) from the top-array hit pattern.

Input: the top-array S2 hit pattern, each PMT's area divided by the largest PMT area of
the event (so the input does not depend on the S2 size, only the shape of the
pattern), rasterised on a square grid with :func:`wimpsift.images.hit.render_pattern`
(each pixel carries the value of the PMT disc covering it, anti-aliased). Why a raster
and not the 127-value vector: the pattern is a local blob that moves across the array,
which is what convolutions and pooling handle with few weights; the ring layout of the
PMTs has no natural 1-D order. Two more channels hold each pixel's x and y in units of
the panel half-width ("CoordConv", Liu et al. 2018, arXiv:1807.03247): convolutions are
translation-equivariant, and these channels let the dense head read absolute positions.

Architecture, for a ``3 × S × S`` input (S = ``grid_pixels``, default 16: 6 cm pixels
for 7.6 cm PMTs on XENON1T's top array; a 24-pixel raster costs 2.2× more per event
and, at the same CPU time, gave a worse network, because the training is limited by
the number of gradient steps on enough events, not by the raster — see
``benchmarks/bench_positions.py``):
``[Conv2d(3×3, padding 1), ReLU] × 2 → MaxPool(2) → Conv2d(3×3, padding 1), ReLU →
MaxPool(2) → Flatten → Linear(dense_units), ReLU → Linear(2)``.
The output is (x, y) in units of the TPC radius; :class:`PositionCNN` stores the radius.
Initial weights are torch's default ones, drawn from a ``torch.Generator``
(:mod:`wimpsift.models.seeded`), not from torch's global generator.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from wimpsift.config import WimpsiftConfig
from wimpsift.models.seeded import conv2d, linear, torch_default_init


class PositionCNNArchitecture(WimpsiftConfig):
    """Settings of :class:`PositionCNN`."""


    grid_pixels: int = Field(16, ge=8, le=128)
    n_filters: int = Field(16, ge=1, le=256)
    dense_units: int = Field(128, ge=1, le=4096)


class PositionCNN(nn.Module):
    """Top-array S2 raster (N, 3, S, S) → (N, 2) position in units of the TPC radius.

    ``generator`` draws the initial weights (default: a generator seeded with 0)."""

    def __init__(self, arch: PositionCNNArchitecture | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        arch = arch or PositionCNNArchitecture()
        self.arch = arch
        f = arch.n_filters
        self.features = nn.Sequential(
            conv2d(3, f, 3, padding=1), nn.ReLU(),
            conv2d(f, f, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            conv2d(f, 2 * f, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        side = arch.grid_pixels // 4
        self.head = nn.Sequential(
            linear(2 * f * side * side, arch.dense_units), nn.ReLU(),
            linear(arch.dense_units, 2),
        )
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d | nn.Linear):
                torch_default_init(layer, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def coordinate_channels(grid_pixels: int) -> torch.Tensor:
    """(2, S, S): each pixel centre's x and y (+y up) in units of the panel half-width."""
    centres = (torch.arange(grid_pixels, dtype=torch.float32) + 0.5) / grid_pixels * 2 - 1
    y, x = torch.meshgrid(-centres, centres, indexing="ij")
    return torch.stack([x, y])
