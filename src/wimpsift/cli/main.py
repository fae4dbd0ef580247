"""``wimpsift`` entry point: one sub-command module per command group.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
sub-commands and sets ``func`` on them. User errors (:class:`WimpsiftError`) become a
one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from wimpsift.errors import WimpsiftError

COMMAND_MODULES = [
    "wimpsift.cli.simulate",
    "wimpsift.cli.run",
    "wimpsift.cli.reproduce",
    "wimpsift.cli.nn",
    "wimpsift.cli.limits",
    "wimpsift.cli.images",
    "wimpsift.cli.cache",
]


def build_parser() -> argparse.ArgumentParser:
    from wimpsift import __version__

    parser = argparse.ArgumentParser(
        prog="wimpsift",
        description="Machine-learning dark-matter searches in liquid-xenon TPCs.",
    )
    parser.add_argument("--version", action="version", version=f"wimpsift {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from wimpsift.allocator import tune_allocator

    tune_allocator()  # the application's one process-wide setting (wimpsift.allocator)
    try:
        return int(args.func(args) or 0)
    except WimpsiftError as err:
        print(f"wimpsift {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wimpsift: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
