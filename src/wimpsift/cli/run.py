"""``wimpsift run``: the main job on the shipped default (or a user's) configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wimpsift.errors import ConfigError, renamed


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the whole chain on a configuration (default: shipped)")
    p.add_argument("--config", help="TOML configuration; runs the stages whose tables it has "
                                    "(default: the shipped default.toml, every stage)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=_run, output_spec={"folder": True})


def _run(args: argparse.Namespace) -> int:
    from wimpsift.pipelines.main_job import run_main_job
    from wimpsift.run_config import load_run_config

    try:
        config = load_run_config(args.config)
    except ConfigError as err:
        raise renamed(err, {"config": "--config"}) from None
    report = run_main_job(config, Path(args.output))
    print(f"wrote {report}", file=sys.stderr)
    return 0
