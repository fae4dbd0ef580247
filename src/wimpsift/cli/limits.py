"""``wimpsift limits``: upper limits, discovery significance and pyhf export of templates.

The templates file is JSON, :meth:`wimpsift.stats.templates.TemplateSet.to_dict`
(``signal``, ``backgrounds``, ``shape``, ``bin_edges``, ``sigma_ref_cm2``, ``mass_gev``),
optionally with an ``observed`` list of counts. Observed counts can instead come from
``--observed FILE.json`` (a list or ``{"observed": [...]}``), from an event table
(``--events FILE.parquet --columns COL ...``, histogrammed in the templates' edges) or
be the Asimov data set of ``--asimov-mu``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.cli import seed
from wimpsift.errors import ConfigError, DataError, WimpsiftError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("limits", help="profile-likelihood limits from binned templates")
    sub = p.add_subparsers(dest="limits_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("templates", help="templates JSON (TemplateSet.to_dict)")
        data = q.add_mutually_exclusive_group()
        data.add_argument("--observed", help="observed counts JSON (list or {'observed': [...]})")
        data.add_argument("--events", help="event table (.parquet) to histogram in the templates' bins")
        data.add_argument("--asimov-mu", type=float, help="use the Asimov data set at this strength")
        q.add_argument("--columns", nargs="+", help="event columns, one per template axis (--events)")
        q.add_argument("--width", type=float, default=None,
                       help="relative Gaussian width of every background normalisation (default 0.25)")
        q.add_argument("--widths", help='JSON {"background": width, ...}')
        q.add_argument("--combine-backgrounds", action="store_true",
                       help="fit one combined background (the paper's broad option)")

    c = sub.add_parser("compute", help="90%% CL upper limit with expected bands")
    common(c)
    c.add_argument("--cl", type=float, default=0.9, help="confidence level in (0, 1)")
    c.add_argument("--method", choices=["auto", "asymptotic", "toys"], default="auto",
                   help="auto (default): toys where fewer than --asymptotic-min-events are expected "
                   "in the signal region at the asymptotic limit, asymptotic formulae otherwise")
    c.add_argument("--asymptotic-min-events", type=float, default=10.0,
                   help="auto: the event count below which toys are used (default 10)")
    c.add_argument("--n-toys", type=int, default=2000, help="toys per strength (toys)")
    c.add_argument("--n-background-toys", type=int, default=1000, help="background-only toys (toys)")
    c.add_argument("--mu-grid-points", type=int, default=24, help="strengths of the toy grid (toys)")
    c.add_argument("--refine-points", type=int, default=16,
                   help="strengths added around the observed toy limit (toys; 0: none)")
    c.add_argument("--power-constraint", type=float, default=None,
                   help="critical power, e.g. 0.159 (-1 sigma, arXiv 2105.00599) or 0.5 (median)")
    c.add_argument("--seed", type=seed, default=0)
    c.add_argument("-o", "--output", help="write the result JSON (with provenance) here")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=_compute, output_spec={"suffixes": (".json",)})

    d = sub.add_parser("discovery", help="discovery significance of the observed data")
    common(d)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_discovery)

    e = sub.add_parser("export-pyhf", help="write the model as a pyhf JSON workspace")
    common(e)
    e.add_argument("-o", "--output", required=True, help="workspace .json")
    e.set_defaults(func=_export, output_spec={"suffixes": (".json",)})
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _read_json(path: str, parameter: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"{parameter}: file {path!r} does not exist") from err
    except (OSError, ValueError) as err:  # JSONDecodeError, UnicodeDecodeError
        raise DataError(f"{parameter}: {path!r} is not readable JSON: {err}") from err


def _likelihood(args: argparse.Namespace):
    from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
    from wimpsift.stats.templates import TemplateSet

    data = _read_json(args.templates, "templates")
    if not isinstance(data, dict):
        raise DataError("templates: expected a JSON object")
    try:
        templates = TemplateSet.from_dict(data)
    except WimpsiftError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise DataError(f"templates: malformed content: {err}") from err
    if args.combine_backgrounds:
        templates = templates.combined()
    widths: Any = 0.25 if args.width is None else args.width
    if args.widths:
        if args.width is not None:
            raise ConfigError("--widths: give either --width or --widths, not both")
        try:
            widths = json.loads(args.widths)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--widths: not valid JSON: {err}") from err
    config = LikelihoodConfig.build(background_rel_uncertainty=widths)
    return BinnedLikelihood(templates, config), data


def _observed(args: argparse.Namespace, lik, data: dict[str, Any]) -> np.ndarray:
    if args.asimov_mu is not None:
        if not np.isfinite(args.asimov_mu) or args.asimov_mu < 0:
            raise ConfigError(f"--asimov-mu: got {args.asimov_mu!r}, expected a strength >= 0")
        return lik.expected(lik.nominal_parameters(args.asimov_mu))
    if args.events:
        import pandas as pd

        edges = lik.templates.bin_edges
        if edges is None:
            raise DataError("templates: bin_edges are needed to histogram --events")
        if not args.columns or len(args.columns) != len(edges):
            raise ConfigError(f"--columns: give {len(edges)} column(s), one per template axis")
        import pyarrow.parquet as pq

        if not Path(args.events).is_file():
            raise ConfigError(f"--events: file {args.events!r} does not exist")
        try:
            names = pq.read_schema(args.events).names
            missing = [c for c in args.columns if c not in names]
            if missing:
                raise DataError(f"--events: {args.events!r} has no column(s) "
                                f"{', '.join(map(repr, missing))}")
            table = pd.read_parquet(args.events, columns=args.columns)
        except WimpsiftError:
            raise
        except (OSError, ValueError, KeyError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(
                f"--events: cannot read columns {args.columns} of {args.events!r}: {first}"
            ) from err
        values = np.column_stack([table[c].to_numpy(dtype=float) for c in args.columns])
        for i, column in enumerate(args.columns):
            bad = int(np.sum(~np.isfinite(values[:, i])))
            if bad:
                raise DataError(f"--events: column {column!r} has {bad} non-finite value(s) (NaN or inf) "
                                f"in {args.events!r}; expected finite values in every row")
        counts, _ = np.histogramdd(values, bins=list(edges))
        return counts.ravel()
    raw = _read_json(args.observed, "--observed") if args.observed else data.get("observed")
    if isinstance(raw, dict):
        raw = raw.get("observed")
    if raw is None:
        raise ConfigError("observed: give --observed, --events or --asimov-mu, or an 'observed' key")
    try:
        return np.asarray(raw, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise DataError(f"observed: counts are not numeric: {err}") from err


def _compute(args: argparse.Namespace) -> int:
    from wimpsift.provenance import provenance, write_json
    from wimpsift.stats.limits import LimitConfig, upper_limit
    from wimpsift.stats.teststat import check_cl

    check_cl(args.cl, "--cl")
    config = LimitConfig.build(
        confidence_level=args.cl, method=args.method, n_toys=args.n_toys,
        n_background_toys=args.n_background_toys, power_constraint=args.power_constraint, seed=args.seed,
        mu_grid_points=args.mu_grid_points, refine_points=args.refine_points,
        asymptotic_min_events=args.asymptotic_min_events,
    )
    lik, data = _likelihood(args)
    observed = _observed(args, lik, data)
    if config.method == "toys":  # one test statistic per toy and grid strength is kept
        from wimpsift.provenance import check_resources

        check_resources("--n-toys", memory_bytes=8 * config.mu_grid_points
                        * (config.n_toys + config.n_background_toys))
    result = upper_limit(lik, observed, config=config)
    events = result.extra["signal_region_events"]
    if events < args.asymptotic_min_events and args.method != "toys":
        action = "used toys" if result.method == "toys" else "the asymptotic limit is unreliable"
        print(f"note: {events:.3g} events expected in the signal region (< {args.asymptotic_min_events:g}): "
              f"asymptotic formulae do not hold, {action}", file=sys.stderr)
    payload = {
        "result": result.to_dict(),
        "provenance": provenance(
            {"limits": config, "likelihood": lik.config, "templates": str(args.templates)},
            args.seed, "limits"),
    }
    if args.output:
        write_json(args.output, payload)
        print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload["result"]))
    else:
        r = result.to_dict()
        exp = r["expected_sigma_nucleon_cm2"]
        print(f"{100 * args.cl:g}% CL upper limit ({result.method}): "
              f"sigma_nucleon_cm2 = {r['reported_sigma_nucleon_cm2']:.4g} (mu = {result.reported_mu:.4g})")
        print("expected: " + ", ".join(f"{k} {v:.4g}" for k, v in exp.items()))
    return 0


def _discovery(args: argparse.Namespace) -> int:
    from wimpsift.stats.limits import discovery_significance

    lik, data = _likelihood(args)
    result = discovery_significance(lik, _observed(args, lik, data))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"mu_hat = {result['mu_hat']:.4g}, Z = {result['significance_sigma']:.3f} sigma "
              f"(p0 = {result['p0']:.3g})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from wimpsift.stats.pyhf_export import write_workspace

    lik, data = _likelihood(args)
    path = write_workspace(args.output, lik, _observed(args, lik, data))
    print(f"wrote {path}", file=sys.stderr)
    return 0
