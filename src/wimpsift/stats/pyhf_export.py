"""Export a binned model as a pyhf JSON workspace (HistFactory schema 1.0.0).

The workspace is plain JSON, so writing it needs no pyhf; reading it back needs
``pip install pyhf`` (an optional dependency). Mapping of our model:

* the signal template is a sample with a ``normfactor`` ``mu`` (bounds ``[0, mu_max]``);
* background ``k`` is a sample with a ``histosys`` modifier ``norm_<k>`` whose
  up/down templates are ``(1 ± sigma_k) b_k``. With *linear* interpolation
  (``interpcode code0``, pyhf's default for histosys; pass
  :func:`pyhf_model_settings` to be explicit) the expectation is
  ``b_k (1 + alpha sigma_k)`` with a unit Gaussian constraint on ``alpha``: our
  ``theta_k = 1 + alpha sigma_k`` with a Gaussian of width ``sigma_k``, as long as
  ``theta_k`` stays above 0 (pyhf bounds ``alpha`` to ``[-5, 5]``). pyhf's
  ``normsys`` would not do: it only interpolates exponentially or polynomially.

* where the likelihood has MC-statistics parameters, every background sample carries a
  ``staterror`` modifier ``staterror_<channel>`` with its ``sqrt(Σw²)`` per bin; pyhf
  adds them in quadrature over the samples and divides by their summed nominal
  counts, our ``delta_i``, and constrains one ``gamma_i`` per bin by a unit-mean
  Gaussian of that width. Bins where we have no gamma get a zero uncertainty, which
  pyhf fixes at 1. (The normalisation's histosys up/down templates are relative, so
  the staterror's gamma scales the same sum as ours: ``gamma_i theta_k b_ki``.)

* a shape parameter ``alpha_j`` is a ``histosys`` on the first background sample with
  ``b_1 ± d_j``: with linear interpolation pyhf adds ``alpha_j d_j``, as we do while a
  bin's background stays above its floor scale; below it our expectation is floored
  (:mod:`wimpsift.stats.likelihood`), pyhf's goes on down and turns negative, so the two
  models agree only where no bin's interpolation approaches zero. :func:`workspace_dict`
  warns, naming the parameter, the bin and the value, when that happens within pyhf's
  default bounds ``[-5, 5]``.

N-dimensional templates are flattened (C order) into one channel.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.provenance import write_json
from wimpsift.stats.likelihood import BinnedLikelihood


def pyhf_model_settings() -> dict[str, Any]:
    """``modifier_settings`` for ``workspace.model(...)`` matching our linear constraint."""
    return {"histosys": {"interpcode": "code0"}}


#: pyhf's default bounds of a histosys parameter
PYHF_ALPHA_BOUND = 5.0


def linear_zero_crossings(lik: BinnedLikelihood) -> dict[str, tuple[float, int]]:
    """Per shape parameter, the value nearest 0 (the others at 0, normalisations nominal)
    at which a bin's linearly interpolated background reaches 0, and that bin (flat
    index); parameters whose bins never reach 0 are left out."""
    templates = lik.templates
    nominal = templates.flat_backgrounds().sum(axis=0)
    out: dict[str, tuple[float, int]] = {}
    for name, delta in zip(templates.shape_names, templates.flat_shape_deltas(), strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(delta != 0, -nominal / delta, np.inf)
        if not np.any(np.isfinite(alpha)):
            continue
        i = int(np.argmin(np.abs(alpha)))
        out[name] = (float(alpha[i]), i)
    return out


def workspace_dict(
    lik: BinnedLikelihood,
    observed: np.ndarray,
    channel: str = "discriminant",
    mu_max: float | None = None,
) -> dict[str, Any]:
    """The pyhf workspace of ``lik`` with ``observed`` counts as the data."""
    counts, _ = lik.check_data(observed)
    templates = lik.templates
    for name, (alpha, i) in linear_zero_crossings(lik).items():
        if abs(alpha) < PYHF_ALPHA_BOUND:
            warnings.warn(
                f"alpha_{name}: bin {i}'s background reaches 0 at alpha = {alpha:.3g} under pyhf's "
                "linear histosys, inside its bounds [-5, 5]; wimpsift floors it there (stats.likelihood), "
                "pyhf goes negative, so the exported model differs from ours beyond that value",
                UserWarning, stacklevel=2)
    signal = templates.flat_signal()
    samples: list[dict[str, Any]] = [{
        "name": "signal",
        "data": signal.tolist(),
        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
    }]
    variances = templates.flat_background_variances()
    has_gamma = np.zeros(lik.n_bins, dtype=bool)
    has_gamma[lik.gamma_bins] = True
    n_bkg = len(lik.background_names)
    deltas = templates.flat_shape_deltas()
    for k, (name, sigma, counts_k) in enumerate(zip(
        lik.background_names, lik.sigma[:n_bkg], templates.flat_backgrounds(), strict=True
    )):
        modifiers: list[dict[str, Any]] = [{
            "name": f"norm_{name}", "type": "histosys",
            "data": {
                "hi_data": ((1.0 + float(sigma)) * counts_k).tolist(),
                "lo_data": ((1.0 - float(sigma)) * counts_k).tolist(),
            },
        }]
        if k == 0:
            # shape parameters change the total background additively: carried by the
            # first sample as symmetric histosys (pyhf adds histosys deltas)
            for shape, delta in zip(templates.shape_names, deltas, strict=True):
                modifiers.append({"name": f"alpha_{shape}", "type": "histosys", "data": {
                    "hi_data": (counts_k + delta).tolist(), "lo_data": (counts_k - delta).tolist()}})
        if lik.n_gamma and variances is not None:
            modifiers.append({"name": f"staterror_{channel}", "type": "staterror",
                              "data": np.where(has_gamma, np.sqrt(variances[k]), 0.0).tolist()})
        samples.append({"name": name, "data": counts_k.tolist(), "modifiers": modifiers})
    if mu_max is None:
        mu_max = 50.0 * (2.3 + 2.0 * np.sqrt(templates.flat_backgrounds().sum())) / max(signal.sum(), 1e-300)
    return {
        "version": "1.0.0",
        "channels": [{"name": channel, "samples": samples}],
        "observations": [{"name": channel, "data": counts.tolist()}],
        "measurements": [{
            "name": measurement_name(templates.mass_gev, templates.sigma_ref_cm2),
            "config": {
                "poi": "mu",
                "parameters": [{"name": "mu", "bounds": [[0.0, float(mu_max)]], "inits": [1.0]}],
            },
        }],
    }


def measurement_name(mass_gev: float | None, sigma_ref_cm2: float) -> str:
    """The measurement name carries what the schema has no field for: mass and mu's unit."""
    mass = "any" if mass_gev is None else f"{mass_gev:g}"
    return f"wimp_mass_gev_{mass}_mu_unit_sigma_nucleon_cm2_{sigma_ref_cm2:.6g}"


def write_workspace(path: str | Path, lik: BinnedLikelihood, observed: np.ndarray, **kwargs: Any) -> Path:
    """Write the workspace JSON atomically (pure HistFactory JSON: the schema forbids
    extra keys, so provenance belongs in a file beside it)."""
    return write_json(path, workspace_dict(lik, observed, **kwargs))
