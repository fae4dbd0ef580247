"""One executor for all parallel work: keyed tasks in process or on Dask.

A :class:`Task` is a function with its arguments; :meth:`Executor.run` takes a mapping
``{key: Task}`` and yields ``(key, result)`` as tasks finish, with a progress bar. A
task may carry a :class:`~wimpsift.cache.CacheEntry`: found in the cache it is not run,
and once run its result is stored there, so an interrupted run resumes. The executor
knows nothing about what the tasks compute (grid-search trials, toy chunks, final
models); callers build the tasks.

Backends (:class:`ExecutionConfig`, ``backend``):

- ``in_process``: tasks run one after another in this process, in key order;
- ``local``: a ``dask.distributed.LocalCluster`` of ``n_workers`` processes (or threads),
  its scheduler bound to 127.0.0.1, no dashboard;
- ``scheduler``: any running Dask scheduler at ``scheduler_address``
  (``tcp://host:8786``), e.g. one started by hand with ``dask scheduler`` and
  ``dask worker`` on a cluster's nodes;
- ``jobqueue``: a dask-jobqueue cluster (Slurm, HTCondor or PBS) from the ``jobqueue``
  section: ``jobs`` batch jobs of ``cores`` cores and ``memory`` each. The scheduler
  listens on 127.0.0.1 unless ``interface`` names the network interface the compute
  nodes reach this machine by (``ib0``, ``eth0``).

A setting only other backends use (:data:`SETTING_BACKENDS`: ``n_workers`` in process,
``scheduler_address`` without ``backend = "scheduler"``, a ``jobqueue`` section without
``"jobqueue"``) is refused, never silently ignored.

The command line takes the section as a file: ``--execution cluster.toml`` with, e.g.::

    backend = "jobqueue"
    [jobqueue]
    system = "slurm"
    jobs = 10
    cores = 4
    memory = "16GB"
    interface = "ib0"

Results do not depend on the backend: every task gets its inputs (including its random
seed) from its arguments, never from where or in which order it runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tomllib
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from wimpsift.allocator import ALLOCATOR_ENV
from wimpsift.cache import CacheEntry
from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, first_line, validation_message

Backend = Literal["in_process", "local", "scheduler", "jobqueue"]

#: the backends that use a setting (``backend`` and ``progress`` serve every one); on a
#: scheduler, workers times threads are the tasks expected to run at once until its
#: workers connect (:meth:`Executor.n_slots`)
SETTING_BACKENDS: dict[str, tuple[str, ...]] = {
    "n_workers": ("local", "scheduler"),
    "threads_per_worker": ("local", "scheduler"),
    "processes": ("local",),
    "scheduler_address": ("scheduler",),
    "connect_timeout_s": ("scheduler",),
    "jobqueue": ("jobqueue",),
}

#: ``host:port`` or ``scheme://host:port`` (an IPv6 host in brackets)
_SCHEDULER_ADDRESS = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d+)")


def check_scheduler_address(address: str | None) -> str | None:
    """``address`` if it is a Dask scheduler's address with its port, else ValueError (at
    configuration time, not as a traceback from Dask once outputs exist).

    A regular expression, not ``distributed.comm.addressing.parse_host_port``: importing
    distributed to validate a configuration would add about half a second (measured
    0.59-0.73 s against 0.33 s) to every command that reads one, scheduler or not."""
    if address is None:
        return None
    match = _SCHEDULER_ADDRESS.fullmatch(address)
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise ValueError("expected host:port or scheme://host:port with an integer port "
                         "(tcp://10.0.0.5:8786)")
    return address


def connect_scheduler(address: str, timeout_s: float = 30.0,
                      parameter: str = "scheduler_address") -> Any:
    """A Dask client of the scheduler at ``address``, or a one-line ConfigError naming
    ``parameter``: whatever the connection meets (no answer, an address Dask cannot parse,
    a server that is not a scheduler, whose reply Dask reads as a frame of exabytes)."""
    from dask.distributed import Client

    try:
        return Client(address, timeout=f"{timeout_s:g}s")
    except Exception as err:  # noqa: BLE001 - a foreign server can raise anything
        reason = ("its reply is not a Dask scheduler's (Dask read it as a message of "
                  "impossible size)" if isinstance(err, MemoryError)
                  else first_line(err))
        raise ConfigError(f"{parameter}: cannot reach {address!r}: {reason}") from err


def check_scheduler_reachable(scheduler_address: str | None,
                              execution: ExecutionConfig | None = None) -> None:
    """Connect once and leave, so that a run says an unreachable scheduler before it
    writes anything: the ``execution`` section's when it runs on one (it overrides
    ``scheduler_address``), else ``scheduler_address`` (if any)."""
    if execution is not None:
        if execution.backend == "scheduler":
            assert execution.scheduler_address is not None
            connect_scheduler(execution.scheduler_address, execution.connect_timeout_s,
                              "execution").close()
    elif scheduler_address is not None:
        connect_scheduler(scheduler_address).close()


#: a Dask scheduler's address (:func:`check_scheduler_address`); None: no scheduler
SchedulerAddress = Annotated[str | None, AfterValidator(check_scheduler_address)]


class JobqueueConfig(WimpsiftConfig):
    """A dask-jobqueue cluster: ``jobs`` batch jobs of ``cores`` cores each."""

    system: Literal["slurm", "htcondor", "pbs"]
    jobs: int = Field(1, ge=1)
    cores: int = Field(1, ge=1)
    processes: int = Field(1, ge=1)
    memory: str = "4GB"
    walltime: str | None = None
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    job_extra_directives: list[str] = Field(default_factory=list)
    local_directory: str | None = None

    @model_validator(mode="after")
    def _processes(self) -> JobqueueConfig:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) must not exceed cores ({self.cores})")
        return self


class ExecutionConfig(WimpsiftConfig):
    """Where tasks run (module docstring)."""

    backend: Backend = "in_process"
    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    processes: bool = True
    scheduler_address: SchedulerAddress = None
    connect_timeout_s: float = Field(30.0, gt=0)
    jobqueue: JobqueueConfig | None = None
    progress: bool = True

    @model_validator(mode="after")
    def _sections(self) -> ExecutionConfig:
        if self.backend == "scheduler" and not self.scheduler_address:
            raise ValueError("backend 'scheduler' needs scheduler_address (tcp://host:port)")
        if self.backend == "jobqueue" and self.jobqueue is None:
            raise ValueError("backend 'jobqueue' needs a jobqueue section (system, jobs, cores, memory)")
        for key, users in SETTING_BACKENDS.items():  # a setting given is never ignored
            if (self.backend not in users and key in self.model_fields_set
                    and getattr(self, key) is not None):
                raise ValueError(f"{key}: set, but backend is {self.backend!r}; give backend = "
                                 f"{' or '.join(map(repr, users))} to use it, or remove {key}")
        return self


def execution_config(*, parallel: bool, scheduler_address: str | None = None,
                     n_workers: int = 2, threads_per_worker: int = 1, processes: bool = True,
                     jobqueue: Mapping[str, Any] | JobqueueConfig | None = None,
                     progress: bool = True) -> ExecutionConfig:
    """The configuration callers' usual options mean: a jobqueue section wins, then a
    scheduler address, then ``parallel`` (a local cluster) or in process; of the other
    values, those the chosen backend uses."""
    if jobqueue is not None:
        backend: Backend = "jobqueue"
    elif scheduler_address:
        backend = "scheduler"
    else:
        backend = "local" if parallel else "in_process"
    values = {"n_workers": n_workers, "threads_per_worker": threads_per_worker,
              "processes": processes, "scheduler_address": scheduler_address,
              "jobqueue": jobqueue}
    return ExecutionConfig.build(backend=backend, progress=progress,
                                 **{k: v for k, v in values.items()
                                    if backend in SETTING_BACKENDS[k]})


def in_process() -> Executor:
    """An executor that runs tasks here, one after another, without progress bars (the
    default of functions that take an optional executor)."""
    return Executor(execution_config(parallel=False, progress=False))


def load_execution_config(path: str | Path, parameter: str = "--execution") -> ExecutionConfig:
    """An :class:`ExecutionConfig` from a TOML or JSON file (data only, nothing executed)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{parameter}: cannot read {str(path)!r}: {err}") from err
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{parameter}: {str(path)!r} is not valid "
                          f"{'JSON' if path.suffix == '.json' else 'TOML'}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{parameter}: {str(path)!r} holds {type(data).__name__}, expected a table")
    try:
        return ExecutionConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{parameter}: {str(path)!r} is invalid: {validation_message(err)}") from err


