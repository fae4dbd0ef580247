"""``wimpsift limits``: upper limits, discovery significance and pyhf export of templates.

The templates file is JSON, :meth:`wimpsift.stats.templates.TemplateSet.to_dict`
(``signal``, ``backgrounds``, ``shape``, ``bin_edges``, ``sigma_ref_cm2``, ``mass_gev``),
optionally with an ``observed`` list of counts. Observed counts can instead come from
``--observed FILE.json`` (a list or ``{"observed": [...]}``), from an event table
(``--events FILE.parquet [--columns COL ...]``, histogrammed in the templates' edges;
the columns default to those the templates were built from, and a simulated table's
events outside the analysis window, ``in_window`` false, are not counted, as the
templates do not hold them) or be the Asimov data set of ``--asimov-mu``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.cli import options, seed
from wimpsift.errors import ConfigError, DataError, WimpsiftError, first_line, renamed


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("limits", help="profile-likelihood limits from binned templates")
    sub = p.add_subparsers(dest="limits_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("templates", help="templates JSON (TemplateSet.to_dict)")
        data = q.add_mutually_exclusive_group()
        data.add_argument("--observed", help="observed counts JSON (list or {'observed': [...]})")
        data.add_argument("--events", help="event table (.parquet) to histogram in the templates' "
                          "bins (with an in_window column, only the events in the window count)")
        data.add_argument("--asimov-mu", type=float, help="use the Asimov data set at this strength")
        q.add_argument("--columns", nargs="+", help="event columns, one per template axis (--events; "
                       "default: the templates' columns)")
        q.add_argument("--width", type=float, default=None,
                       help="relative Gaussian width of every background normalisation (default 0.25)")
        q.add_argument("--widths", help='JSON {"background": width, ...}')
        q.add_argument("--combine-backgrounds", action="store_true",
                       help="fit one combined background (the paper's broad option)")

    c = sub.add_parser("compute", help="90%% CL upper limit with expected bands")
    common(c)
    add_limit_arguments(c)
    c.add_argument("--seed", type=seed, default=0)
    c.add_argument("-o", "--output", help="write the result JSON (with provenance) here")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=_compute, output_spec={"suffixes": (".json",)})

    d = sub.add_parser("discovery", help="discovery significance of the observed data")
    common(d)
    d.add_argument("-o", "--output", help="write the result JSON (with provenance) here")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.set_defaults(func=_discovery, output_spec={"suffixes": (".json",)})

    e = sub.add_parser("export-pyhf", help="write the model as a pyhf JSON workspace")
    common(e)
    e.add_argument("-o", "--output", required=True, help="workspace .json")
    e.set_defaults(func=_export, output_spec={"suffixes": (".json",)})
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _power_constraint(text: str | None) -> float | None:
    """``--power-constraint``: the default (Phi(-1)), a critical power, or ``none``."""
    from wimpsift.errors import bad_value
    from wimpsift.stats.limits import POWER_CONSTRAINT_MINUS_1_SIGMA

    if text is None:
        return POWER_CONSTRAINT_MINUS_1_SIGMA
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise bad_value("--power-constraint", text, "a critical power in (0, 1) or 'none'")
    return value


def add_limit_arguments(
    p: argparse.ArgumentParser, n_toys: int = 2000, n_background_toys: int = 1000
) -> None:
    """Every setting of :class:`wimpsift.stats.limits.LimitConfig`, the same for ``limits
    compute`` and ``sensitivity`` (:func:`limit_config_from_args` reads them)."""
    p.add_argument("--cl", type=float, default=0.9, help="confidence level in (0, 1) (default 0.9)")
    p.add_argument("--method", default="auto",
                   help="auto (default), asymptotic or toys. auto takes the bins holding 90%% of the "
                   "signal (best signal/background first) and counts the events expected there, "
                   "background plus signal at the asymptotic limit: toys below --asymptotic-min-events, "
                   "asymptotic formulae (Cowan et al. 1007.1727) otherwise")
    p.add_argument("--asymptotic-min-events", type=float, default=10.0,
                   help="auto: the event count below which toys are used (default 10)")
    p.add_argument("--n-toys", type=int, default=n_toys, help=f"toys per strength (toys; default {n_toys})")
    p.add_argument("--n-background-toys", type=int, default=n_background_toys,
                   help=f"background-only toys for the bands (toys; default {n_background_toys})")
    p.add_argument("--mu-grid-points", type=int, default=24,
                   help="strengths of the toy grid (toys; default 24)")
    p.add_argument("--refine-points", type=int, default=16,
                   help="strengths added around the observed toy limit (toys; 0: none; default 16)")
    p.add_argument("--power-constraint", default=None,
                   metavar="PI|none",
                   help="critical power of the power-constrained limit (Cowan et al. 1105.3166): no limit "
                   "is reported below this quantile of the background-only expected limits "
                   "(default: Phi(-1) = 0.159, the -1 sigma band; 0.5: the median; "
                   "none: no constraint). The 2021 direct-detection conventions (arXiv 2105.00599, "
                   "Sect. 2.2.1) ask for one agreed threshold: LUX's two results used different "
                   "ones, a factor ~2 on the limit. The expected bands are those of the "
                   "unconstrained limit, as collaborations draw them; an empty band is null "
                   "(see band_status)")


# LimitConfig's fields as add_limit_arguments spells them, for error messages
LIMIT_OPTIONS = options("method", "n_toys", "n_background_toys", "power_constraint",
                        "mu_grid_points", "refine_points", "asymptotic_min_events",
                        confidence_level="--cl")


def limit_config_from_args(args: argparse.Namespace, seed_value: int):
    """The :class:`~wimpsift.stats.limits.LimitConfig` of :func:`add_limit_arguments`."""
    from wimpsift.errors import bad_value
    from wimpsift.stats.limits import LimitConfig
    from wimpsift.stats.teststat import check_cl

    check_cl(args.cl, "--cl")
    power = _power_constraint(args.power_constraint)
    if args.method not in ("auto", "asymptotic", "toys"):
        raise bad_value("--method", args.method, "auto, asymptotic or toys")
    return LimitConfig.from_options(
        LIMIT_OPTIONS, confidence_level=args.cl, method=args.method, n_toys=args.n_toys,
        n_background_toys=args.n_background_toys, power_constraint=power,
        seed=seed_value, mu_grid_points=args.mu_grid_points, refine_points=args.refine_points,
        asymptotic_min_events=args.asymptotic_min_events,
    )


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

    if args.columns and not args.events:  # they would be ignored
        raise ConfigError("--columns: only with --events (the event table's columns to "
                          "histogram); the counts come from --observed, --asimov-mu or the "
                          "templates")
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
        expected = "a JSON object of background names and relative widths, e.g. '{\"er\": 0.1}'"
        try:
            widths = json.loads(args.widths)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--widths: got {args.widths!r}, not valid JSON ({err}); "
                              f"expected {expected}") from err
        if not isinstance(widths, dict):
            raise ConfigError(f"--widths: got {args.widths!r}, expected {expected}")
    option = {"background_rel_uncertainty": "--widths" if args.widths else "--width"}
    config = LikelihoodConfig.from_options(option, background_rel_uncertainty=widths)
    try:
        return BinnedLikelihood(templates, config), data
    except ConfigError as err:  # widths checked against the templates' backgrounds
        raise renamed(err, option) from None


def _check_same_detector(schema, data: dict[str, Any], path: str) -> None:
    """Events simulated for one detector do not fit templates of another (``templates``
    records its detector's name, and its definition in the provenance since the templates
    of a modified detector of the same name were taken; tables without a provenance, e.g.
    real data, are not checked)."""
    from wimpsift.io.event_tables import check_same_definition, provenance_record, recorded_detector

    if "detector" not in data:
        return
    record = provenance_record(schema.metadata, f"--events: {path!r}")  # unreadable: refused
    recorded = recorded_detector(record, f"--events: {path!r}")
    made_for = None if recorded is None else recorded.get("name")
    if made_for is not None and made_for != data["detector"]:
        raise DataError(f"--events: {path!r} was simulated for detector {made_for!r}; the templates are "
                        f"for {data['detector']!r}")
    provenance = data.get("provenance")
    definition = provenance.get("detector") if isinstance(provenance, dict) else None
    if made_for is not None and isinstance(definition, dict):  # templates written before: name only
        check_same_definition(recorded, definition, f"--events: {path!r}", "the templates'")


def _observed(args: argparse.Namespace, lik, data: dict[str, Any]) -> np.ndarray:
    if args.asimov_mu is not None:
        if not np.isfinite(args.asimov_mu) or args.asimov_mu < 0:
            raise ConfigError(f"--asimov-mu: got {args.asimov_mu!r}, expected a strength >= 0")
        return lik.expected(lik.nominal_parameters(args.asimov_mu))
    if args.events:
        import pandas as pd

        from wimpsift.events import window_mask

        edges = lik.templates.bin_edges
        if edges is None:
            raise DataError("templates: bin_edges are needed to histogram --events")
        columns = args.columns or data.get("columns")
        if not columns or len(columns) != len(edges):
            raise ConfigError(f"--columns: give {len(edges)} column(s), one per template axis")
        import pyarrow.parquet as pq

        if not Path(args.events).is_file():
            raise ConfigError(f"--events: file {args.events!r} does not exist")
        try:
            schema = pq.read_schema(args.events)
            _check_same_detector(schema, data, args.events)
            names = schema.names
            missing = [c for c in columns if c not in names]
            if missing:
                raise DataError(f"--events: {args.events!r} has no column(s) "
                                f"{', '.join(map(repr, missing))}")
            window = ["in_window"] if "in_window" in names else []
            table = pd.read_parquet(args.events, columns=list(dict.fromkeys([*columns, *window])))
        except WimpsiftError:
            raise
        except (OSError, ValueError, KeyError) as err:
            raise DataError(f"--events: cannot read columns {columns} of {args.events!r}: "
                            f"{first_line(err)}") from err
        if window:  # a simulated table holds every event; the templates only those in the window
            inside = window_mask(table, f"--events: {args.events!r}")
            if not inside.all():
                print(f"note: --events: counting the {int(inside.sum())} of {len(table)} events "
                      "in the analysis window (in_window), the selection of the templates",
                      file=sys.stderr)
            table = table[inside]
        values = np.column_stack([table[c].to_numpy(dtype=float) for c in columns])
        for i, column in enumerate(columns):
            bad = int(np.sum(~np.isfinite(values[:, i])))
            if bad:
                raise DataError(f"--events: column {column!r} has {bad} non-finite value(s) (NaN or inf) "
                                f"in {args.events!r}; expected finite values in every row")
        counts, _ = np.histogramdd(values, bins=list(edges))
        outside = len(values) - int(counts.sum())
        if outside and outside == len(values):
            raise DataError(f"--events: none of the {len(values)} events lies in the templates' bins "
                            f"of {', '.join(columns)}; expected the templates' own columns")
        if outside:
            print(f"note: --events: {outside} of {len(values)} events lie outside the templates' "
                  f"bins of {', '.join(columns)} and are not counted", file=sys.stderr)
        return counts.ravel()
    raw = _read_json(args.observed, "--observed") if args.observed else data.get("observed")
    if isinstance(raw, dict):
        raw = raw.get("observed")
    if raw is None:
        where = (f"{args.observed!r} holds no counts" if args.observed
                 else "none given and the templates hold no 'observed' counts")
        raise ConfigError(f"--observed: {where}; give --observed FILE (a list of counts or "
                          "{'observed': [...]}), --events or --asimov-mu")
    # the counts' problems said as from the file they came from: --observed or the templates'
    source = "--observed" if args.observed else "templates 'observed'"
    try:
        counts = np.asarray(raw, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise DataError(f"{source}: counts are not numeric: {err}") from err
    try:
        lik.check_data(counts)
    except DataError as err:
        raise DataError(f"{source}: {str(err).removeprefix('observed: ')}") from None
    return counts


def _inputs(args: argparse.Namespace, lik) -> dict[str, Any]:
    """What a result was computed from, for its provenance: the templates, the likelihood's
    constraints and where the observed counts came from."""
    return {"likelihood": lik.config, "templates": str(args.templates),
            "observed": {"observed": args.observed, "events": args.events, "columns": args.columns,
                         "asimov_mu": args.asimov_mu}}


def _compute(args: argparse.Namespace) -> int:
    from wimpsift.provenance import provenance, write_json
    from wimpsift.stats.limits import upper_limit

    config = limit_config_from_args(args, args.seed)
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
        "provenance": provenance({"limits": config, **_inputs(args, lik)}, args.seed, "limits"),
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
        status = result.band_status
        print("expected: " + ", ".join(f"{k} {v:.4g}" if v is not None else f"{k} none ({status[k]})"
                                       for k, v in exp.items()))
    return 0


def _discovery(args: argparse.Namespace) -> int:
    from wimpsift.provenance import provenance, write_json
    from wimpsift.stats.limits import discovery_significance

    lik, data = _likelihood(args)
    result = discovery_significance(lik, _observed(args, lik, data))
    if args.output:
        write_json(args.output, {"result": result,
                                 "provenance": provenance(_inputs(args, lik), None, "discovery")})
        print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"mu_hat = {result['mu_hat']:.4g}, Z = {result['significance_sigma']:.3f} sigma "
              f"(p0 = {result['p0']:.3g})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from wimpsift.provenance import atomic_path_with_provenance, provenance, provenance_path
    from wimpsift.stats.pyhf_export import write_workspace

    lik, data = _likelihood(args)
    observed = _observed(args, lik, data)
    record = provenance(_inputs(args, lik), None, "export-pyhf")
    with atomic_path_with_provenance(args.output, record) as tmp:
        write_workspace(tmp, lik, observed)
    print(f"wrote {args.output} and {provenance_path(args.output)}", file=sys.stderr)
    return 0
