"""Run one function per WIMP mass on the package's executor, each finished mass kept in
the lineage cache so a stopped run resumes.

This is the one place the mass loops of ``sensitivity`` and ``reinterpret`` fan out.
The work runs on :class:`wimpsift.execution.Executor` (in process, or a local Dask
cluster bound to 127.0.0.1 when ``workers > 1``); each mass's result is an entry of
:class:`wimpsift.cache.Cache` under ``cache_root``, keyed by the stage, its version, the
validated configuration and the mass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wimpsift.cache import Cache
from wimpsift.errors import ConfigError
from wimpsift.execution import Executor, Task, execution_config
from wimpsift.provenance import _jsonable


def sorted_masses(masses: Sequence[float]) -> list[float]:
    """``--masses`` in increasing order (the order of rows and of the curves drawn); a mass
    given twice is refused: it would be computed once and written twice."""
    seen: set[float] = set()
    for mass in masses:
        if float(mass) in seen:
            raise ConfigError(f"--masses: {float(mass):g} GeV/c^2 is given twice")
        seen.add(float(mass))
    return sorted(seen)


def map_masses(
    func: Callable[..., dict[str, Any]],
    masses: Sequence[float],
    kwargs: dict[str, Any],
    cache_root: Path | None = None,
    workers: int = 1,
    progress: bool = True,
    desc: str = "masses",
    *,
    stage: str = "masses",
    stage_version: int = 1,
    config: Any = None,
    result_keys: Sequence[str] = ("mass_gev",),
) -> list[dict[str, Any]]:
    """``[func(mass, **kwargs) for mass in masses]``; with ``cache_root``, each result is
    cached under the lineage of (``stage``, ``stage_version``, ``config``, mass), and a
    cached result without one of ``result_keys`` (those its callers read) is computed again."""
    cache = None if cache_root is None else Cache(cache_root)
    tasks = {
        float(mass): Task(func, (mass,), kwargs,
                          None if cache is None else
                          cache.entry(stage, stage_version, {"config": config,
                                                             "mass_gev": float(mass)}),
                          result_keys=tuple(result_keys))
        for mass in masses
    }
    execution = execution_config(parallel=workers > 1 and len(masses) > 1,
                                 n_workers=max(1, min(workers, len(masses))), progress=progress)
    with Executor(execution) as executor:
        results = dict(executor.run(tasks, desc))
    # as the cache gives them back (JSON, sorted keys), so a resumed run writes the same bytes
    return [json.loads(json.dumps(_jsonable(results[float(m)]), sort_keys=True)) for m in masses]
