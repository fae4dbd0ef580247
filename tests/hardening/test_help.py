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


def test_reproduce_cnn_scale_help_states_the_default_runs_length():
    """The quick scale's stated length is that of the default comparison (``--backgrounds
    all``), whose stage plan holds the measured nominal times: it said "< 20 min" for a
    run of about 21 min."""
    import re

    from wimpsift.pipelines.reproduce_cnn import _plan, make_config

    reproduce = dict(_parsers(build_parser()))[("reproduce", "cnn")]
    scale = next(a for a in reproduce._actions if "--scale" in a.option_strings)
    stated = re.search(r"(<\s*)?(\d+) min", scale.help)
    nominal_min = sum(seconds for _, seconds in _plan(make_config("quick"))) / 60
    assert stated, scale.help
    bound, minutes = stated.group(1), float(stated.group(2))
    if bound:  # "< N min": a bound the run keeps
        assert nominal_min < minutes, (scale.help, nominal_min)
    else:  # "about N min"
        assert 0.8 * nominal_min <= minutes <= 1.25 * nominal_min, (scale.help, nominal_min)


def test_output_help_names_every_format_the_output_accepts():
    """An ``-o`` whose help names the formats names all that the command writes: ``bands``
    said ".png or .pdf" and writes .svg too (its description carries the provenance)."""
    for path, parser in _parsers(build_parser()):
        spec = parser.get_default("output_spec")
        suffixes = (spec or {}).get("suffixes", ())
        output = next((a for a in parser._actions if "--output" in a.option_strings), None)
        if not suffixes or output is None:
            continue
        text = (output.help or "").lower()
        assert all(s.lstrip(".") in text for s in suffixes), (path, output.help, suffixes)


def test_show_kind_help_names_every_kind_show_draws():
    """``show --kind`` draws every image kind (``event`` too) and its help names them."""
    import re

    from wimpsift.images.raster import ALL_IMAGE_KINDS

    show = dict(_parsers(build_parser()))[("show",)]
    kind = next(a for a in show._actions if "--kind" in a.option_strings)
    named = set(re.findall(r"[a-z]+", kind.help))
    assert {"figure", *ALL_IMAGE_KINDS} <= named, kind.help
