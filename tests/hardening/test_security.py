"""Nothing a user receives can run code; local Dask clusters listen on 127.0.0.1 only."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from wimpsift.execution import local_cluster
from wimpsift.training.grid_search import load_trial_state, run_trial

SRC = Path(__file__).resolve().parents[2] / "src" / "wimpsift"


class _Planted:
    """Unpickling this object writes a marker file (what an attacker's payload would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_planted_trial_state_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "trials" / "0123456789abcdef.pt"
    planted.parent.mkdir()
    torch.save({"epoch": 1, "payload": _Planted(marker)}, planted)
    assert not marker.exists()
    assert load_trial_state(planted) is None
    assert not marker.exists(), "loading a trial state executed code"
    # a raw pickle (not a torch zip file) is refused as well
    planted.write_bytes(pickle.dumps(_Planted(marker)))
    assert load_trial_state(planted) is None
    assert not marker.exists()


def test_genuine_trial_state_round_trips_as_plain_tensors(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 8, 8)).astype(np.float32)
    y = np.r_[np.zeros(12), np.ones(12)].astype(np.float32)
    params = {"n_conv_layers": 1, "batch_size": 8, "n_filters": 2, "dense_units": 4}
    out = run_trial(X, y, np.arange(0, 24, 2), np.arange(1, 24, 2), params, [1],
                    keep_state=True)
    path = tmp_path / "state.pt"
    torch.save(out["state"], path)
    state = load_trial_state(path)
    assert state is not None and state["epoch"] == 1
    for name, tensor in out["state"]["model"].items():
        assert torch.equal(state["model"][name], tensor)
    # the loaded state continues the training (weights_only keeps everything needed)
    more = run_trial(X, y, np.arange(0, 24, 2), np.arange(1, 24, 2), params, [2],
                     resume_from=state)
    assert more["epochs_trained"] == 1


def _local_cluster_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LocalCluster":
                calls.append((path, node))
    return calls


def test_every_local_cluster_is_bound_to_localhost_in_the_source():
    calls = _local_cluster_calls()
    assert calls, "no LocalCluster found: the audit would pass vacuously"
    for path, call in calls:
        kwargs = {k.arg: k.value for k in call.keywords}
        where = f"{path.relative_to(SRC)}:{call.lineno}"
        dashboard = kwargs.get("dashboard_address")
        assert dashboard is not None, f"{where}: dashboard_address defaults to all interfaces"
        value = ast.literal_eval(dashboard)
        assert value is None or str(value).startswith("127.0.0.1:"), f"{where}: {value!r}"
        if "host" in kwargs:
            assert ast.literal_eval(kwargs["host"]) in ("127.0.0.1", "localhost"), where


def test_local_cluster_listens_only_on_loopback():
    psutil = pytest.importorskip("psutil")
    from dask.distributed import Client

    with local_cluster(1) as cluster, Client(cluster) as client:
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1:")
        http = cluster.scheduler.services.get("dashboard")
        if http is not None:  # distributed's HTTP server (dashboard/health/metrics)
            hosts = {sock.getsockname()[0] for sock in http._sockets.values()}
            assert hosts <= {"127.0.0.1"}, hosts
        me = psutil.Process()
        listening = []
        for proc in [me, *me.children(recursive=True)]:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening.append(conn.laddr.ip)
        assert listening, "no listening socket found: the check would pass vacuously"
        assert set(listening) <= {"127.0.0.1", "::1"}, listening
