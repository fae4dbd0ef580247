"""``wimpsift cache ls|clear DIR``: the lineage caches' entries (:mod:`wimpsift.cache`).

``DIR`` is a cache folder or a run's output folder: the caches in it and up to
:data:`wimpsift.cache.SEARCH_DEPTH` folders below it are listed or cleared together, each
stage named by its folder relative to ``DIR`` (``cache/simulation.events``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from wimpsift.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from wimpsift.cache import Cache

DIRECTORY_HELP = ("a run's output folder or a cache folder; the caches in it and up to "
                  "four folders below it are included")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cache", help="list or clear cached stage results")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    ls = sub.add_parser("ls", help="entries and size per stage")
    ls.add_argument("directory", help=DIRECTORY_HELP)
    ls.add_argument("--stage", help="list this stage's entries one by one")
    ls.set_defaults(func=_ls)
    clear = sub.add_parser("clear", help="remove cached entries")
    clear.add_argument("directory", help=DIRECTORY_HELP)
    clear.add_argument("--stage", help="remove only this stage's entries")
    clear.set_defaults(func=_clear)


def _caches(args: argparse.Namespace) -> tuple[Path, list[Cache]]:
    from pathlib import Path

    from wimpsift.cache import caches_in, check_stage

    root = Path(args.directory)
    if not root.is_dir():
        raise ConfigError(f"directory: {str(root)!r} is not a directory")
    if args.stage is not None:
        try:
            check_stage(args.stage)
        except ConfigError:
            raise ConfigError(f"--stage: got {args.stage!r}, expected a stage name such as "
                              "'simulation.events' (see 'wimpsift cache ls DIR')") from None
    return root, caches_in(root)


def _label(root: Path, cache: Cache, stage: str) -> str:
    """``stage`` as found from ``root``: prefixed by its cache's folder below it."""
    where = cache.root.relative_to(root).as_posix()
    return stage if where == "." else f"{where}/{stage}"


def _note_absent_stage(root: Path, caches: list[Cache], stage: str | None) -> None:
    """A stage with no entries here (a typo, or another cache folder) is said, not an error:
    clearing twice succeeds."""
    if stage is None or any(next(c.entries(stage), None) is not None for c in caches):
        return
    present = sorted({e.stage for c in caches for e in c.entries()})  # names only: no sizes
    print(f"note: no entries of stage {stage!r} in {str(root)!r} (stages there: "
          f"{', '.join(present) or 'none'})", file=sys.stderr)


def _ls(args: argparse.Namespace) -> int:
    root, caches = _caches(args)
    if args.stage is not None:
        _note_absent_stage(root, caches, args.stage)
        for cache in caches:
            for e in cache.entries(args.stage):
                versions = " ".join(f"{k}={v}" for k, v in e.record.get("versions", {}).items())
                print(f"{_label(root, cache, e.stage)}\t{e.key}\t"
                      f"v{e.record.get('stage_version')}\t{versions}")
        return 0
    print("stage\tentries\tbytes")
    for cache in caches:
        for s in cache.summary():
            print(f"{_label(root, cache, s.stage)}\t{s.n_entries}\t{s.size_bytes}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    root, caches = _caches(args)
    _note_absent_stage(root, caches, args.stage)
    n = sum(cache.clear(args.stage) for cache in caches)
    print(f"removed {n} entries", file=sys.stderr)
    return 0
