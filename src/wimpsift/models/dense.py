"""Dense (fully connected) discriminant on event variables, the LUX paper's network.

Default topology 4-10-3-1 (Sec. III A of the LUX machine-learning paper): four input
variables, hidden layers of 10 and 3 nodes, one sigmoid output f(x) in [0, 1] (1:
signal-like). A fifth input (S1 prompt fraction) gives 5-10-3-1 with the hidden
layers unchanged, as in the paper's Sec. IV D.

Inputs are named by event-table column (units in the name). A name ``log10_<column>``
means the base-10 logarithm of that column. Presets:

- ``corrected``: r_cm, z_cm, cs1_pe, log10_cs2_pe (the paper's default)
- ``raw``: r_cm, z_cm, s1_area_pe, log10_s2_area_pe (Sec. IV C, no position corrections)
- ``corrected_pf`` / ``raw_pf``: the same plus s1_prompt_fraction (Sec. IV D)

The standardisation (weighted mean and standard deviation of each input on the
training sample) is stored in the module as buffers, so a saved network applies to
raw event tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from wimpsift.errors import ConfigError, DataError
from wimpsift.models.seeded import linear, torch_default_init

EVENT_COLUMNS: tuple[str, ...] = (
    "energy_kev", "x_true_cm", "y_true_cm", "z_true_cm", "n_photons", "n_electrons",
    "drift_time_us", "x_cm", "y_cm", "z_cm", "r_cm", "s1_area_pe", "s2_area_pe",
    "s2_top_area_pe", "s2_bottom_area_pe", "s1_n_pmts", "s1_prompt_fraction", "cs1_pe",
    "cs2_pe", "cs2_bottom_pe",
)
"""Numeric columns of the simulated event table that may serve as network inputs."""

TRUTH_COLUMNS = frozenset({"energy_kev", "x_true_cm", "y_true_cm", "z_true_cm",
                           "n_photons", "n_electrons"})

INPUT_PRESETS: dict[str, tuple[str, ...]] = {
    "corrected": ("r_cm", "z_cm", "cs1_pe", "log10_cs2_pe"),
    "raw": ("r_cm", "z_cm", "s1_area_pe", "log10_s2_area_pe"),
    "corrected_pf": ("r_cm", "z_cm", "cs1_pe", "log10_cs2_pe", "s1_prompt_fraction"),
    "raw_pf": ("r_cm", "z_cm", "s1_area_pe", "log10_s2_area_pe", "s1_prompt_fraction"),
}

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "sigmoid": nn.Sigmoid,
               "leaky_relu": nn.LeakyReLU}


def resolve_inputs(inputs: str | Sequence[str]) -> tuple[str, ...]:
    """A preset name or a list of input names, checked against the event-table columns."""
    if isinstance(inputs, str):
        if inputs in INPUT_PRESETS:
            return INPUT_PRESETS[inputs]
        inputs = [s.strip() for s in inputs.split(",") if s.strip()]
    names = tuple(inputs)
    if not names:
        raise ConfigError("inputs: got no input variables, expected a preset "
                          f"({', '.join(INPUT_PRESETS)}) or column names")
    allowed = ", ".join(EVENT_COLUMNS)
    for name in names:
        base = name.removeprefix("log10_")
        if base not in EVENT_COLUMNS:
            raise ConfigError(
                f"inputs: unknown input variable {name!r}; expected a preset "
                f"({', '.join(INPUT_PRESETS)}), a column ({allowed}) or log10_<column>")
    if len(set(names)) != len(names):
        raise ConfigError(f"inputs: repeated variable in {list(names)!r}")
    return names


def input_matrix(table: pd.DataFrame, inputs: Sequence[str]) -> np.ndarray:
    """The (n_events, n_inputs) float64 matrix of ``inputs`` from an event table."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"table: got {type(table).__name__}, expected a pandas DataFrame")
    missing = sorted({n.removeprefix("log10_") for n in inputs} - set(table.columns))
    if missing:
        raise DataError(f"table: missing input column(s) {missing} needed by inputs "
                        f"{list(inputs)}")
    cols = []
    for name in inputs:
        base = name.removeprefix("log10_")
        values = table[base].to_numpy(dtype=float)
        if name.startswith("log10_"):
            if np.any(values <= 0):
                raise DataError(f"table: column {base!r} has {int(np.sum(values <= 0))} "
                                f"non-positive value(s); cannot take log10 for input {name!r}")
            values = np.log10(values)
        cols.append(values)
    x = np.column_stack(cols) if cols else np.empty((len(table), 0))
    bad = ~np.all(np.isfinite(x), axis=1)
    if bad.any():
        cols_bad = [n for j, n in enumerate(inputs) if not np.all(np.isfinite(x[:, j]))]
        raise DataError(f"table: {int(bad.sum())} event(s) with non-finite values in "
                        f"input(s) {cols_bad}")
    return x


