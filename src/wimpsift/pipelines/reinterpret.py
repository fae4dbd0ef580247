"""``wimpsift reinterpret``: wimpsift's WIMP spectra folded into XENON's published
binwise likelihoods (:mod:`wimpsift.stats.reinterpret`) for many masses.

Writes ``DIR/limits.csv``, ``DIR/limits.json`` (with provenance) and
``DIR/limits.png`` (our curve beside the one shipped in ``xe-likelihood``; the
published curves are SI only). Finished masses are cached under ``DIR/.cache``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wimpsift.errors import ConfigError
from wimpsift.provenance import atomic_path, provenance, write_json
from wimpsift.sources.wimp import halo_lineage
from wimpsift.stats.reinterpret import (
    EXPERIMENTS,
    ReinterpretConfig,
    check_mass,
    limits_for_mass,
    mass_result_keys,
)

STAGE_VERSION = 2  # 2: a faster halo's spectrum is no longer cut; a non-default halo's key
# carries its spectrum's revision since (sources.wimp.halo_lineage), so later revisions need no bump


def check_masses(experiment: str, masses: Sequence[float]) -> list[float]:
    """The masses as sorted floats, each within the experiment's published range, none twice."""
    from wimpsift.pipelines.masses import sorted_masses

    if not masses:
        raise ConfigError("--masses: give at least one WIMP mass in GeV/c^2")
    return sorted_masses([check_mass(experiment, float(m)) for m in masses])


def run_reinterpret(
    config: ReinterpretConfig,
    masses: Sequence[float],
    output: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Limits for every mass; with ``output``, the files above. Returns the JSON payload."""
    from wimpsift.pipelines.masses import map_masses

    masses = check_masses(config.experiment, masses)
    out = None if output is None else Path(output)
    cache = None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--output: {str(out)!r} exists and is not a directory")
        out.mkdir(parents=True, exist_ok=True)
        cache = out / ".cache"
    rows = map_masses(limits_for_mass, masses, {"config": config}, cache, workers, progress,
                      desc=f"reinterpret {config.experiment}", stage="reinterpret.mass",
                      stage_version=STAGE_VERSION, config={"config": config, **halo_lineage(config.halo)},
                      result_keys=mass_result_keys(config.experiment))
    experiment = EXPERIMENTS[config.experiment]
    payload: dict[str, Any] = {
        "experiment": config.experiment,
        "interaction": config.interaction,
        "limits": rows,
        "source": experiment.source,
        "provenance": provenance({"reinterpret": config, "masses": masses}, None, "reinterpret"),
    }
    if out is not None:
        _write(out, payload, config)
    return payload


def _write(out: Path, payload: dict[str, Any], config: ReinterpretConfig) -> None:
    from wimpsift.plots.limits import plot_limit_curve

    rows = payload["limits"]
    keys = [k for k in rows[0] if k != "mass_gev"]
    with atomic_path(out / "limits.csv") as tmp:
        lines = [",".join(["mass_gev", *keys])]
        lines += [",".join(f"{r[k]:.6g}" for k in ["mass_gev", *keys]) for r in rows]
        tmp.write_text("\n".join(lines) + "\n")
    write_json(out / "limits.json", payload)
    central = "median_cm2" if EXPERIMENTS[config.experiment].projection else "limit_cm2"
    published = published_curves(config.experiment) if config.interaction == "si" else []
    title = f"{config.experiment} {config.interaction.upper()}, halo v0 = {config.halo.v_0_km_s:g} km/s"
    plot_limit_curve(rows, out / "limits.png", title, central, published,
                     provenance=payload["provenance"], confidence_level=config.confidence_level)


def published_curves(experiment: str) -> list[dict[str, Any]]:
    """The SI curve xe-likelihood ships for ``experiment``, as curves for
    :func:`wimpsift.plots.limits.plot_limit_curve`: the observed limit (if any) and the
    median expected one, the band on the latter."""
    from wimpsift.stats.reinterpret import published_curve

    columns = published_curve(experiment)
    curves: list[dict[str, Any]] = []
    for key in ("limit", "median"):
        if key in columns:
            curve = {"label": f"xe-likelihood {key}", "masses_gev": columns["mass_gev"],
                     "sigma_cm2": columns[key]}
            if key == "median" and "minus2" in columns:
                curve.update({f"{b}_cm2": columns[b] for b in ("minus2", "minus1", "plus1", "plus2")})
            curves.append(curve)
    return curves
