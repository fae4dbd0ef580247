"""Event-level simulation speed against bare nestpy ``runNESTvec`` on the same energies.

Prints events/s of ``wimpsift.response.event_level.simulate_events`` (sources → NEST quanta →
detector response with per-PMT S1 detection → corrections → selections) and, on
exactly the energies and depths it drew, of bare ``nestpy.array.runNESTvec``,
interleaved over several repeats (the machine is shared and noisy), best of each. Last line: JSON with both
rates and ``ratio`` = ours / nestpy (target ≥ 0.5; nestpy is the floor cost).

Usage: python benchmarks/bench_simulate.py [--events 200000] [--repeats 3]
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import nestpy  # noqa: E402
import numpy as np  # noqa: E402
from _bench_cli import Parser, at_least, run  # noqa: E402

from wimpsift.detectors import load_detector  # noqa: E402
from wimpsift.microphysics.quanta import _stdout_to_stderr, nest_detector  # noqa: E402
from wimpsift.response.event_level import simulate_events  # noqa: E402
from wimpsift.sources import make_source  # noqa: E402


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=at_least(1), default=200_000)
    parser.add_argument("--repeats", type=at_least(1), default=3)
    parser.add_argument("--detector", default="xenon1t_sr0")
    args = parser.parse_args()

    detector = load_detector(args.detector)
    source = make_source(detector, "er")
    ours, bare = [], []
    for repeat in range(args.repeats):
        t0 = time.perf_counter()
        events = simulate_events(detector, source, args.events, seed=repeat)
        ours.append(time.perf_counter() - t0)

        energies = events["energy_kev"].to_numpy()
        positions = np.zeros((args.events, 3))
        positions[:, 2] = (detector.geometry.tpc_length_cm + events["z_true_cm"].to_numpy()) * 10
        t0 = time.perf_counter()
        with _stdout_to_stderr():
            nestpy.array.runNESTvec(
                nest_detector(detector),
                nestpy.interactions.beta,
                energies,
                positions,
                inField=detector.drift.drift_field_v_cm,
                seed=repeat + 1,
            )
        bare.append(time.perf_counter() - t0)
        print(
            f"repeat {repeat}: wimpsift {args.events / ours[-1]:,.0f} ev/s, "
            f"nestpy {args.events / bare[-1]:,.0f} ev/s"
        )

    ours_rate = args.events / min(ours)
    bare_rate = args.events / min(bare)
    print(
        json.dumps(
            {
                "events": args.events,
                "wimpsift_events_per_s": round(ours_rate),
                "nestpy_events_per_s": round(bare_rate),
                "ratio": round(ours_rate / bare_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    run(main)
