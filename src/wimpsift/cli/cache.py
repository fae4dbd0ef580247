"""``wimpsift cache ls|clear DIR``: the lineage cache's entries (:mod:`wimpsift.cache`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from wimpsift.errors import ConfigError

if TYPE_CHECKING:
    from wimpsift.cache import Cache


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cache", help="list or clear cached stage results")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    ls = sub.add_parser("ls", help="entries and size per stage")
    ls.add_argument("directory", help="cache directory (a run's --cache-dir, or DIR/search)")
    ls.add_argument("--stage", help="list this stage's entries one by one")
    ls.set_defaults(func=_ls)
    clear = sub.add_parser("clear", help="remove cached entries")
    clear.add_argument("directory", help="cache directory")
    clear.add_argument("--stage", help="remove only this stage's entries")
    clear.set_defaults(func=_clear)


def _cache(args: argparse.Namespace) -> Cache:
    from pathlib import Path

    from wimpsift.cache import Cache, check_stage

    root = Path(args.directory)
    if not root.is_dir():
        raise ConfigError(f"directory: {str(root)!r} is not a directory")
    if args.stage is not None:
        try:
            check_stage(args.stage)
        except ConfigError:
            raise ConfigError(f"--stage: got {args.stage!r}, expected a stage name such as "
                              "'simulation.events' (see 'wimpsift cache ls DIR')") from None
    return Cache(root)


def _note_absent_stage(cache: Cache, stage: str | None) -> None:
    """A stage with no entries here (a typo, or another cache folder) is said, not an error:
    clearing twice succeeds."""
    if stage is None or next(cache.entries(stage), None) is not None:
        return
    present = sorted({e.stage for e in cache.entries()})  # names only: no file sizes
    if stage not in present:
        print(f"note: no entries of stage {stage!r} in {str(cache.root)!r} (stages there: "
              f"{', '.join(present) or 'none'})", file=sys.stderr)


def _ls(args: argparse.Namespace) -> int:
    cache = _cache(args)
    if args.stage is not None:
        _note_absent_stage(cache, args.stage)
        for e in cache.entries(args.stage):
            versions = " ".join(f"{k}={v}" for k, v in e.record.get("versions", {}).items())
            print(f"{e.stage}\t{e.key}\tv{e.record.get('stage_version')}\t{versions}")
        return 0
    print("stage\tentries\tbytes")
    for s in cache.summary():
        print(f"{s.stage}\t{s.n_entries}\t{s.size_bytes}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    cache = _cache(args)
    _note_absent_stage(cache, args.stage)
    n = cache.clear(args.stage)
    print(f"removed {n} entries", file=sys.stderr)
    return 0
