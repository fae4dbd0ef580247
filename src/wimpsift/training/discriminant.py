"""Per-mass neural discriminants with MI completion checks and transfer learning.

This is the training stage of the LUX machine-learning paper (Sec. III A-B):

1. For each WIMP mass, a dense network (:mod:`wimpsift.models.dense`, default
   4-10-3-1) is trained to separate that mass's signal from all backgrounds, with a
   weighted binary cross-entropy balanced between the classes: background events
   carry their expected-rate weights, and each class is rescaled to half of the total
   weight.
2. ``mode="sequential"`` trains the masses from the lowest up, each starting from the
   previous mass's weights (transfer learning); ``mode="independent"`` starts every
   mass from new random weights. Both record the test-set AUC after every epoch
   (:func:`wimpsift.plots.discriminant.plot_auc_vs_epoch`: the paper's Fig. 1).
3. Completion (:func:`wimpsift.metrics.mutual_information.mi_completion`): on the
   test set, the combined error of output and input MI must be at most
   ``mi_max_rel_error`` (1 %) of the input MI, else the test is unresolved and the
   network is not complete (``mi_test_events_needed`` says how many test events would
   resolve it; ``mi_table`` of :func:`train_one_mass` gives an independent, larger test
   set for the MI alone); then the MI between class and network output must reach (1 - ε) × the
   MI between class and the inputs (``mi_epsilon``; a margin of ``mi_n_sigma``
   combined standard errors absorbs the estimator's noise, 0 for the strict test). The
   configuration is refused unless the worst accepted ratio, ``1 - ε - n_sigma ×
   max_rel_error``, is at least 0.95. A mass that fails is retrained automatically: first from new random
   weights with a new seed, then with a new seed and ``retrain_epoch_factor`` times the
   epochs. The attempt with the largest output MI is kept and every attempt is
   recorded (:func:`wimpsift.plots.discriminant.plot_mi_vs_mass`: the paper's Fig. 2).
4. The uniform transform g(f) (:mod:`wimpsift.models.uniform_transform`) is fitted on
   the balanced test set and saved with the network; :meth:`TrainedDiscriminant.score`
   applies network and transform to any event table.

The limits stage uses :func:`train_masses` (or :func:`load_discriminants`) and
:meth:`TrainedDiscriminant.score`.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, ValidationError, field_validator, model_validator

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.metrics.leakage import discrimination_summary
from wimpsift.metrics.mutual_information import MutualInformation, mi_completion, mutual_information
from wimpsift.models.dense import DenseDiscriminantNet, input_matrix, resolve_inputs
from wimpsift.models.uniform_transform import UniformTransform
from wimpsift.progress import Progress
from wimpsift.provenance import provenance, write_json
from wimpsift.seeding import SeedLike, int_seed, seed_sequence, torch_generator

DEFAULT_MASSES_GEV: tuple[float, ...] = (
    3.5, 4, 5, 7, 10, 13, 15, 17, 19, 21, 24, 27, 30, 33, 37, 40, 50, 60, 75, 100, 300, 1000)
FORMAT_VERSION = 1
Mode = Literal["sequential", "independent"]


class DiscriminantConfig(WimpsiftConfig):
    """Settings of the network, its training and the completion criterion."""

    masses_gev: list[float] = Field(default_factory=lambda: list(DEFAULT_MASSES_GEV))
    inputs: str | list[str] = "corrected"
    hidden: list[int] = Field(default_factory=lambda: [10, 3])
    activation: str = "tanh"
    mode: Mode = "sequential"
    epochs_from_scratch: Annotated[int, Field(gt=0)] = 20
    epochs_transfer: Annotated[int, Field(gt=0)] = 10
    batch_size: Annotated[int, Field(gt=0)] = 128
    learning_rate: Annotated[float, Field(gt=0)] = 1e-2
    final_lr_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        0.3, description="learning rate decays exponentially to this fraction of its start")
    focus_backgrounds: list[str] | None = Field(
        None,
        description="background sources trained alone (against signal) in the middle "
        "phase of each training; None: wall events where the samples hold them, the LUX "
        "paper's fix for networks that miss them")
    focus_fraction: Annotated[float, Field(ge=0, lt=1)] = Field(
        1 / 3, description="fraction of the epochs in the focus phase (0: no focus phase)")
    mi_k: Annotated[int, Field(ge=1)] = 5
    mi_subsets: Annotated[int, Field(ge=2)] = 5
    mi_epsilon: Annotated[float, Field(ge=0, lt=1)] = 0.02
    mi_n_sigma: Annotated[float, Field(ge=0)] = 1.0
    mi_max_rel_error: Annotated[float, Field(gt=0, le=0.05)] = 0.01
    max_retrains: Annotated[int, Field(ge=0, le=5)] = 2
    retrain_epoch_factor: Annotated[float, Field(ge=1)] = 3.0
    seed: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _mi_rule(self) -> DiscriminantConfig:
        worst = 1.0 - self.mi_epsilon - self.mi_n_sigma * self.mi_max_rel_error
        if worst < 0.95:
            raise ValueError(
                f"mi_epsilon + mi_n_sigma * mi_max_rel_error: the worst accepted output/input "
                f"MI ratio would be {worst:.3f}; expected at least 0.95")
        return self

    @field_validator("masses_gev")
    @classmethod
    def _masses(cls, value: list[float]) -> list[float]:
        if not value or any((not np.isfinite(m)) or m <= 0 for m in value):
            raise ValueError("expected a non-empty list of positive WIMP masses in GeV")
        if len(set(value)) != len(value):
            raise ValueError("masses must be distinct")
        return sorted(float(m) for m in value)

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: str | list[str]) -> str | list[str]:
        resolve_inputs(value)
        return value

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, value: list[int]) -> list[int]:
        if not value or any(h < 1 for h in value):
            raise ValueError("expected positive hidden-layer sizes")
        return value

    @field_validator("activation")
    @classmethod
    def _activation(cls, value: str) -> str:
        from wimpsift.models.dense import ACTIVATIONS

        if value not in ACTIVATIONS:
            raise ValueError(f"expected one of {sorted(ACTIVATIONS)}")
        return value


def validated_config(**settings: Any) -> DiscriminantConfig:
    """Build a :class:`DiscriminantConfig`, turning validation errors into ConfigError."""
    try:
        return DiscriminantConfig(**settings)
    except ConfigError:
        raise
    except ValidationError as err:
        raise ConfigError(f"discriminant config: {validation_message(err)}") from err


# ---------------------------------------------------------------------------------------
# data checks
# ---------------------------------------------------------------------------------------
def check_training_table(table: pd.DataFrame, inputs: Sequence[str], name: str = "table"
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, labels, weights) of a table with ``label`` and ``weight``; DataError if unusable."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{name}: got {type(table).__name__}, expected a pandas DataFrame")
    if len(table) == 0:
        raise DataError(f"{name}: the sample is empty, expected signal and background events")
    for col in ("label", "weight"):
        if col not in table.columns:
            raise DataError(f"{name}: missing column {col!r}")
    labels = table["label"].to_numpy()
    if not np.isin(labels, [0, 1]).all():
        raise DataError(f"{name}: column 'label' must hold 0 (background) or 1 (signal)")
    labels = labels.astype(int)
    if np.unique(labels).size < 2:
        raise DataError(f"{name}: single-class sample (label {int(labels[0])} only), expected "
                        "signal and background")
    weights = table["weight"].to_numpy(dtype=float)
    if not np.all(np.isfinite(weights)):
        raise DataError(f"{name}: column 'weight' has non-finite values")
    if np.any(weights < 0):
        raise DataError(f"{name}: column 'weight' has {int(np.sum(weights < 0))} negative "
                        "value(s), expected weights >= 0")
    for c in (0, 1):
        if weights[labels == c].sum() <= 0:
            raise DataError(f"{name}: class {c} has zero total weight")
    x = input_matrix(table, inputs)
    return x, labels, weights


def balanced_weights(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rescale weights so each class holds half of the total and the mean weight is 1."""
    out = np.asarray(weights, dtype=float).copy()
    n = len(out)
    for c in (0, 1):
        sel = labels == c
        out[sel] *= 0.5 * n / out[sel].sum()
    return out


