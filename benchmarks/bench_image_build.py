"""Benchmark: an image dataset built in process against the same one on a local cluster.

Builds one dataset (WIMP against ER, every image kind) twice in the same run: in this
process, then with its chunks simulated on ``--workers`` local Dask processes
(:func:`wimpsift.images.dataset.build_image_dataset` with an ``execution``). Prints each
wall time, their ratio (the speed-up) and whether the two files hold the same chunk
digests, images, hit patterns and event table, bit for bit: they must, or the script
exits 1.

Usage::

    python benchmarks/bench_image_build.py [--events-per-class 2048] [--workers 2]

The last line of the output is JSON. The in-process build uses as many BLAS threads as
the machine gives it; the two matrix products that would depend on that run on one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def _same(a: Path, b: Path) -> bool:
    import h5py
    import numpy as np

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        keys = ["label", "chunk_digest", "pmt/s1_area_pe", "pmt/s2_area_pe",
                *(f"images/{k}" for k in fa["images"]), *(f"events/{c}" for c in fa["events"])]
        return set(fa["events"]) == set(fb["events"]) and all(
            np.array_equal(fa[k][()], fb[k][()]) for k in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events-per-class", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.events_per_class < 1 or args.workers < 2:
        print("--events-per-class: expected >= 1; --workers: expected >= 2", file=sys.stderr)
        return 2

    from wimpsift.execution import execution_config
    from wimpsift.images.dataset import build_image_dataset

    settings = {"events_per_class": args.events_per_class, "seed": args.seed,
                "progress": False}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        here = build_image_dataset(Path(tmp) / "here.h5", "xenon1t_sr0", **settings)
        serial_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        there = build_image_dataset(
            Path(tmp) / "there.h5", "xenon1t_sr0", **settings,
            execution=execution_config(parallel=True, n_workers=args.workers, progress=False))
        parallel_s = time.perf_counter() - t0
        same = _same(here, there)
    result = {"events_per_class": args.events_per_class, "workers": args.workers,
              "in_process_s": round(serial_s, 2), "local_cluster_s": round(parallel_s, 2),
              "speed_up": round(serial_s / parallel_s, 3), "same_bytes": same}
    print(f"in process {serial_s:.1f} s, {args.workers} workers {parallel_s:.1f} s "
          f"(cluster start included): speed-up {serial_s / parallel_s:.2f}; "
          f"same data: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
