"""One exception hierarchy for wimpsift.

Every error a user can cause derives from :class:`WimpsiftError`; the command line
turns it into a one-line message and exit code 2.
"""


class WimpsiftError(Exception):
    """Base class of all wimpsift errors caused by user input or user data."""


class ConfigError(WimpsiftError, ValueError):
    """A setting, option or configuration file is invalid."""


class DataError(WimpsiftError, ValueError):
    """An input data set (table, image file, template) is unusable."""


def bad_value(parameter: str, value: object, expected: str) -> ConfigError:
    """Build a ConfigError that names the parameter, the value and what was expected."""
    return ConfigError(f"{parameter}: got {value!r}, expected {expected}")


def validation_message(err: Exception) -> str:
    """One line from a pydantic ValidationError: each problem as ``field: message (got value)``.

    The offending value is shown for scalar inputs (not for whole sections).
    """
    problems = []
    for e in err.errors():  # type: ignore[attr-defined]
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        value = e.get("input")
        got = "" if isinstance(value, dict | list) else f" (got {value!r})"
        problems.append(f"{where}: {e['msg']}{got}")
    return "; ".join(problems)