@dataclass(frozen=True)
class Task:
    """A function and its arguments; ``cache``: where its result is kept (optional);
    ``result_keys``: the keys its result is read by (a cached result without one of them
    is damaged, and the task runs again)."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    cache: CacheEntry | None = None
    result_keys: tuple[str, ...] = ()


def jobqueue_cluster(cfg: JobqueueConfig) -> Any:
    """Start (without submitting jobs) the dask-jobqueue cluster of ``cfg``."""
    import dask_jobqueue

    cls = {"slurm": dask_jobqueue.SLURMCluster, "htcondor": dask_jobqueue.HTCondorCluster,
           "pbs": dask_jobqueue.PBSCluster}[cfg.system]
    kwargs: dict[str, Any] = {
        "cores": cfg.cores, "processes": cfg.processes, "memory": cfg.memory,
        "job_extra_directives": list(cfg.job_extra_directives),
        "scheduler_options": {"dashboard_address": "127.0.0.1:0",
                              **({"interface": cfg.interface} if cfg.interface
                                 else {"host": "127.0.0.1"})},
    }
    if cfg.interface:
        kwargs["interface"] = cfg.interface
    if cfg.walltime:
        kwargs["walltime"] = cfg.walltime
    if cfg.local_directory:
        kwargs["local_directory"] = cfg.local_directory
    if cfg.system != "htcondor":
        kwargs["queue"] = cfg.queue
        kwargs["account"] = cfg.account
    return cls(**kwargs)



def local_cluster(n_workers: int, threads_per_worker: int = 1, processes: bool = True):
    """A Dask ``LocalCluster`` reachable only from this machine.

    Scheduler, workers, nannies and the scheduler's HTTP server (dashboard, health and
    metrics routes: unauthenticated, and started by distributed even when the dashboard
    is switched off) listen on 127.0.0.1 only, the HTTP server on a free port. A user
    who wants them reachable from elsewhere starts a scheduler and passes its address
    (backend ``scheduler``).
    """
    from dask.distributed import LocalCluster

    network = {"host": "127.0.0.1"} if processes else {}
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        processes=processes, dashboard_address="127.0.0.1:0",
                        silence_logs=logging.ERROR, **network)

@contextlib.contextmanager
def allocator_environ() -> Iterator[None]:
    """Worker processes spawned inside start with the training allocator settings
    (:mod:`wimpsift.allocator`).

    A Dask nanny takes a variable already in ``os.environ`` over its
    ``pre-spawn-environ`` configuration, and leaves the values it spawned with in
    ``os.environ``: a cluster started earlier in this process with Dask's defaults
    (``MALLOC_TRIM_THRESHOLD_`` 65536) would hand those to ours. So the variables are set
    in ``os.environ`` as well while the cluster starts, and restored after.
    """
    import dask

    saved = {key: os.environ.get(key) for key in ALLOCATOR_ENV}
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **ALLOCATOR_ENV}
    os.environ.update(ALLOCATOR_ENV)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Executor:
    """Runs keyed tasks on the backend of an :class:`ExecutionConfig`.

    Use as a context manager; the cluster (if any) starts at the first task or
    :meth:`scatter` and is closed on exit.
    """

    def __init__(self, config: ExecutionConfig | None = None):
        self.config = config or ExecutionConfig()
        self.client: Any = None
        self.cluster: Any = None
        self.n_run = 0
        self.n_cached = 0
        self.from_cache: set[Hashable] = set()  # keys whose result came from the cache

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_process(self) -> bool:
        return self.config.backend == "in_process"

    def n_slots(self) -> int:
        """How many tasks run at once: 1 in process, else the threads of the workers
        connected (starting the cluster), or the configured count while a batch system
        has started none yet."""
        if self.in_process:
            return 1
        workers = self._start().scheduler_info()["workers"].values()
        running = sum(int(w.get("nthreads", 1)) for w in workers)
        if running:
            return running
        if self.config.jobqueue is not None:
            return self.config.jobqueue.jobs * self.config.jobqueue.processes
        return self.config.n_workers * self.config.threads_per_worker

    def _start(self) -> Any:
        if self.client is not None or self.in_process:
            return self.client
        from dask.distributed import Client

        cfg = self.config
        if cfg.backend == "scheduler":
            assert cfg.scheduler_address is not None
            self.client = connect_scheduler(cfg.scheduler_address, cfg.connect_timeout_s)
            return self.client
        if cfg.backend == "local":
            with allocator_environ():
                self.cluster = local_cluster(cfg.n_workers, cfg.threads_per_worker,
                                             cfg.processes)
        else:
            assert cfg.jobqueue is not None
            self.cluster = jobqueue_cluster(cfg.jobqueue)
            self.cluster.scale(jobs=cfg.jobqueue.jobs)
        self.client = Client(self.cluster)
        return self.client

    def scatter(self, value: Any) -> Any:
        """``value`` itself in process; on Dask a future of it on every worker (large
        arrays do not belong in the task graph). Each call gets its own key: with Dask's
        content hash, an array scattered again just after its first future was released
        (fitted, then predicted) shares the dying key and its tasks lose it."""
        if self.in_process:
            return value
        return self._start().scatter(value, broadcast=True, hash=False)

    def run(self, tasks: Mapping[Hashable, Task], description: str = "tasks",
            n_done: int = 0) -> Iterator[tuple[Hashable, Any]]:
        """Yield ``(key, result)`` for every task: cached ones first, then as they
        finish (in key order in process). ``n_done`` starts the progress bar (work the
        caller already has)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=n_done + len(tasks), initial=n_done, desc=description, unit="task",
                   disable=not self.config.progress)
        try:
            todo: dict[Hashable, Task] = {}
            for key, task in tasks.items():
                cached = task.cache.load(task.result_keys) if task.cache is not None else None
                if cached is None:
                    todo[key] = task
                    continue
                self.n_cached += 1
                self.from_cache.add(key)
                bar.update(1)
                yield key, cached
            for key, result in self._execute(todo):
                task = todo[key]
                if task.cache is not None:
                    task.cache.store(result)
                self.n_run += 1
                bar.update(1)
                yield key, result
        finally:
            bar.close()

    def map(self, tasks: Mapping[Hashable, Task], description: str = "tasks") -> dict[Hashable, Any]:
        """All results, in the order of ``tasks``."""
        results = dict(self.run(tasks, description))
        return {key: results[key] for key in tasks}

    def _execute(self, todo: Mapping[Hashable, Task]) -> Iterator[tuple[Hashable, Any]]:
        if not todo:
            return
        if self.in_process:
            for key, task in todo.items():
                yield key, task.function(*task.args, **task.kwargs)
            return
        from dask.distributed import as_completed

        client = self._start()
        futures = {client.submit(task.function, *task.args, pure=False, **task.kwargs): key
                   for key, task in todo.items()}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None
