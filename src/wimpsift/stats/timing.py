"""Time spent per analysis stage, broken down as in Table I of the LUX ML paper.

Stages: ``workspace_creation`` (templates and likelihood), ``toy_generation``,
``hypothesis_testing`` (fits of data and toys, test statistics, limits) and
``training`` (the network; none for the traditional analysis). Each stage records
CPU time (``time.process_time``, all threads of this process) and wall time
(``time.perf_counter``). Work done in other processes (Dask workers) is added with
:meth:`StageTimes.add`, from the times the workers measured themselves. Times read
back from a cache (work of an earlier, interrupted run) are also recorded in
``cached_cpu_s`` (:meth:`StageTimes.add_cached`); :func:`format_table` marks every cell
that contains some with ``*`` and says how much.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("workspace_creation", "toy_generation", "hypothesis_testing", "training")

#: our stage -> its column in the paper's Table I (``lux_paper.table_i`` of wimpsift/data/papers.toml)
PAPER_STAGE_KEYS = {"workspace_creation": "workspace", "toy_generation": "toys",
                   "hypothesis_testing": "hypothesis_testing", "training": "training"}


def paper_table_i() -> dict[str, dict[str, float]]:
    """Paper Table I, CPU hours per signal model by our stage names (0 where the paper has
    none), ``original`` (EFT analysis) and ``neural_network``, plus ``speedup`` (cpu, wall)."""
    from wimpsift.papers import paper_numbers

    paper = paper_numbers()["lux_paper"]["table_i"]
    table = {}
    for name, key in (("original", "traditional_hours"), ("neural_network", "network_hours")):
        hours = paper[key]
        table[name] = {stage: float(hours.get(column, 0.0)) for stage, column in PAPER_STAGE_KEYS.items()}
        table[name]["total"] = float(hours["total"])
    table["speedup"] = {"cpu": float(paper["speedup_cpu"]), "wall": float(paper["speedup_wall"])}
    return table


@dataclass
class StageTimes:
    """CPU and wall seconds per stage; nested stages are not double counted."""

    cpu_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    cached_cpu_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    _depth: int = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if name not in STAGES:
            raise ValueError(f"stage: got {name!r}, expected one of {STAGES}")
        if self._depth:
            yield
            return
        self._depth += 1
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu_s[name] += time.process_time() - cpu0
            self.wall_s[name] += time.perf_counter() - wall0
            self._depth -= 1

    __call__ = stage

    def add(self, other: StageTimes | Mapping[str, Mapping[str, float]], wall: bool = True) -> None:
        """Add another record (``wall=False``: CPU only, e.g. work that ran in parallel)."""
        data = other.to_dict() if isinstance(other, StageTimes) else other
        for name in STAGES:
            self.cpu_s[name] += float(data["cpu_s"].get(name, 0.0))
            if wall:
                self.wall_s[name] += float(data["wall_s"].get(name, 0.0))

    def add_cached(self, other: Mapping[str, Mapping[str, float]]) -> None:
        """Record that CPU times already added came from a cache (measured by an earlier run)."""
        for name in STAGES:
            self.cached_cpu_s[name] += float(other["cpu_s"].get(name, 0.0))

    @property
    def total_cpu_s(self) -> float:
        return float(sum(self.cpu_s.values()))

    @property
    def total_wall_s(self) -> float:
        return float(sum(self.wall_s.values()))

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"cpu_s": {**self.cpu_s, "total": self.total_cpu_s},
                "wall_s": {**self.wall_s, "total": self.total_wall_s},
                "cached_cpu_s": {**self.cached_cpu_s, "total": float(sum(self.cached_cpu_s.values()))}}


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def speedups(traditional: StageTimes, network: StageTimes) -> dict[str, float]:
    """Per-stage and total CPU speed-ups and the total wall-clock speed-up."""
    out = {f"{s}_cpu": _ratio(traditional.cpu_s[s], network.cpu_s[s]) for s in STAGES}
    out["total_cpu"] = _ratio(traditional.total_cpu_s, network.total_cpu_s)
    out["total_wall"] = _ratio(traditional.total_wall_s, network.total_wall_s)
    return out


def format_table(traditional: StageTimes, network: StageTimes, with_paper: bool = True) -> str:
    """Table I layout: CPU seconds per stage, both analyses, speed-up; the paper beside."""
    head = f"{'Analysis':<26}" + "".join(f"{s.replace('_', ' '):>20}" for s in STAGES) + \
        f"{'total CPU':>12}{'total wall':>12}"
    rows = [head, "-" * len(head)]

    def row(label: str, t: StageTimes) -> str:
        def mark(s: str) -> str:
            return "*" if t.cached_cpu_s.get(s, 0.0) > 0 else "s"

        cells = "".join(f"{t.cpu_s[s]:>19.3g}{mark(s)}" if (s != "training" or t.cpu_s[s] > 0)
                        else f"{'-':>20}" for s in STAGES)
        total_mark = "*" if sum(t.cached_cpu_s.values()) > 0 else "s"
        return f"{label:<26}{cells}{t.total_cpu_s:>11.3g}{total_mark}{t.total_wall_s:>11.3g}s"

    rows.append(row("traditional (4-D)", traditional))
    rows.append(row("network (1-D)", network))
    sp = speedups(traditional, network)
    cells = "".join(f"{sp[s + '_cpu']:>19.3g}x" if network.cpu_s[s] > 0 and traditional.cpu_s[s] > 0
                    else f"{'-':>20}" for s in STAGES)
    rows.append(f"{'speed-up':<26}{cells}{sp['total_cpu']:>11.3g}x{sp['total_wall']:>11.3g}x")
    for label, t in (("traditional", traditional), ("network", network)):
        cached = sum(t.cached_cpu_s.values())
        if cached > 0:
            rows.append(f"* {label}: {cached:.3g} s of CPU time were read from the cache of an "
                        "earlier run (resumed), not measured in this one")
    if with_paper:
        rows.append("")
        rows.append("paper Table I (CPU hours per signal model):")
        paper = paper_table_i()
        for label, key in (("original EFT analysis", "original"), ("NN case", "neural_network")):
            t = paper[key]
            cells = "".join(f"{t[s]:>19.3g}h" if t[s] > 0 else f"{'-':>20}" for s in STAGES)
            rows.append(f"{label:<26}{cells}{t['total']:>11.3g}h")
        speedup = paper["speedup"]
        rows.append(f"{'paper speed-up':<26}{'':>80}{speedup['cpu']:>11.3g}x{speedup['wall']:>11.3g}x")
    return "\n".join(rows)
