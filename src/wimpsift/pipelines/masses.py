"""Run one function per WIMP mass: in process, or on a local Dask cluster bound to
127.0.0.1; finished masses are cached as JSON so a stopped run resumes.

This is the one place the mass loops of ``sensitivity`` and ``reinterpret`` fan out;
it is meant to be replaced by the package's executor when that exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wimpsift.provenance import write_json


def map_masses(
    func: Callable[..., dict[str, Any]],
    masses: Sequence[float],
    kwargs: dict[str, Any],
    cache_dir: Path | None = None,
    workers: int = 1,
    progress: bool = True,
    desc: str = "masses",
) -> list[dict[str, Any]]:
    """``[func(mass, **kwargs) for mass in masses]``, results cached as ``mass_<m>.json``."""
    from tqdm.auto import tqdm

    results: dict[float, dict[str, Any]] = {}
    todo = []
    for mass in masses:
        path = None if cache_dir is None else cache_dir / f"mass_{mass:g}.json"
        if path is not None and path.is_file():
            results[mass] = json.loads(path.read_text())
        else:
            todo.append((mass, path))
    bar = tqdm(total=len(masses), initial=len(results), disable=not progress, desc=desc, unit="mass")

    def done(mass: float, path: Path | None, result: dict[str, Any]) -> None:
        results[mass] = result
        if path is not None:
            write_json(path, result)
        bar.update(1)

    try:
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
        if workers <= 1 or len(todo) <= 1:
            for mass, path in todo:
                done(mass, path, func(mass, **kwargs))
        else:
            from dask.distributed import Client, as_completed

            from wimpsift.execution import local_cluster  # every service on 127.0.0.1

            with local_cluster(min(workers, len(todo))) as cluster, Client(cluster) as client:
                futures = {client.submit(func, mass, **kwargs, pure=False): (mass, path)
                           for mass, path in todo}
                for future in as_completed(futures):
                    done(*futures[future], future.result())
    finally:
        bar.close()
    return [results[m] for m in masses]
