"""Every command's ``--help`` renders, and shows its text as written.

argparse %-formats an option's help but not a parser's description unless it holds
``%(prog)``: a ``%%`` written in a description reaches the user doubled.
"""

from __future__ import annotations

import argparse

from wimpsift.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_help_renders_without_escapes():
    seen = []
    for path, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "%%" not in text and "%(" not in text, (path, text)
        seen.append(" ".join(path))
    assert {"reinterpret", "limits compute", "sensitivity", "reproduce cnn"} <= set(seen)