def split_table(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) by the ``split`` column."""
    if "split" not in table.columns:
        raise DataError("table: missing column 'split' ('train' or 'test' per event)")
    train = table[table["split"] == "train"]
    test = table[table["split"] == "test"]
    if len(train) == 0 or len(test) == 0:
        raise DataError(f"table: split has {len(train)} train and {len(test)} test events, "
                        "expected both non-empty")
    return train, test


# ---------------------------------------------------------------------------------------
# the trained object
# ---------------------------------------------------------------------------------------
@dataclass
class TrainedDiscriminant:
    """A network trained for one WIMP mass, its uniform transform and its metrics."""

    mass_gev: float
    inputs: tuple[str, ...]
    network: DenseDiscriminantNet
    transform: UniformTransform
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def logit(self, table: pd.DataFrame) -> np.ndarray:
        return self.network.logit(input_matrix(table, self.inputs))

    def output(self, table: pd.DataFrame) -> np.ndarray:
        """Network output f(x) in [0, 1] (1: signal-like)."""
        z = self.logit(table)
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def score(self, table: pd.DataFrame) -> np.ndarray:
        """g(f(x)) in [0, 1]: output after the uniform transform (uniform on balanced test)."""
        # the transform is stored on the logit, a monotone function of f that does not
        # saturate in floating point; g is therefore the same CDF
        return self.transform(self.logit(table))

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        state = {k: v.detach().cpu().tolist() for k, v in self.network.state_dict().items()}
        return {
            "format": "wimpsift.nn_discriminant", "format_version": FORMAT_VERSION,
            "mass_gev": self.mass_gev, "inputs": list(self.inputs),
            "network": {"n_inputs": self.network.n_inputs, "hidden": list(self.network.hidden),
                        "activation": self.network.activation, "state": state},
            "uniform_transform_on": "logit", "uniform_transform": self.transform.to_dict(),
            "metrics": self.metrics, "history": self.history, "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainedDiscriminant:
        if data.get("format") != "wimpsift.nn_discriminant":
            raise DataError("model: not a wimpsift neural-discriminant file")
        try:
            net_d = data["network"]
            net = DenseDiscriminantNet(int(net_d["n_inputs"]), [int(h) for h in net_d["hidden"]],
                                       net_d["activation"])
            state = {k: torch.as_tensor(v, dtype=net.state_dict()[k].dtype)
                     for k, v in net_d["state"].items()}
            net.load_state_dict(state)
            inputs = data["inputs"]
            if not isinstance(inputs, list) or len(inputs) != net.n_inputs:
                raise DataError(f"model: inputs: got {inputs!r}, expected a list of "
                                f"network.n_inputs = {net.n_inputs} column names")
            return cls(mass_gev=float(data["mass_gev"]), inputs=tuple(inputs),
                       network=net, transform=UniformTransform.from_dict(data["uniform_transform"]),
                       metrics=data.get("metrics", {}), history=data.get("history", []),
                       provenance=data.get("provenance", {}))
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"model: malformed saved discriminant: {err}") from err

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> TrainedDiscriminant:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"model: {str(path)!r} is not a file")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"model: {str(path)!r} is not valid JSON: {err}") from err
        try:
            return cls.from_dict(data)
        except DataError as err:  # named with its file
            raise DataError(f"model: {str(path)!r}: {str(err).removeprefix('model: ')}") from None


def score_column(mass_gev: float) -> str:
    """The event-table column of the score of the network for ``mass_gev``
    (``wimpsift nn evaluate`` writes it; network templates histogram it)."""
    return f"nn_score_{mass_gev:g}GeV"


def model_filename(mass_gev: float) -> str:
    return f"nn_{mass_gev:g}GeV.json"


def save_discriminants(models: dict[float, TrainedDiscriminant], folder: str | Path,
                       summary: dict[str, Any] | None = None) -> Path:
    """One JSON file per mass plus ``index.json`` (masses, files, metrics, summary)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for mass, model in models.items():
        model.save(folder / model_filename(mass))
    index = {"format": "wimpsift.nn_discriminant_set", "format_version": FORMAT_VERSION,
             "masses_gev": sorted(models), "files": {f"{m:g}": model_filename(m) for m in models},
             "metrics": {f"{m:g}": models[m].metrics for m in sorted(models)},
             "summary": summary or {}}
    return write_json(folder / "index.json", index)


