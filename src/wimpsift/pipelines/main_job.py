"""The main job: simulation, expected-count table, band figure, then the enabled
reproductions, all into one output folder with an ``index.html``. The simulated event
tables are kept in the lineage cache under ``<output>/cache`` (:mod:`wimpsift.cache`), so
a rerun with the same configuration reuses them.

Progress goes to stderr: a stage overview at the start, a line per stage with the
elapsed time and an estimate of what remains, and a heartbeat in long silent stretches
(:mod:`wimpsift.pipelines.stages`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wimpsift.errors import ConfigError
from wimpsift.provenance import atomic_path, check_resources, config_hash, provenance, write_json
from wimpsift.run_config import RunConfig

#: nominal seconds of the simulation and rates stages on two cores at the shipped
#: default (measured in the main job from a fresh clone, 2026-12-02: 4 s and 2.4 s); the
#: reproductions bring their own. The estimate of what remains is rescaled by the long
#: stages already done.
NOMINAL_S = {"simulation": 5.0, "rates": 3.0, "report": 5.0}


def _plan(config: RunConfig, cnn_cfg, lux_cfg) -> list[tuple[str, float]]:
    stages = []
    if config.simulation.enabled:
        stages.append(("simulation", NOMINAL_S["simulation"] * config.simulation.events_per_source / 20_000))
    if config.rates.enabled:
        stages.append(("rates", NOMINAL_S["rates"] * config.rates.mc_events / 50_000))
    if cnn_cfg is not None:
        from wimpsift.pipelines import reproduce_cnn

        stages.append(("cnn", sum(s for _, s in reproduce_cnn._plan(cnn_cfg))))
    if lux_cfg is not None:
        from wimpsift.pipelines import reproduce_lux

        stages.append(("lux", sum(s for _, s in reproduce_lux._plan(lux_cfg))))
    stages.append(("report", NOMINAL_S["report"]))
    return stages


@contextlib.contextmanager
def _options_table(stage: str) -> Iterator[None]:
    """Name the run configuration's table in an error of a reproduction's settings."""
    try:
        yield
    except ConfigError as err:
        raise ConfigError(f"[{stage}.options] of the run configuration: {err}") from err


def _check_options(stage: str, options: dict[str, Any], fixed: dict[str, Any],
                   unused: tuple[str, ...] = ()) -> None:
    """Refuse a reproduction setting in ``[<stage>.options]`` that the main job sets itself:
    the table's own ``seed`` and ``scale`` (an options ``seed`` silently replaced the
    table's, an options ``scale`` was a TypeError traceback), ``fixed`` ones at another
    value, and ``unused`` ones (settings of what the main job does not run)."""
    with _options_table(stage):
        for key in ("seed", "scale"):
            if key in options:
                raise ConfigError(f"{key!r} is a key of the [{stage}] table itself; set {key} = ... there")
        for key, value in fixed.items():
            if key in options and options[key] != value:
                raise ConfigError(f"{key}: got {options[key]!r}, expected {value!r} (the main job's "
                                  f"{stage} stage; 'wimpsift reproduce {stage}' runs the others)")
        for key in unused:
            if key in options:
                raise ConfigError(f"{key}: not used by the main job's {stage} stage "
                                  f"('wimpsift reproduce {stage}' runs what it sets)")


def run_main_job(config: RunConfig, output: Path, progress: bool = True) -> Path:
    from wimpsift.detectors import load_detector
    from wimpsift.pipelines.stages import StagePlan
    from wimpsift.reports.index import run_timing, write_index

    if output.exists() and not output.is_dir():
        raise ConfigError(f"output: {str(output)!r} exists and is not a directory")
    _check_earlier_run(config, output)
    if config.rates.enabled:
        from wimpsift.io.event_tables import table_bytes_per_event

        check_resources("rates.mc_events",
                        memory_bytes=config.rates.mc_events * table_bytes_per_event())
    sim = config.simulation
    if sim.enabled:  # the event tables cannot fit: said before the output folder is made
        from wimpsift.io.event_tables import check_simulation_size
        from wimpsift.simulation import SimulationConfig

        check_simulation_size(sim.events_per_source, SimulationConfig.model_fields["chunk_size"].default,
                              output / "events_er.parquet", "simulation.events_per_source")
    detector = load_detector(sim.detector)
    if config.cnn.enabled:  # the index section reads the paper's WIMP-against-ER metrics
        _check_options("cnn", config.cnn.options, {"backgrounds": "er"}, ("all_backgrounds",))
    if config.lux.enabled:
        _check_options("lux", config.lux.options, {})
    if sim.enabled or config.rates.enabled:  # a WIMP too light to give recoils: said now
        from wimpsift.sources.wimp import check_wimp_masses

        check_wimp_masses([sim.wimp_mass_gev], "simulation.wimp_mass_gev")
    output.mkdir(parents=True, exist_ok=True)
    # both reproductions' settings are checked before anything is computed
    cnn_cfg = lux_cfg = None
    if config.cnn.enabled:
        from wimpsift.pipelines.reproduce_cnn import make_config as cnn_config

        # the main job's CNN stage and its index section are the paper's WIMP-against-ER
        with _options_table("cnn"):
            cnn_cfg = cnn_config(config.cnn.scale, **{"seed": config.cnn.seed, "progress": progress,
                                                      "backgrounds": "er", **config.cnn.options})
    if config.lux.enabled:
        from wimpsift.pipelines.reproduce_lux import make_config as lux_config

        with _options_table("lux"):
            lux_cfg = lux_config(config.lux.scale, **{"seed": config.lux.seed, **config.lux.options})
    run: dict[str, Any] = {"provenance": provenance(config, sim.seed, "run")}

    with StagePlan("run", _plan(config, cnn_cfg, lux_cfg), enabled=progress) as plan:

        if sim.enabled:
            with plan.stage("simulation"):
                run["simulation"] = _simulation(config, detector, output)
        if config.rates.enabled:
            with plan.stage("rates"):
                run["rates"] = _rates(config, detector, output)
        if cnn_cfg is not None:
            from wimpsift.pipelines.reproduce_cnn import run_reproduce_cnn

            with plan.stage("cnn"):
                run_reproduce_cnn(cnn_cfg, output / "cnn")
                run["cnn"] = json.loads((output / "cnn" / "metrics.json").read_text())
        if lux_cfg is not None:
            from wimpsift.pipelines.reproduce_lux import run_reproduce_lux

            with plan.stage("lux"):
                run_reproduce_lux(lux_cfg, output / "lux", progress=progress)
                run["lux"] = json.loads((output / "lux" / "metrics.json").read_text())
        with plan.stage("report"):
            # wall times go to a sidecar: index.html's bytes are the same for the same inputs
            run["stage_seconds"], run["timing"] = dict(plan.done), "timing.json"
            write_json(output / "timing.json", {"provenance": run["provenance"], **run_timing(run)})
            index = write_index(output / "index.html", run)
            write_json(output / "provenance.json", run["provenance"])
    return index


def _check_earlier_run(config: RunConfig, output: Path) -> None:
    """Refuse a folder that holds a finished run of another configuration: its files of
    stages this run skips or names differently would stay beside the new ones."""
    earlier = output / "provenance.json"
    if not earlier.is_file():
        return
    try:
        made_by = json.loads(earlier.read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        made_by = None
    if made_by is None or config_hash(made_by) != config_hash(config):
        raise ConfigError(f"output: {str(output)!r} holds a run of another configuration (its "
                          "provenance.json); choose a new folder or remove that one")


def _simulation(config: RunConfig, detector, output: Path) -> dict[str, Any]:
    import pandas as pd

    from wimpsift.cache import Cache
    from wimpsift.io.event_tables import cached_simulation
    from wimpsift.plots.bands import plot_bands
    from wimpsift.simulation import validated_config

    sim = config.simulation
    files = []
    for source in ("er", "wimp"):  # each source draws from its own child of the seed
        wimp = {"mass_gev": sim.wimp_mass_gev, "sigma_cm2": sim.sigma_cm2} if source == "wimp" else {}
        cfg = validated_config(detector=sim.detector, source=source, n_events=sim.events_per_source,
                               seed=sim.seed, **wimp)
        path = output / f"events_{source}.parquet"
        # simulated once into the lineage cache (a rerun reuses it), then published
        cached = cached_simulation(Cache(output / "cache"), cfg, detector=detector)
        with atomic_path(path) as tmp:
            shutil.copyfile(cached, tmp)
        files.append(path.name)
    er = pd.read_parquet(output / "events_er.parquet")
    wimp = pd.read_parquet(output / "events_wimp.parquet")
    plot_bands(er[er.in_window], wimp[wimp.in_window], output / "bands.png",
               f"{detector.name}: ER and {sim.wimp_mass_gev:g} GeV/c² WIMP", detector.window.cs1_max_pe,
               provenance=provenance(config, sim.seed, "bands"))
    return {"detector": detector.name, "wimp_mass_gev": sim.wimp_mass_gev, "sigma_cm2": sim.sigma_cm2,
            "events_per_source": sim.events_per_source, "figure": "bands.png", "files": files}


def _rates(config: RunConfig, detector, output: Path) -> dict[str, Any]:
    from wimpsift.rates import format_rate_table, rate_table

    sim = config.simulation
    rows = rate_table(detector, sim.wimp_mass_gev, sim.sigma_cm2, n_mc=config.rates.mc_events, seed=sim.seed)
    with atomic_path(output / "rates.txt") as tmp:
        tmp.write_text(format_rate_table(rows, detector, detector.exposure_kg_days) + "\n")
    payload = {
        "provenance": provenance(config, sim.seed, "rates"),
        "expected_events": {row.source: row.expected for row in rows},
        "efficiency": {row.source: row.efficiency for row in rows},
        "published": {row.source: row.published for row in rows if row.published is not None},
    }
    write_json(output / "rates.json", payload)
    return payload
