"""``wimpsift`` entry point: one sub-command module per command group.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
sub-commands and sets ``func`` on them, and ``output_spec`` (keyword arguments of
:func:`wimpsift.provenance.guarded_output`) on those with an ``--output``: before the
command runs, its output location is checked and locked, so a bad ``-o`` fails at once
and two runs cannot write the same output. User errors (:class:`WimpsiftError`) and
operating-system errors (a full disk, a vanished folder) become a one-line message on
stderr and exit code 2, as do the parser's usage errors (a missing or mistyped option).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from wimpsift.errors import WimpsiftError, os_error_message

COMMAND_MODULES = [
    "wimpsift.cli.simulate",
    "wimpsift.cli.run",
    "wimpsift.cli.reproduce",
    "wimpsift.cli.nn",
    "wimpsift.cli.limits",
    "wimpsift.cli.images",
    "wimpsift.cli.reinterpret",
    "wimpsift.cli.sensitivity",
    "wimpsift.cli.templates",
    "wimpsift.cli.detectors",
    "wimpsift.cli.positions",
    "wimpsift.cli.cache",
]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage block is left for
    ``--help``), exit code 2; its sub-command parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from wimpsift import __version__

    parser = _Parser(
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
        rc = _run(args)
        sys.stdout.flush()  # a reader gone before a small output's only write: said here
        return rc
    except WimpsiftError as err:
        print(f"wimpsift {args.command}: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:
        if isinstance(err, BrokenPipeError) and _stdout_gone():
            return 141  # as a tool stopped by SIGPIPE: the reader wanted no more
        print(f"wimpsift {args.command}: error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wimpsift: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _stdout_gone() -> bool:
    """Whether the reader of stdout has gone (``wimpsift detectors --json | true``): a
    pipe without a reader polls as an error, without writing to it. Then stdout is pointed
    at /dev/null, so that the interpreter's last flush is silent too."""
    import os
    import select

    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        gone = any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no file behind stdout, or no poll
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return gone


def _one_line(message: str) -> str:
    """The first line of a message (a library's multi-line detail is cut, marked […])."""
    lines = [line for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return message.strip()
    return f"{lines[0].strip()} […]"


def _run(args: argparse.Namespace) -> int:
    spec = getattr(args, "output_spec", None)
    if spec is None or getattr(args, "output", None) is None:
        return int(args.func(args) or 0)
    from wimpsift.provenance import guarded_output

    with guarded_output(args.output, "--output", **spec):
        return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
