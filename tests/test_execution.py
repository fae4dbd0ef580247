"""The executor: a real ``dask scheduler`` with two ``dask worker`` processes on
localhost gives the in-process results; backends and their validators."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import wimpsift
from wimpsift.cache import Cache
from wimpsift.errors import ConfigError
from wimpsift.execution import ExecutionConfig, Executor, JobqueueConfig, Task, jobqueue_cluster
from wimpsift.stats.distributed import DaskConfig, limits_over_masses, toy_chunk
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import LimitConfig
from wimpsift.stats.templates import TemplateSet
from wimpsift.stats.toys import nominal_nuisances


def _model(signal: float) -> BinnedLikelihood:
    edges = np.linspace(0.0, 1.0, 9)
    centres = 0.5 * (edges[1:] + edges[:-1])
    s = np.exp(-0.5 * ((centres - 0.85) / 0.12) ** 2)
    er = np.exp(-3.0 * centres)
    templates = TemplateSet(signal=s * signal / s.sum(), backgrounds={"er": er * 80 / er.sum()},
                            bin_edges=[edges], sigma_ref_cm2=1e-46, mass_gev=50.0)
    return BinnedLikelihood(templates, LikelihoodConfig.build(background_rel_uncertainty={"er": 0.1}))


def _toy_tasks() -> dict[tuple[int, int], Task]:
    lik = _model(10.0)
    grid = [0.5, 1.0, 2.0]
    nominal = nominal_nuisances(lik, np.array([0.0, *grid]))  # toys at the nominal nuisances
    return {(m, c): Task(toy_chunk, kwargs={
        "templates": lik.templates.to_dict(), "likelihood_config": lik.config.model_dump(mode="json"),
        "mu_grid": grid, "n_toys": 50, "n_background_toys": 40, "seed": 3,
        "mass_index": m, "chunk": c, "theta": nominal.theta.tolist(), "gamma": nominal.gamma.tolist(),
    }) for m in range(2) for c in range(2)}


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """``dask scheduler`` and two single-threaded ``dask worker`` processes on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    src = str(Path(wimpsift.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    dask = [sys.executable, "-m", "dask"]
    log = open(folder / "dask.log", "w")  # noqa: SIM115 - closed in the teardown
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail("dask scheduler did not start: " + (folder / "dask.log").read_text())
            time.sleep(0.2)
        for i in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                 "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{i}",
                 "--local-directory", str(folder / f"w{i}")],
                env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT))
        from dask.distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            address = client.scheduler.address
            assert len(client.scheduler_info()["workers"]) == 2
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_scheduler_with_two_workers_gives_the_in_process_results(scheduler_address):
    tasks = _toy_tasks()
    with Executor(ExecutionConfig.build(progress=False)) as executor:
        local = executor.map(tasks)
    remote_cfg = ExecutionConfig.build(backend="scheduler", scheduler_address=scheduler_address,
                                       progress=False)
    with Executor(remote_cfg) as executor:
        remote = executor.map(tasks)
        workers = executor.client.scheduler_info()["workers"]
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    # the workers connected, one thread each, not the configured count
    with Executor(remote_cfg.model_copy(update={"n_workers": 5})) as executor:
        assert executor.n_slots() == 2
    assert Executor(ExecutionConfig.build(progress=False)).n_slots() == 1
    assert list(remote) == list(tasks)
    for key in tasks:
        np.testing.assert_array_equal(remote[key]["q_sb"], local[key]["q_sb"])
        np.testing.assert_array_equal(remote[key]["q_b"], local[key]["q_b"])
    # different chunks draw different toys (their seeds are spawned, not shared)
    assert not np.array_equal(local[(0, 0)]["q_b"], local[(0, 1)]["q_b"])


