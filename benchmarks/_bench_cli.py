"""Bad input to a benchmark: one line on stderr naming the option, exit code 2, as the
``wimpsift`` command line answers it (:mod:`wimpsift.cli.main`).

* :class:`Parser`: an argument parser whose usage errors are one line;
* :func:`at_least`, :func:`positive`, :func:`fraction`: argparse types for counts, sizes
  and shares, so a bad one is refused before any work starts;
* :func:`run`: runs a script's ``main`` and turns the library's input errors
  (:class:`wimpsift.errors.WimpsiftError`, a settings model's ``ValidationError``) and
  operating-system errors (a missing run folder, an unwritable output) into that line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (the usage block is left for ``--help``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


def _number(text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``."""
    def check(text: str) -> int:
        value = int(_number(text, int))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    check.__name__ = f"integer >= {minimum}"
    return check


def positive(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(_number(text, float))
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse type: a share in (0, 1]."""
    value = float(_number(text, float))
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def run(main: Callable[[], int | None]) -> NoReturn:
    """Exit with ``main()``'s code; a wimpsift input error is one line and exit code 2."""
    from pydantic import ValidationError

    from wimpsift.errors import WimpsiftError, os_error_message, validation_message

    prog = os.path.basename(sys.argv[0])
    try:
        code = main()
    except WimpsiftError as err:
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
    except ValidationError as err:
        print(f"{prog}: error: {validation_message(err)}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:
        print(f"{prog}: error: {os_error_message(err)}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
