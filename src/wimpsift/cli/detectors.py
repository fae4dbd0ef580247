"""``wimpsift detectors``: the shipped detector definitions and their key numbers."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detectors", help="list the shipped detectors with key parameters")
    p.add_argument("--json", action="store_true", help='print {"detectors": [{...}, ...]} as JSON')
    p.set_defaults(func=_detectors)


def detector_summary(name: str) -> dict:
    """Key parameters and exposure of one shipped detector."""
    from wimpsift.detectors import load_detector

    d = load_detector(name)
    return {
        "name": d.name,
        "description": d.description,
        "g1_pe_per_photon": d.light.g1_pe_per_photon,
        "g2_total_pe_per_electron": round(d.g2_total_pe_per_electron, 4),
        "drift_field_v_per_cm": d.drift.drift_field_v_cm,
        "fiducial_mass_kg": d.fiducial_mass_kg,
        "live_days": d.exposure.live_days,
        "exposure_kg_days": round(d.exposure_kg_days, 3),
        "n_pmts_top": d.n_pmts_top,
        "n_pmts_bottom": d.n_pmts_bottom,
    }


def _detectors(args: argparse.Namespace) -> int:
    from wimpsift.detectors import shipped_detectors

    rows = [detector_summary(name) for name in shipped_detectors()]
    if args.json:
        print(json.dumps({"detectors": rows}, allow_nan=False))
        return 0
    header = (f"{'name':<14}{'g1 PE/ph':>10}{'g2 PE/e':>10}{'field V/cm':>12}{'FV kg':>9}"
              f"{'live d':>9}{'kg·day':>12}{'PMTs':>10}")
    print(header)
    for r in rows:
        print(f"{r['name']:<14}{r['g1_pe_per_photon']:>10.4g}{r['g2_total_pe_per_electron']:>10.4g}"
              f"{r['drift_field_v_per_cm']:>12.4g}{r['fiducial_mass_kg']:>9.5g}{r['live_days']:>9.4g}"
              f"{r['exposure_kg_days']:>12.6g}{r['n_pmts_top']:>5}+{r['n_pmts_bottom']:<4}")
    return 0