@pytest.mark.slow
def test_limits_on_the_scheduler_equal_the_in_process_limits(scheduler_address):
    models = {10.0: _model(6.0), 100.0: _model(12.0)}
    observed = {m: np.round(lik.expected(lik.nominal_parameters(0.0))) for m, lik in models.items()}
    cfg = LimitConfig.build(method="toys", n_toys=150, n_background_toys=150, mu_grid_points=8, seed=2)
    sync = limits_over_masses(models, observed, cfg, DaskConfig.build(synchronous=True, progress=False))
    remote = limits_over_masses(models, observed, cfg, DaskConfig.build(
        progress=False, execution=ExecutionConfig(backend="scheduler",
                                                  scheduler_address=scheduler_address)))
    for m in models:
        # an empty band is NaN on both sides (band_status says why): compare with NaN == NaN
        assert remote[m].expected_mu.keys() == sync[m].expected_mu.keys()
        np.testing.assert_array_equal(list(remote[m].expected_mu.values()),
                                      list(sync[m].expected_mu.values()))
        assert remote[m].band_status == sync[m].band_status
        np.testing.assert_array_equal(remote[m].observed_mu, sync[m].observed_mu)


@pytest.mark.slow
def test_simulation_chunks_on_the_scheduler_give_the_in_process_file(scheduler_address, tmp_path):
    from wimpsift.io.event_tables import simulate_to_parquet
    from wimpsift.simulation import validated_config

    cfg = validated_config(detector="xenon1t_sr0", source="er", n_events=600, chunk_size=200, seed=4)
    local = simulate_to_parquet(cfg, tmp_path / "local.parquet", progress=False)
    remote_cfg = ExecutionConfig.build(backend="scheduler", scheduler_address=scheduler_address)
    remote = simulate_to_parquet(cfg, tmp_path / "remote.parquet", progress=False,
                                 execution=remote_cfg)
    assert remote.read_bytes() == local.read_bytes()  # three chunks, written as they finish


def test_cached_tasks_are_not_run_again(tmp_path):
    cache = Cache(tmp_path)
    tasks = {k: Task(t.function, kwargs=t.kwargs, cache=cache.entry("stats.toy_chunk", 1, t.kwargs))
             for k, t in _toy_tasks().items()}
    with Executor(ExecutionConfig.build(progress=False)) as executor:
        first = executor.map(tasks)
        assert (executor.n_run, executor.n_cached) == (4, 0)
    with Executor(ExecutionConfig.build(progress=False)) as executor:
        again = executor.map(tasks)
        assert (executor.n_run, executor.n_cached) == (0, 4)
    for key in tasks:
        np.testing.assert_array_equal(again[key]["q_sb"], first[key]["q_sb"])
        assert again[key]["times"] == first[key]["times"]


def _malloc_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}


def test_local_cluster_binds_to_localhost_and_its_workers_get_the_allocator_settings():
    from wimpsift.allocator import ALLOCATOR_ENV

    cfg = ExecutionConfig.build(backend="local", n_workers=1, progress=False)
    with Executor(cfg) as executor:
        executor.scatter(np.arange(3))
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in executor.client.scheduler_info()["workers"])
        # one arena too: a worker thread's own arena maps and unmaps every batch's
        # activations above 64 MB (wimpsift.allocator)
        seen = executor.map({"env": Task(_malloc_environ, ())})["env"]
    assert seen == ALLOCATOR_ENV and seen["MALLOC_ARENA_MAX"] == "1"


def test_workers_get_the_allocator_settings_after_a_cluster_with_dask_defaults(monkeypatch):
    """Dask's nanny prefers os.environ to its configuration and leaves what it spawned
    with there: a default cluster started before ours must not decide our workers' values."""
    from wimpsift.allocator import ALLOCATOR_ENV

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what a default nanny leaves
    cfg = ExecutionConfig.build(backend="local", n_workers=1, progress=False)
    with Executor(cfg) as executor:
        seen = executor.map({"env": Task(_malloc_environ, ())})["env"]
    assert seen == ALLOCATOR_ENV
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process's own, restored