class DenseDiscriminantNet(nn.Module):
    """Fully connected network n_inputs-hidden...-1 with stored input standardisation.

    ``forward`` takes raw (unstandardised) inputs and returns the logit; ``predict``
    returns f(x) = sigmoid(logit) in [0, 1]. ``generator`` draws the initial weights
    (default: a generator seeded with 0); torch's global generator is not used.
    """

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (10, 3),
                 activation: str = "tanh", generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(n_inputs, int) or n_inputs < 1:
            raise ConfigError(f"n_inputs: got {n_inputs!r}, expected a positive integer")
        if any((not isinstance(h, int)) or h < 1 for h in hidden):
            raise ConfigError(f"hidden: got {list(hidden)!r}, expected positive layer sizes")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation: got {activation!r}, expected one of "
                              f"{sorted(ACTIVATIONS)}")
        self.n_inputs = n_inputs
        self.hidden = tuple(hidden)
        self.activation = activation
        layers: list[nn.Module] = []
        width = n_inputs
        for h in self.hidden:
            layers += [linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(linear(width, 1))
        self.layers = nn.Sequential(*layers)
        self.register_buffer("input_mean", torch.zeros(n_inputs, dtype=torch.float64))
        self.register_buffer("input_scale", torch.ones(n_inputs, dtype=torch.float64))
        self.initialise(generator if generator is not None else torch.Generator().manual_seed(0))

    @property
    def topology(self) -> str:
        return "-".join(str(n) for n in (self.n_inputs, *self.hidden, 1))

    def set_standardisation(self, x: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Store the (weighted) mean and standard deviation of each input column."""
        mean = np.average(x, axis=0, weights=weights)
        std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weights))
        std = np.where(std > 0, std, 1.0)
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float64))
        self.input_scale.copy_(torch.as_tensor(std, dtype=torch.float64))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.layers[0].weight.dtype
        return ((x.to(torch.float64) - self.input_mean) / self.input_scale).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit_of_standardised(self.standardise(x))

    def logit_of_standardised(self, xs: torch.Tensor) -> torch.Tensor:
        """The logit of inputs already standardised (training standardises once)."""
        return self.layers(xs).squeeze(-1)

    @torch.no_grad()
    def initialise(self, generator: torch.Generator) -> DenseDiscriminantNet:
        """Draw fresh weights as ``nn.Linear`` does (Kaiming-uniform weights, uniform
        biases in ±1/sqrt(fan_in)), from ``generator``, not torch's global one."""
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                torch_default_init(layer, generator)
        return self

    @torch.no_grad()
    def logit(self, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Network logit for raw inputs (float64 numpy array)."""
        x_t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        out = [self(x_t[i:i + batch_size]).to(torch.float64) for i in range(0, len(x_t), batch_size)]
        return torch.cat(out).numpy() if out else np.empty(0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """f(x) = sigmoid(logit) in [0, 1]."""
        z = self.logit(x)
        return 0.5 * (1.0 + np.tanh(0.5 * z))
