"""The main job: simulation, expected-count table, band figure, then the enabled
reproductions, all into one output folder with an ``index.html``."""

from __future__ import annotations

import html
from pathlib import Path

from wimpsift.errors import ConfigError
from wimpsift.provenance import atomic_path, provenance, write_json
from wimpsift.run_config import RunConfig


def run_main_job(config: RunConfig, output: Path) -> Path:
    from wimpsift.detectors import load_detector
    from wimpsift.plots.bands import plot_bands
    from wimpsift.rates import format_rate_table, rate_table
    from wimpsift.simulation import simulate_to_parquet, validated_config

    if output.exists() and not output.is_dir():
        raise ConfigError(f"output: {str(output)!r} exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    sim = config.simulation
    detector = load_detector(sim.detector)
    sections: list[tuple[str, str]] = []

    tables = {}
    if sim.enabled:
        for source in ("er", "wimp"):  # each source draws from its own child of the seed
            cfg = validated_config(
                detector=sim.detector,
                source=source,
                mass_gev=sim.wimp_mass_gev if source == "wimp" else None,
                sigma_cm2=sim.sigma_cm2,
                n_events=sim.events_per_source,
                seed=sim.seed,
            )
            path = output / f"events_{source}.parquet"
            simulate_to_parquet(cfg, path, detector=detector)
            tables[source] = path
        import pandas as pd

        er = pd.read_parquet(tables["er"])
        wimp = pd.read_parquet(tables["wimp"])
        plot_bands(
            er[er.in_window],
            wimp[wimp.in_window],
            output / "bands.png",
            f"{detector.name}: ER and {sim.wimp_mass_gev:g} GeV/c² WIMP",
            detector.window.cs1_max_pe,
        )
        sections.append(("Event-level simulation", '<img src="bands.png" width="600">'))

    if config.rates.enabled:
        rows = rate_table(
            detector, sim.wimp_mass_gev, sim.sigma_cm2, n_mc=config.rates.mc_events, seed=sim.seed
        )
        text = format_rate_table(rows, detector, detector.exposure_kg_days)
        with atomic_path(output / "rates.txt") as tmp:
            tmp.write_text(text + "\n")
        write_json(
            output / "rates.json",
            {
                "provenance": provenance(config, sim.seed, "rates"),
                "expected_events": {row.source: row.expected for row in rows},
                "efficiency": {row.source: row.efficiency for row in rows},
            },
        )
        sections.append(("Expected events (the CNN paper's Table I)", f"<pre>{html.escape(text)}</pre>"))

    if config.cnn.enabled:
        from wimpsift.pipelines.reproduce_cnn import make_config, run_reproduce_cnn

        run_reproduce_cnn(make_config(config.cnn.scale, seed=config.cnn.seed), output / "cnn")
        sections.append(("Reproduction of the CNN seed", '<a href="cnn/report.html">cnn/report.html</a>'))
    if config.lux.enabled:
        from wimpsift.pipelines.reproduce_lux import reproduce

        reproduce(config.lux.scale, output / "lux", seed=config.lux.seed)
        sections.append(("Reproduction of the LUX seed", '<a href="lux/report.html">lux/report.html</a>'))

    body = "\n".join(f"<h2>{html.escape(t)}</h2>\n{c}" for t, c in sections)
    index = output / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>wimpsift run</title>"
            f"</head><body><h1>wimpsift run</h1>\n{body}\n</body></html>\n"
        )
    write_json(output / "provenance.json", provenance(config, sim.seed, "run"))
    return index
