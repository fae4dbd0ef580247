"""One exception hierarchy for wimpsift.

Every error a user can cause derives from :class:`WimpsiftError`; the command line
turns it into a one-line message and exit code 2.
"""

from collections.abc import Mapping
from typing import TypeVar


class WimpsiftError(Exception):
    """Base class of all wimpsift errors caused by user input or user data."""


class ConfigError(WimpsiftError, ValueError):
    """A setting, option or configuration file is invalid."""


class DataError(WimpsiftError, ValueError):
    """An input data set (table, image file, template) is unusable."""


def bad_value(parameter: str, value: object, expected: str) -> ConfigError:
    """Build a ConfigError that names the parameter, the value and what was expected."""
    return ConfigError(f"{parameter}: got {value!r}, expected {expected}")


#: the pydantic error types of :class:`wimpsift.config.WimpsiftConfig`'s checks of one key:
#: an unknown key, a truth value where a number is expected
UNKNOWN_SETTING = "unknown_setting"
WRONG_KIND = "wrong_kind_of_value"  # true/false, a number or text where another is expected
#: the pydantic error type of a setting that has no effect unless another setting has a
#: certain value (:func:`wimpsift.config.only_with`); its context names that other setting
ONLY_WITH = "only_with"


def validation_message(err: Exception, names: Mapping[str, str] | None = None) -> str:
    """One line from a pydantic ValidationError: each problem as ``field: message (got value)``.

    The offending value is shown for scalar inputs (not for whole sections); a check whose
    own message starts with its field's name is not named twice. ``names``
    renames top-level fields, for a command whose options are spelt differently from the
    configuration's fields (``{"confidence_level": "--cl"}``).
    """
    problems = []
    for e in err.errors():  # type: ignore[attr-defined]
        loc = [str(p) for p in e["loc"]]
        value = e.get("input")
        if e["type"] in (UNKNOWN_SETTING, WRONG_KIND):  # the key is named where it is, with its value
            loc.append(e["ctx"]["setting"])
            value = value[e["ctx"]["setting"]]
        if loc and names and loc[0] in names:
            loc[0] = names[loc[0]]
        where = ".".join(loc) or "(top level)"
        got = "" if isinstance(value, dict | list) else f" (got {value!r})"
        message = e["msg"].removeprefix("Value error, ")  # pydantic's prefix of our own checks
        if e["type"] == ONLY_WITH:  # the setting it needs, spelt as the command spells it
            ctx = e["ctx"]
            other = (names or {}).get(ctx["other"], ctx["other"])
            message = f"only with {other} {ctx['value']}{ctx['detail']}"
        if e["loc"]:  # a check that names its field itself ("inputs: unknown ...")
            message = message.removeprefix(f"{e['loc'][-1]}: ")
        problems.append(f"{where}: {message}{got}")
    return "; ".join(dict.fromkeys(problems))  # two fields one option sets: said once


E = TypeVar("E", bound=WimpsiftError)


def renamed(err: E, names: Mapping[str, str]) -> E:
    """``err`` (same class) with the field its message starts with (``field: ...``) spelt as
    the command's option that set it (``names``, as in :func:`validation_message`), and so
    every field of ``names`` spelt with an underscore (``signal_energy_min_kev``: a name,
    never a word of prose) wherever the message names it; else ``err`` itself."""
    import re

    field, sep, rest = str(err).partition(": ")
    text = f"{names[field]}: {rest}" if sep and field in names else str(err)
    for name in (n for n in names if "_" in n):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", names[name], text)
    return err if text == str(err) else type(err)(text)


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (libraries' details follow it), or its
    type's name when it has none."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def os_error_message(err: OSError) -> str:
    """One line for an operating-system error met while running a command.

    A full disk (ENOSPC, EDQUOT; h5py reports it in its message only) says that
    finished work is kept and the same command resumes once space is freed.
    """
    import errno

    text = first_line(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(err):
        where = f" while writing {err.filename!r}" if err.filename else ""
        return (f"no space left on device{where}; free some space and run the same "
                "command again (finished parts are kept)")
    if err.strerror and err.filename:
        return f"{err.strerror}: {err.filename!r}"
    return text