@pytest.mark.parametrize("system, directive", [("slurm", "#SBATCH"), ("pbs", "#PBS")])
def test_jobqueue_section_builds_a_batch_script(system, directive):
    cfg = JobqueueConfig.build(system=system, jobs=3, cores=4, processes=2, memory="8GB",
                               walltime="01:00:00", queue="short")
    cluster = jobqueue_cluster(cfg)
    try:
        script = cluster.job_script()
        assert directive in script and "short" in script and "01:00:00" in script
        assert "--nworkers 2" in script and "--nthreads 2" in script
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    finally:
        cluster.close()


def test_execution_validators():
    with pytest.raises(ConfigError, match="scheduler_address"):
        ExecutionConfig.build(backend="scheduler")
    with pytest.raises(ConfigError, match="jobqueue"):
        ExecutionConfig.build(backend="jobqueue")
    with pytest.raises(ConfigError, match="system"):
        JobqueueConfig.build(system="lsf")
    with pytest.raises(ConfigError, match="processes"):
        JobqueueConfig.build(system="slurm", cores=1, processes=2)
    with pytest.raises(ConfigError, match="n_workers"):
        ExecutionConfig.build(backend="local", n_workers=0)
    with pytest.raises(ConfigError, match="scheduler_address"), Executor(ExecutionConfig.build(
            backend="scheduler", scheduler_address="tcp://127.0.0.1:1", connect_timeout_s=2,
            progress=False)) as ex:
        ex.scatter(1)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "10.0.0.5:8786", "node-1:8786",
                                     "tls://scheduler.example.org:8786", "tcp://[::1]:8786"])
def test_scheduler_addresses_with_a_port_are_accepted(address):
    assert ExecutionConfig.build(backend="scheduler", scheduler_address=address).scheduler_address == address
    assert DaskConfig.build(scheduler_address=address).scheduler_address == address


@pytest.mark.parametrize("address", ["notanaddress", "tcp://host", "host:port", "host:99999",
                                     "tcp://:8786", ""])
def test_a_scheduler_address_without_its_port_is_refused_when_configured(address):
    with pytest.raises(ConfigError, match="scheduler_address: expected host:port"):
        ExecutionConfig.build(backend="scheduler", scheduler_address=address)
    with pytest.raises(ConfigError, match="scheduler_address: expected host:port"):
        DaskConfig.build(scheduler_address=address)


def test_an_address_dask_cannot_parse_is_a_config_error_when_connecting():
    """The executor's fallback for a configuration built without validation."""
    cfg = ExecutionConfig.model_construct(backend="scheduler", scheduler_address="notanaddress",
                                          connect_timeout_s=2.0, progress=False)
    with pytest.raises(ConfigError, match="scheduler_address: cannot reach 'notanaddress'"), \
            Executor(cfg) as ex:
        ex.scatter(1)


