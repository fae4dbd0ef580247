"""Benchmark of the allocator settings (:mod:`wimpsift.allocator`) where a Dask worker
trains: in a thread other than the main one.

For each batch size, one epoch of the seed CNN (one convolution block, one torch thread)
on 75x75 toy images, in a thread of a fresh process, twice in this run:

* ``baseline``: the thresholds alone (``ALLOCATOR_ENV`` without ``MALLOC_ARENA_MAX``),
  the setting before the one-arena change;
* ``now``: ``ALLOCATOR_ENV`` as the local cluster's workers get it.

It prints images/s, user and system CPU seconds and minor page faults for both, and the
ratio now / baseline of images/s. The convolutions cost the same in both, so a ratio
above 1 is time no longer lost to mapping and unmapping the activations. Pixel values do
not change the cost of dense convolutions, so toy images stand for real ones.

The last line is JSON. Usage: ``python benchmarks/bench_allocator.py [--images 3000]``
(about a minute on one core at the defaults).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from _bench_cli import Parser, at_least, run

from wimpsift.allocator import ALLOCATOR_ENV

CHILD = """
import json, resource, sys, threading, time
import numpy as np
from wimpsift.training.cnn_estimator import CNNClassifier

n, batch = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.random((n, 75, 75), dtype=np.float32)
y = (np.arange(n) % 2).astype(np.float32)
out = {}

def train():
    est = CNNClassifier(epochs=1, batch_size=batch, random_state=0, num_threads=1)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    est.fit(X, y)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    out.update(images_per_s=n / wall, user_s=r1.ru_utime - r0.ru_utime,
               system_s=r1.ru_stime - r0.ru_stime, minor_faults=r1.ru_minflt - r0.ru_minflt)

worker = threading.Thread(target=train)  # as a Dask worker runs its tasks
worker.start()
worker.join()
print(json.dumps(out))
"""


def measure(env: dict[str, str], images: int, batch: int) -> dict[str, float]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(images), str(batch)],
                          env={**base, **env}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=at_least(1), default=3000, help="toy images per epoch")
    parser.add_argument("--batch-sizes", type=at_least(1), nargs="+", default=[100, 200, 300])
    args = parser.parse_args()
    baseline_env = {k: v for k, v in ALLOCATOR_ENV.items() if k != "MALLOC_ARENA_MAX"}
    rows = []
    for batch in args.batch_sizes:
        baseline = measure(baseline_env, args.images, batch)
        now = measure(ALLOCATOR_ENV, args.images, batch)
        ratio = now["images_per_s"] / baseline["images_per_s"]
        rows.append({"batch_size": batch, "baseline": baseline, "now": now,
                     "ratio_images_per_s": ratio})
        for name, r in (("baseline", baseline), ("now", now)):
            print(f"batch {batch:>4} {name:>8}: {r['images_per_s']:7.0f} images/s, user "
                  f"{r['user_s']:5.1f} s, system {r['system_s']:5.1f} s, "
                  f"{r['minor_faults']:>9,} minor faults")
        print(f"batch {batch:>4}    ratio: {ratio:.2f} (now / baseline images/s)")
    print(json.dumps({"images": args.images, "rows": rows}))


if __name__ == "__main__":
    run(main)
