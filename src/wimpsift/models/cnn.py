"""The convolutional network of the CNN paper (section IV), in PyTorch.

Architecture (paper Fig. 8), for an input of ``C × H × W`` pixels in [0, 1]:

* 1 to 3 convolution blocks, each: ``Conv2d(16 filters, 3×3, stride 1, no padding)``
  with an L2 penalty of 0.005 on the kernel (not the bias), ``LeakyReLU(α)``,
  ``MaxPool2d(2×2)``. The paper's text says each pooling halves the volume (stride 2,
  the default here); the authors' public notebook pools with stride 1. The stride is
  the ``pool_stride`` setting.
* ``Dropout(0.25)`` after the last convolution block, ``Flatten``.
* ``Linear(32)`` with an L2 penalty of 0.001 on both weights and bias, ``LeakyReLU(α)``,
  ``Dropout(0.5)``.
* ``Linear(1)`` and a sigmoid; or, with ``n_outputs`` = K > 1, ``Linear(K)`` and a
  softmax (the multi-class network of :mod:`wimpsift.training.weighted_cnn`).

Hybrid option (not in the paper): with ``n_scalars`` = S > 0 the ``Linear(32)`` layer
reads the flattened image features *and* S event-level numbers given to
:meth:`PaperCNN.forward` (e.g. standardised cS1 and log10 cS2), a common design for
networks that see both images and summary variables. The scalars first pass their own
block, ``Linear(scalar_units)``, ``LeakyReLU(α)``, twice (``scalar_units`` = 0: read
directly). Concatenated raw, S numbers are S of about 20,000 inputs of one dense layer
of 32 units with dropout: a boundary in (cS1, cS2, r, z) as sharp as the ER band's edge
or the fiducial wall is then learned slowly and noisily, and the hybrid lost to a dense
network on the same numbers (:mod:`wimpsift.training.background_classifiers` gives the
measurement). ``n_scalars = 0`` (default) is the paper's network, parameter for
parameter.

The module's :meth:`PaperCNN.forward` returns the *logit* (the input of the sigmoid);
training uses ``binary_cross_entropy_with_logits``, which is the paper's sigmoid +
binary cross-entropy computed without the loss of precision of a saturated sigmoid.
:class:`SigmoidHead` wraps a model so that it outputs the probability (used for export).

L2 penalties follow Keras: ``λ · Σ w²`` (no factor ½) added to the mean batch loss, see
:meth:`PaperCNN.l2_penalty`. Weights start as in Keras: Glorot-uniform kernels and zero
biases. The initial weights are drawn from the ``generator`` given to the model and the
dropout masks from its ``dropout_generator`` (:mod:`wimpsift.models.seeded`); torch's
global generator is neither used nor changed.

Parameter count of the paper's final configuration (one conv block, stride-2 pooling) on
a 75×75 one-channel image: conv ``3·3·1·16 + 16 = 160``; 75 → 73 after the convolution,
73 → 36 after pooling, so the flattened size is ``36·36·16 = 20,736``; dense
``20,736·32 + 32 = 663,584``; output ``32 + 1 = 33``; total ``663,777``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, bad_value
from wimpsift.models.seeded import Dropout, conv2d, glorot_init, linear, torch_default_init


class CNNArchitecture(WimpsiftConfig):
    """Settings of :class:`PaperCNN` (defaults: the paper's final HitPeak model)."""

    n_conv_layers: int = Field(1, ge=1, le=3)
    n_filters: int = Field(16, ge=1)
    kernel_size: int = Field(3, ge=1)
    leaky_alpha: float = Field(0.05, ge=0.0, lt=1.0)
    pool_size: int = Field(2, ge=1)
    pool_stride: int = Field(2, ge=1)
    conv_dropout: float = Field(0.25, ge=0.0, lt=1.0)
    dense_units: int = Field(32, ge=1)
    dense_dropout: float = Field(0.5, ge=0.0, lt=1.0)
    conv_l2: float = Field(0.005, ge=0.0)
    dense_l2: float = Field(0.001, ge=0.0)
    init: Literal["keras", "torch"] = "keras"
    scalar_units: int = Field(32, ge=0)
    """width of the two layers the event scalars pass before the dense layer (hybrid
    only; 0: the scalars enter the dense layer directly)"""


def conv_output_hw(height: int, width: int, arch: CNNArchitecture) -> tuple[int, int]:
    """Spatial size after the convolution blocks; raises ConfigError if it vanishes."""
    h, w = height, width
    for block in range(arch.n_conv_layers):
        h, w = h - arch.kernel_size + 1, w - arch.kernel_size + 1
        if h < arch.pool_size or w < arch.pool_size:
            raise ConfigError(
                f"input_shape: a {height}x{width} image is too small for {arch.n_conv_layers} "
                f"convolution block(s) (vanishes in block {block + 1})"
            )
        h = (h - arch.pool_size) // arch.pool_stride + 1
        w = (w - arch.pool_size) // arch.pool_stride + 1
    return h, w


class PaperCNN(nn.Module):
    """The paper's CNN for one image kind; ``forward`` returns logits of shape (N,), or
    (N, ``n_outputs``) when ``n_outputs`` > 1.

    ``generator`` draws the initial weights; ``dropout_generator`` the dropout masks
    (it must live on the device the model runs on). Either defaults to a CPU generator
    seeded with 0.
    """

    def __init__(self, input_shape: Sequence[int], arch: CNNArchitecture | None = None,
                 generator: torch.Generator | None = None,
                 dropout_generator: torch.Generator | None = None, n_outputs: int = 1,
                 n_scalars: int = 0) -> None:
        super().__init__()
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
            raise bad_value("n_outputs", n_outputs, "a positive number of outputs")
        if isinstance(n_scalars, bool) or not isinstance(n_scalars, int) or n_scalars < 0:
            raise bad_value("n_scalars", n_scalars, "a non-negative number of event scalars")
        self.n_outputs = n_outputs
        self.n_scalars = n_scalars
        arch = arch or CNNArchitecture()
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise bad_value("input_shape", input_shape, "(channels, height, width), all positive")
        self.input_shape = shape
        self.arch = arch
        channels, height, width = shape
        blocks: list[nn.Module] = []
        for _ in range(arch.n_conv_layers):
            conv = conv2d(channels, arch.n_filters, arch.kernel_size, stride=1, padding=0)
            blocks += [
                conv,
                nn.LeakyReLU(arch.leaky_alpha),
                nn.MaxPool2d(arch.pool_size, stride=arch.pool_stride),
            ]
            channels = arch.n_filters
        h, w = conv_output_hw(height, width, arch)
        dropout_generator = (dropout_generator if dropout_generator is not None
                             else torch.Generator().manual_seed(0))
        self.features = nn.Sequential(*blocks, Dropout(arch.conv_dropout, dropout_generator),
                                      nn.Flatten())
        scalar_width = n_scalars
        self.scalar_block: nn.Sequential | None = None
        if n_scalars and arch.scalar_units:
            self.scalar_block = nn.Sequential(
                linear(n_scalars, arch.scalar_units), nn.LeakyReLU(arch.leaky_alpha),
                linear(arch.scalar_units, arch.scalar_units), nn.LeakyReLU(arch.leaky_alpha))
            scalar_width = arch.scalar_units
        self.dense = linear(channels * h * w + scalar_width, arch.dense_units)
        self.head = nn.Sequential(
            nn.LeakyReLU(arch.leaky_alpha), Dropout(arch.dense_dropout, dropout_generator)
        )
        self.output = linear(arch.dense_units, n_outputs)
        init = glorot_init if arch.init == "keras" else torch_default_init
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        scalar_layers = ([] if self.scalar_block is None else
                         [m for m in self.scalar_block if isinstance(m, nn.Linear)])
        for layer in [*self.convs, self.dense, self.output, *scalar_layers]:
            init(layer, generator)

    @property
    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    @property
    def dropout_generator(self) -> torch.Generator:
        """The generator of the dropout masks (shared by both dropout layers)."""
        return self.head[1].generator

    @dropout_generator.setter
    def dropout_generator(self, generator: torch.Generator) -> None:
        for module in self.modules():
            if isinstance(module, Dropout):
                module.generator = generator

    def forward(self, x: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        features = self.features(x)
        if self.n_scalars:
            if scalars is None or scalars.shape != (x.shape[0], self.n_scalars):
                raise ValueError(f"scalars: expected shape ({x.shape[0]}, {self.n_scalars})")
            scalars = scalars.to(features.dtype)
            if self.scalar_block is not None:
                scalars = self.scalar_block(scalars)
            features = torch.cat([features, scalars], dim=1)
        x = self.output(self.head(self.dense(features)))
        return x.squeeze(-1) if self.n_outputs == 1 else x

    def l2_penalty(self) -> torch.Tensor:
        """Keras-style L2: 0.005·Σ(conv kernels²) + 0.001·Σ(dense weights² + bias²)."""
        total = self.output.weight.new_zeros(())
        if self.arch.conv_l2 > 0:
            for conv in self.convs:
                total = total + self.arch.conv_l2 * conv.weight.pow(2).sum()
        if self.arch.dense_l2 > 0:
            total = total + self.arch.dense_l2 * (
                self.dense.weight.pow(2).sum() + self.dense.bias.pow(2).sum()
            )
        return total


class SigmoidHead(nn.Module):
    """Wrap a logit model so that it returns probabilities (for TorchScript/ONNX export)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