def load_discriminants(folder: str | Path) -> dict[float, TrainedDiscriminant]:
    folder = Path(folder)
    index_path = folder / "index.json"
    if not index_path.is_file():
        raise DataError(f"models: {str(folder)!r} has no index.json (not a trained model set)")
    index = json.loads(index_path.read_text())
    models = {}
    for m, name in sorted(index["files"].items(), key=lambda kv: float(kv[0])):
        model = TrainedDiscriminant.load(folder / name)
        if f"{model.mass_gev:g}" != m:  # its scores are written under the index's mass (:g)
            raise DataError(f"models: {str(index_path)!r}: files: {m!r} names {name!r}, a "
                            f"network for {model.mass_gev:g} GeV/c^2, expected one for "
                            f"{float(m):g} GeV/c^2")
        models[float(m)] = model
    return models


# ---------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------
def new_network(config: DiscriminantConfig, n_inputs: int, seed: SeedLike) -> DenseDiscriminantNet:
    """A network with fresh weights from ``seed``'s child ``"weights"`` (a torch.Generator;
    torch's global generator is neither seeded nor used for them)."""
    return DenseDiscriminantNet(n_inputs, config.hidden, config.activation,
                                generator=torch_generator(seed, "weights"))


def fit_epochs(
    net: DenseDiscriminantNet, x: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int,
    config: DiscriminantConfig, seed: SeedLike,
    on_epoch: Callable[[DenseDiscriminantNet], float] | None = None,
) -> tuple[list[float], list[float]]:
    """Weighted BCE training with Adam; returns (loss per epoch, on_epoch value per epoch)."""
    gen = torch_generator(seed, "shuffle")
    xt = torch.as_tensor(x, dtype=torch.float64)
    xs = net.standardise(xt).detach()
    yt = torch.as_tensor(y, dtype=torch.float32)
    wt = torch.as_tensor(w, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.ExponentialLR(
        opt, gamma=config.final_lr_fraction ** (1.0 / max(epochs - 1, 1)))
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    losses: list[float] = []
    values: list[float] = []
    n = len(xt)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, config.batch_size):
            idx = perm[start:start + config.batch_size]
            opt.zero_grad()
            logit = net.logit_of_standardised(xs[idx])
            loss = (bce(logit, yt[idx]) * wt[idx]).sum() / wt[idx].sum()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        net.eval()
        losses.append(total / n)
        if on_epoch is not None:
            values.append(float(on_epoch(net)))
    return losses, values


