"""Figure and numbers: XENON1T SR1's NR acceptance versus true recoil energy, ours
(``xenon1t_sr1``, full event-level simulation) beside XENON1T's (row sums of the
migration matrix in the 1 t x yr binwise likelihood release, PyPI ``xe-likelihood``).

Prints, for each curve, the plateau (18-30 keVnr) and the energies where the rising
edge reaches 10 %, 50 % and 90 % of it; last line JSON. Needs the ``test`` extra.

Usage: python benchmarks/acceptance_xenon1t.py [--events 200000] [-o acceptance_xenon1t.png]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from wimpsift.detectors import load_detector  # noqa: E402
from wimpsift.plots import pyplot, save_figure  # noqa: E402
from wimpsift.response.acceptance import (  # noqa: E402
    nr_acceptance,
    plateau,
    rising_edge_energies,
    xenon1t_sr1_published_acceptance,
)

EDGES_KEV = np.arange(1.0, 32.01, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("-o", "--output", default="acceptance_xenon1t.png")
    args = parser.parse_args()

    energy_1t, acc_1t = xenon1t_sr1_published_acceptance()
    centres = 0.5 * (EDGES_KEV[1:] + EDGES_KEV[:-1])
    ours = nr_acceptance(load_detector("xenon1t_sr1"), EDGES_KEV, args.events, args.seed)
    result = {}
    for name, e, a in (("xenon1t", energy_1t, acc_1t), ("wimpsift", centres, ours)):
        p = plateau(e, a)
        result[name] = {"plateau": round(p, 4),
                        "e10_e50_e90_kevnr": [round(v, 2) for v in rising_edge_energies(e, a, p)]}
        print(f"{name:>9}: plateau {p:.3f}; 10/50/90 % of it at "
              + ", ".join(f"{v:.2f}" for v in result[name]["e10_e50_e90_kevnr"]) + " keVnr")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    inside = energy_1t <= EDGES_KEV[-1]
    ax.plot(energy_1t[inside], acc_1t[inside], label="XENON1T SR1 (xe-likelihood migration matrix)")
    ax.step(centres, ours, where="mid", label=f"wimpsift xenon1t_sr1 ({args.events:,} NR events)")
    ax.set_xlabel("true nuclear recoil energy [keVnr]")
    ax.set_ylabel("acceptance (threshold, FV, ROI)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, args.output)
    result["figure"] = str(args.output)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
