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