def evaluate(net: DenseDiscriminantNet, x: np.ndarray, y: np.ndarray, w: np.ndarray,
             config: DiscriminantConfig, input_mi: MutualInformation | None = None,
             mi_sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """AUC, leakage at 50 % signal efficiency and input/output MI on a (test) sample;
    the MI on ``mi_sample`` (x, labels, weights) instead when given."""
    wb = balanced_weights(y, w)
    logit = net.logit(x)
    out = discrimination_summary(logit, y, wb)
    xm, ym, wm = mi_sample if mi_sample is not None else (x, y, w)
    wmb = balanced_weights(ym, wm)
    if input_mi is None:
        input_mi = mutual_information(xm, ym, wmb, k=config.mi_k, n_subsets=config.mi_subsets,
                                      seed=config.seed, stratify="auto")
    r = mutual_information(net.logit(xm) if mi_sample is not None else logit, ym, wmb, k=config.mi_k,
                           n_subsets=config.mi_subsets, seed=config.seed, stratify="auto")
    rule = mi_completion(r, input_mi, epsilon=config.mi_epsilon, n_sigma=config.mi_n_sigma,
                         max_rel_error=config.mi_max_rel_error)
    out.update({
        "input_mi_bits": input_mi.mi_bits, "input_mi_error_bits": input_mi.error_bits,
        "output_mi_bits": r.mi_bits, "output_mi_error_bits": r.error_bits,
        "mi_ratio": rule["ratio"], "mi_target_bits": rule["target_bits"],
        "mi_relative_error": rule["relative_error"], "mi_resolved": rule["resolved"],
        "mi_test_events_needed": rule["test_events_needed"], "mi_complete": rule["complete"],
        "mi_below_target": rule["below_target"],
    })
    return out


def _phases(epochs: int, focus: np.ndarray | None, fraction: float
            ) -> list[tuple[int, np.ndarray | None]]:
    """(epochs, event selection) of each phase: all, focus backgrounds only, all."""
    if focus is None or fraction <= 0 or epochs < 3:
        return [(epochs, None)]
    middle = max(1, int(round(epochs * fraction)))
    first = (epochs - middle) // 2
    return [(first, None), (middle, focus), (epochs - middle - first, None)]


def _focus_backgrounds(config: DiscriminantConfig, train: pd.DataFrame, y: np.ndarray) -> list[str]:
    """The backgrounds of the focus phase: those named, each of which must be among the
    training backgrounds (a misspelt name dropped the phase without a word), or, by
    default (None), ``wall`` where the samples hold wall events."""
    present = set(train["source"].to_numpy()[y == 0].tolist()) if "source" in train else set()
    if config.focus_backgrounds is None:
        return ["wall"] if "wall" in present else []
    missing = [name for name in config.focus_backgrounds if name not in present]
    if missing and config.focus_fraction > 0:
        raise DataError(f"focus_backgrounds: {', '.join(map(repr, missing))} not among the "
                        f"training backgrounds ({', '.join(sorted(present)) or 'none named'})")
    return list(config.focus_backgrounds)


def train_one_mass(
    mass_gev: float, table: pd.DataFrame, config: DiscriminantConfig,
    initial: DenseDiscriminantNet | None = None, log: Callable[[str], None] | None = None,
    progress: Progress | None = None, mi_table: pd.DataFrame | None = None,
) -> TrainedDiscriminant:
    """Train (and retrain if the MI criterion fails) the discriminant of one mass.

    ``initial``: network to start from (sequential transfer); None: random weights.
    ``progress`` hears of every epoch done (:mod:`wimpsift.progress`). ``mi_table``:
    events (all of them, independent of ``table``) on which the input and output MI of
    the completion rule are measured instead of the test split, so that the rule's
    1 % error can be met without shrinking the training set.
    """
    inputs = resolve_inputs(config.inputs)
    train, test = split_table(table)
    x, y, w = check_training_table(train, inputs, "train")
    focus_names = _focus_backgrounds(config, train, y)
    xt, yt, wt = check_training_table(test, inputs, "test")
    wb = balanced_weights(y, w)
    wtb = balanced_weights(yt, wt)
    mi_sample = None if mi_table is None else check_training_table(mi_table, inputs, "mi_table")
    xm, ym, wm = mi_sample if mi_sample is not None else (xt, yt, wt)
    n_signal = int(np.sum(ym == 1))
    if n_signal < 2 * (config.mi_k + 1):  # a signal too rare in the window (low masses)
        raise DataError(f"masses_gev: {mass_gev:g} GeV has {n_signal} signal events in the MI "
                        f"sample, too few for the MI check (two subsets of more than "
                        f"k={config.mi_k} each); simulate more signal (n_signal, max_simulated) "
                        "or leave the mass out")
    input_mi = mutual_information(xm, ym, balanced_weights(ym, wm), k=config.mi_k,
                                  n_subsets=config.mi_subsets, seed=config.seed, stratify="auto")
    if log is not None and len(input_mi.subset_values_bits) < config.mi_subsets:
        log(f"{mass_gev:g} GeV: {n_signal} signal events in the MI sample; its MI "
            f"errors come from {len(input_mi.subset_values_bits)} subsets split by class, not "
            f"{config.mi_subsets}")

    focus, focus_w = None, None
    if focus_names and config.focus_fraction > 0:
        focus = train["source"].isin(focus_names).to_numpy() | (y == 1)
        focus_w = balanced_weights(y[focus], w[focus])

    def test_auc(net: DenseDiscriminantNet) -> float:
        return discrimination_summary(net.logit(xt), yt, wtb)["auc"]

    attempts: list[dict[str, Any]] = []
    best: tuple[float, DenseDiscriminantNet, dict[str, Any]] | None = None
    for attempt in range(config.max_retrains + 1):
        # child (mass, attempt) of the run's seed: 50 and 50.0 GeV are the same mass
        seed = seed_sequence(config.seed, "discriminant", float(mass_gev), attempt)
        if attempt == 0 and initial is not None:
            net, init, epochs = copy.deepcopy(initial), "previous_mass", config.epochs_transfer
        else:
            net, init = new_network(config, len(inputs), seed), "random"
            epochs = config.epochs_from_scratch
            if attempt >= 2:
                epochs = int(round(epochs * config.retrain_epoch_factor ** (attempt - 1)))
        if init == "random":
            net.set_standardisation(x, wb)
        t0 = time.perf_counter()
        losses, aucs, focus_epochs = [], [], []
        done = [0]  # epochs of this attempt, across its phases
        if progress is not None:
            progress(f"{mass_gev:g} GeV/c² network, attempt {attempt}, epochs", 0, epochs)

        def on_epoch(net: DenseDiscriminantNet, attempt: int = attempt, epochs: int = epochs,
                     done: list[int] = done) -> float:
            auc = test_auc(net)
            done[0] += 1
            if progress is not None:
                progress(f"{mass_gev:g} GeV/c² network, attempt {attempt}, epochs", done[0], epochs)
            return auc

        for phase, (n_ep, sel) in enumerate(_phases(epochs, focus, config.focus_fraction)):
            if n_ep == 0:
                continue
            xs_, ys_, ws_ = (x, y, wb) if sel is None else (x[sel], y[sel], focus_w)
            if sel is not None:
                focus_epochs += list(range(len(aucs), len(aucs) + n_ep))
            lo, au = fit_epochs(net, xs_, ys_, ws_, n_ep, config, seed_sequence(seed, "phase", phase),
                                on_epoch)
            losses += lo
            aucs += au
        seconds = time.perf_counter() - t0
        metrics = evaluate(net, xt, yt, wt, config, input_mi, mi_sample)
        attempts.append({"attempt": attempt, "seed": int_seed(seed, "weights"),
                         "seed_path": ["discriminant", float(mass_gev), attempt], "init": init,
                         "epochs": epochs,
                         "seconds": seconds, "loss_per_epoch": losses, "auc_per_epoch": aucs,
                         "focus_epochs": focus_epochs,
                         **{k: metrics[k] for k in ("auc", "leakage_at_50pct_signal",
                                                    "output_mi_bits", "mi_complete")}})
        if log:
            log(f"{mass_gev:g} GeV attempt {attempt} ({init}, {epochs} epochs): "
                f"AUC {metrics['auc']:.4f}, leakage {metrics['leakage_at_50pct_signal']:.3g}, "
                f"MI out/in {metrics['output_mi_bits']:.4f}/{input_mi.mi_bits:.4f}"
                f"{'' if metrics['mi_complete'] else ' (MI criterion not met)'}")
        if best is None or metrics["output_mi_bits"] > best[0]:
            best = (metrics["output_mi_bits"], net, metrics)
        # an unresolved comparison (test set too small) is not cured by retraining
        if metrics["mi_complete"] or not metrics["mi_below_target"]:
            break
    assert best is not None
    _, net, metrics = best
    metrics = dict(metrics)
    metrics.update({"n_attempts": len(attempts), "retrained": len(attempts) > 1,
                    "n_train": int(len(y)), "n_test": int(len(yt)), "n_mi_test": int(len(ym)),
                    "training_seconds": float(sum(a["seconds"] for a in attempts))})
    transform = UniformTransform().fit(net.logit(xt), yt, wt)
    return TrainedDiscriminant(mass_gev=float(mass_gev), inputs=inputs, network=net,
                               transform=transform, metrics=metrics, history=attempts)


def train_masses(
    config: DiscriminantConfig | dict[str, Any] | None = None,
    samples: Callable[[float], pd.DataFrame] | None = None,
    log: Callable[[str], None] | None = None,
    sample_settings: dict[str, Any] | None = None,
    progress: Progress | None = None,
    detector: Any = None,
) -> dict[float, TrainedDiscriminant]:
    """Train one discriminant per mass (lowest first) and return {mass_gev: model}.

    ``samples(mass_gev)`` returns the training table of a mass (event columns plus
    ``label``, ``weight``, ``split``); by default LUX-style samples are simulated with
    :class:`wimpsift.training.samples.EventSamples` (``sample_settings`` go to its
    :class:`~wimpsift.training.samples.SampleConfig`). ``progress`` hears of every epoch.
    ``detector`` (the :class:`~wimpsift.detectors.Detector` the samples were simulated
    for; by default the simulated samples') is recorded, its whole definition, in every
    model's provenance, so a model is only applied to events of that definition.
    """
    if config is None:
        config = DiscriminantConfig()
    elif isinstance(config, dict):
        config = validated_config(**config)
    if samples is None:
        from wimpsift.training.samples import EventSamples, validated_sample_config

        provider = EventSamples(validated_sample_config(**(sample_settings or {})))
        samples = provider.for_mass
        detector = provider.detector if detector is None else detector
    models: dict[float, TrainedDiscriminant] = {}
    previous: DenseDiscriminantNet | None = None
    for mass in config.masses_gev:
        initial = previous if config.mode == "sequential" else None
        model = train_one_mass(mass, samples(mass), config, initial, log, progress)
        model.provenance = provenance(
            {"discriminant": config, "samples": sample_settings or {}, "mass_gev": mass},
            config.seed, "nn_train")
        if detector is not None:
            model.provenance["detector"] = detector.model_dump(mode="json")
        models[mass] = model
        previous = model.network
    return models


def metrics_table(models: dict[float, TrainedDiscriminant]) -> pd.DataFrame:
    """One row per mass: MI in/out with errors, AUC, leakage, attempts."""
    keys = ("input_mi_bits", "input_mi_error_bits", "output_mi_bits", "output_mi_error_bits",
            "mi_ratio", "mi_relative_error", "mi_resolved", "mi_test_events_needed", "mi_complete",
            "auc", "leakage_at_50pct_signal", "n_attempts",
            "training_seconds", "n_train", "n_test", "n_mi_test")
    rows = [{"mass_gev": m, **{k: models[m].metrics.get(k) for k in keys}} for m in sorted(models)]
    return pd.DataFrame(rows)