@pytest.mark.parametrize("argv", [
    ["simulate", "-s", "er", "--events", "10", "--seed", "1", "--execution", "{ex}",
     "-o", "{tmp}/x.parquet"],
    ["reproduce", "cnn", "--scheduler-address", "notanaddress", "-o", "{tmp}/cnn"],
    ["reproduce", "lux", "--scheduler-address", "notanaddress", "-o", "{tmp}/lux"],
])
def test_a_scheduler_address_without_port_is_one_line_before_any_output(argv, tmp_path, capsys):
    from wimpsift.cli.main import main

    execution = tmp_path / "ex.toml"
    execution.write_text('backend = "scheduler"\nscheduler_address = "notanaddress"\n')
    out = tmp_path / "out"
    out.mkdir()
    capsys.readouterr()
    assert main([a.replace("{ex}", str(execution)).replace("{tmp}", str(out)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scheduler-address" in err[0].replace("_", "-"), err
    assert "expected host:port" in err[0] and "notanaddress" in err[0], err
    assert list(out.iterdir()) == []


def test_execution_file_for_the_command_line(tmp_path, capsys):
    from wimpsift.cli.main import main
    from wimpsift.execution import load_execution_config

    good = tmp_path / "cluster.toml"
    good.write_text('backend = "jobqueue"\n[jobqueue]\nsystem = "htcondor"\njobs = 4\ncores = 2\n')
    cfg = load_execution_config(good)
    assert cfg.backend == "jobqueue" and cfg.jobqueue.system == "htcondor" and cfg.jobqueue.jobs == 4
    bad = tmp_path / "bad.toml"
    bad.write_text('backend = "jobqueue"\n[jobqueue]\nsystem = "lsf"\n')
    for analysis in ("cnn", "lux"):
        out = tmp_path / f"out_{analysis}"
        assert main(["reproduce", analysis, "--execution", str(bad), "-o", str(out)]) == 2
        assert "jobqueue.system" in capsys.readouterr().err
        assert not out.exists()
    assert main(["reproduce", "lux", "--execution", str(tmp_path / "none.toml"), "-o",
                 str(tmp_path / "o")]) == 2
    assert "--execution" in capsys.readouterr().err


def test_the_scheduler_checked_before_a_run_is_the_one_it_will_use(monkeypatch):
    """An execution section on another backend leaves the run's stale address unused:
    nothing is reached (it waited and failed); on the scheduler backend its address is,
    named as the section's."""
    import wimpsift.execution as execution
    from wimpsift.errors import ConfigError
    from wimpsift.execution import ExecutionConfig, check_scheduler_reachable

    stale = ExecutionConfig.build(backend="local")
    with monkeypatch.context() as m:
        m.setattr(execution, "connect_scheduler", lambda *a: pytest.fail(f"reached {a}"))
        check_scheduler_reachable("tcp://127.0.0.1:1", stale)  # the section overrides it
    used = ExecutionConfig.build(backend="scheduler", scheduler_address="tcp://127.0.0.1:1",
                                 connect_timeout_s=2.0)
    with pytest.raises(ConfigError, match=r"^execution: cannot reach 'tcp://127\.0\.0\.1:1'"):
        check_scheduler_reachable(None, used)


@pytest.mark.parametrize(("text", "key", "backend"), [
    ("n_workers = 4\n", "n_workers", "local"),
    ('scheduler_address = "tcp://10.0.0.5:8786"\n', "scheduler_address", "scheduler"),
    ('[jobqueue]\nsystem = "slurm"\njobs = 2\n', "jobqueue", "jobqueue"),
    ('backend = "local"\nconnect_timeout_s = 5\n', "connect_timeout_s", "scheduler"),
    ('backend = "scheduler"\nscheduler_address = "tcp://10.0.0.5:8786"\nprocesses = false\n',
     "processes", "local"),
], ids=["n_workers", "scheduler_address", "jobqueue", "timeout_on_local", "processes_on_scheduler"])
def test_an_execution_setting_its_backend_does_not_use_is_refused(tmp_path, capsys, text, key,
                                                                  backend):
    """Not silently run in process (or on the backend given): one line naming the key and
    the backend that uses it, exit 2, nothing written."""
    from wimpsift.cli.main import main

    execution = tmp_path / "ex.toml"
    execution.write_text(text)
    out = tmp_path / "er.parquet"
    capsys.readouterr()
    assert main(["simulate", "-d", "lux_2013", "--source", "er", "--events", "20", "--seed", "2",
                 "--execution", str(execution), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--execution" in err[0], err
    assert f"{key}: set, but backend is" in err[0] and f"backend = {backend!r}" in err[0], err
    assert list(tmp_path.iterdir()) == [execution]


def test_the_options_execution_config_reads_build_every_backend():
    from wimpsift.execution import execution_config

    assert execution_config(parallel=False, n_workers=1).backend == "in_process"
    assert execution_config(parallel=True, n_workers=3).n_workers == 3
    remote = execution_config(parallel=True, scheduler_address="tcp://10.0.0.5:8786", n_workers=3)
    assert remote.backend == "scheduler" and remote.scheduler_address == "tcp://10.0.0.5:8786"
    assert remote.n_workers == 3  # the slots expected until the scheduler's workers connect
    batch = execution_config(parallel=True, scheduler_address="tcp://10.0.0.5:8786",
                             jobqueue={"system": "slurm"})
    assert batch.backend == "jobqueue" and batch.jobqueue.system == "slurm"
