"""How the templates' Σw² (MC-statistics parameters) behave as the simulation grows.

A copy of ``xenon1t_sr0`` with ``live_days`` raised (default 10⁶, about 3×10⁴ times SR0's
exposure, so the simulation is small against the exposure), the ``cs1-cs2`` templates of
``wimpsift sensitivity`` at one mass, and for each number of simulated events per source
the median expected 90 % CL limit (asymptotic, no power constraint) with the MC-statistics
parameters (``mc_statistics=True``, the default) and without them. Each line prints both
and their ratio to the largest sample's limit without them, which stands for the infinite
simulation (with them, a limit below that reference would be optimistic).

What to look for: without Σw² small samples are optimistic (their empty bins hide
background); with Σw² every limit stays at or above the reference and approaches it as the
sample grows, not necessarily monotonically: with few events per source no ER event lands in
the signal region, whose bins then hold only the light neutron and CEvNS weights with their
own Σw², while a few hundred more events put single heavy ER events there, each with 100 %
uncertainty. The template central values, not their Σw², are what a small sample gets
wrong: the Asimov data set is drawn from the templates themselves, so no MC-statistics term
can restore background that the simulation never produced. The widening vanishes only once
the simulation outnumbers the events expected in the signal region's bins: at 10⁶ live days
about 1.9 million background events fall in the window, so even 100,000 simulated events
per source leave each signal-region bin a handful of ER events and a limit well above the
reference.

Usage: ``python benchmarks/bench_template_mc_statistics.py [--sizes 50 200 1000 5000 20000]
[--live-days 1e6] [--mass-gev 50]`` (about 3 minutes on one core for the default sizes;
add 100000 for about 4 more).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path

from _bench_cli import Parser, at_least, positive, run

from wimpsift.pipelines.sensitivity import SensitivityConfig, _samples, axis_edges, build_templates
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import LimitConfig, upper_limit

DATA_DIR = Path(str(resources.files("wimpsift.detectors") / "data"))


def detector_copy(folder: Path, live_days: float) -> Path:
    """``xenon1t_sr0.toml`` with another live time, beside its PMT positions."""
    text = (DATA_DIR / "xenon1t_sr0.toml").read_text()
    text, n = re.subn(r"(?m)^live_days = .*$", f"live_days = {live_days!r}", text)
    if n != 1:
        raise SystemExit("xenon1t_sr0.toml: expected one live_days line")
    shutil.copy(DATA_DIR / "xenon1t_pmt_positions.csv", folder)
    path = folder / "xenon1t_sr0_long.toml"
    path.write_text(text)
    return path


def median_limits_cm2(detector: Path, n: int, mass_gev: float, cache: Path) -> dict[str, float]:
    config = SensitivityConfig(detector=str(detector), analysis="cs1-cs2", events_per_source=n,
                               limits=LimitConfig(method="asymptotic"))
    samples = _samples(config, cache)
    table = samples.for_mass(mass_gev)
    edges = axis_edges("cs1-cs2", samples.detector, table, config.binning)
    templates = build_templates(table, "cs1-cs2", edges, config.sigma_ref_cm2, mass_gev,
                                config.binning, None)
    out = {}
    for mc in (True, False):
        widths = LikelihoodConfig.build(background_rel_uncertainty=config.background_rel_uncertainty,
                                        mc_statistics=mc)
        lik = BinnedLikelihood(templates, widths)
        limit = upper_limit(lik, lik.expected(lik.nominal_parameters(0.0)), config=config.limits)
        out["with_sumw2" if mc else "without_sumw2"] = float(limit.expected_mu["median"]
                                                            * config.sigma_ref_cm2)
    return out


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=at_least(11), nargs="+", default=[50, 200, 1000, 5000, 20000])
    parser.add_argument("--live-days", type=positive, default=1e6)
    parser.add_argument("--mass-gev", type=positive, default=50.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        detector = detector_copy(folder, args.live_days)
        for n in sorted(args.sizes):
            t0 = time.perf_counter()
            rows.append({"events_per_source": n,
                         **median_limits_cm2(detector, n, args.mass_gev, folder / f"cache_{n}"),
                         "seconds": round(time.perf_counter() - t0, 1)})
    reference = rows[-1]["without_sumw2"]
    for row in rows:
        row["with_over_reference"] = row["with_sumw2"] / reference
        row["without_over_reference"] = row["without_sumw2"] / reference
        print(json.dumps(row), flush=True)
    print(json.dumps({"reference": "without_sumw2 at the largest size", "reference_cm2": reference,
                      "live_days": args.live_days, "mass_gev": args.mass_gev}))


if __name__ == "__main__":
    run(main)
