"""CPU of the vectorised toy fits on the traditional analysis' templates (the quick scale).

Builds the traditional f(r², z) × f(cS1, log10 cS2) templates of one mass from the
quick scale's LUX samples (3000 events per source, test split, 6×6×16×16 bins, one
MC-statistics gamma per bin; samples cached under ``--cache-dir``) and times

* ``qtilde_on_grid``: ``--n-toys`` background-only toys, q~ on ``--grid-points``
  strengths (the background-only toys and the event-level experiments of the
  reproduction), and
* ``build_distribution``: the Neyman construction's signal-plus-background toys on
  four strengths.

It prints process CPU seconds, the number of fits and a checksum of the q~ values (the
same on every version of the fitter that finds the same minima). The last line is JSON.
Run it on two versions of the code to compare them: the fixed command of issue 12's
speed-up is ``python benchmarks/bench_toy_fits.py`` (defaults).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _bench_cli import Parser, at_least, positive, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--mass", type=positive, default=30.0)
    p.add_argument("--n-events", type=at_least(11), default=3000, help="simulated events per source")
    p.add_argument("--n-toys", type=at_least(1), default=100)
    p.add_argument("--grid-points", type=at_least(1), default=12)
    p.add_argument("--trad-bins", type=at_least(1), nargs=4, default=[6, 6, 16, 16])
    p.add_argument("--cache-dir",
                   default=os.path.join(os.path.expanduser("~"), ".cache", "wimpsift", "bench"))
    args = p.parse_args(argv)

    from wimpsift.stats.comparison import ComparisonConfig, _inside_fraction, traditional_binning_for
    from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
    from wimpsift.stats.limits import asymptotic_expected
    from wimpsift.stats.teststat import asimov_background
    from wimpsift.stats.toys import build_distribution, qtilde_on_grid
    from wimpsift.stats.traditional import traditional_templates
    from wimpsift.training.samples import EventSamples, validated_sample_config

    samples = EventSamples(validated_sample_config(
        n_signal=args.n_events, n_background_per_source=args.n_events, seed=0,
        cache_dir=os.path.join(args.cache_dir, "samples")))
    table = samples.for_mass(args.mass)
    test = table[table["split"] == "test"]
    names = sorted(set(test.loc[test["label"] == 0, "source"]))
    expected = {n: float(table.loc[table["source"] == n, "weight"].sum()) for n in names}
    config = ComparisonConfig()
    binning = traditional_binning_for(test, samples.detector, tuple(args.trad_bins), config.variant)
    events = {n: test[test["source"] == n] for n in names}
    signal = test[test["label"] == 1]
    inside = {n: expected[n] * _inside_fraction(events[n], binning) for n in names}
    inside["signal"] = float(table.loc[table["label"] == 1, "weight"].sum()) * _inside_fraction(
        signal, binning)
    templates = traditional_templates(signal, events, inside, binning, samples.config.sigma_cm2, args.mass)
    widths = {n: config.background_rel_uncertainty.get(n, config.default_rel_uncertainty) for n in names}
    lik = BinnedLikelihood(templates, LikelihoodConfig.build(background_rel_uncertainty=widths))
    # strengths up to three times the median expected limit (asymptotic)
    median = asymptotic_expected(lik, asimov_background(lik, lik.asimov(lik.nominal_parameters())[0]),
                                 0.9, (0,))[0]
    grid = np.linspace(0.0, 3.0 * median, args.grid_points + 1)[1:]
    counts, aux = lik.sample(lik.nominal_parameters(0.0), args.n_toys, np.random.default_rng(1))
    cpu0 = time.process_time()
    on_grid = qtilde_on_grid(lik, counts, aux, grid)
    cpu_grid = time.process_time() - cpu0
    cpu0 = time.process_time()
    dist = build_distribution(lik, grid[:4], args.n_toys, np.random.default_rng(2))
    cpu_dist = time.process_time() - cpu0
    out = {"n_bins": lik.n_bins, "n_gamma": lik.n_gamma, "n_toys": args.n_toys, "grid_points": grid.size,
           "cpu_s_qtilde_on_grid": cpu_grid, "fits_qtilde_on_grid": on_grid.n_fits,
           "not_converged_qtilde_on_grid": on_grid.n_not_converged,
           "q_checksum_qtilde_on_grid": float(on_grid.q.sum()),
           "cpu_s_build_distribution": cpu_dist, "fits_build_distribution": dist.n_fits,
           "q_checksum_build_distribution": float(dist.q_sorted.sum())}
    print(f"{lik.n_bins} bins, {lik.n_gamma} gammas: q~ of {args.n_toys} toys on {grid.size} strengths "
          f"{cpu_grid:.1f} s CPU ({on_grid.n_fits} fits); Neyman toys on 4 strengths {cpu_dist:.1f} s CPU",
          file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    run(main)
