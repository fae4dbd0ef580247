"""Command line: thin wrappers that parse, call the library and write results."""


def seed(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer (NumPy's seeds are)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def options(*fields: str, **spelt: str) -> dict[str, str]:
    """Configuration fields as a command's options spell them, for error messages
    (:meth:`wimpsift.config.WimpsiftConfig.from_options`): ``--`` and dashes for
    underscores (``n_toys`` → ``--n-toys``), or as ``spelt`` gives (``n_events="--events"``)."""
    return {**{f: "--" + f.replace("_", "-") for f in fields}, **spelt}
