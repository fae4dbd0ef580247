"""``--halo`` and ``--halo-v0-km-s``: the same WIMP-halo options for ``reinterpret`` and
``sensitivity``."""

from __future__ import annotations

import argparse

from wimpsift.errors import bad_value

HALOS = ("2021", "xenon1t_2018")


def add_halo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--halo", default="2021",
                   help="2021: arXiv 2105.00599 (v0 238 km/s, wimprates' Earth speed); xenon1t_2018: "
                   "the XENON1T paper's (v0 220, v_esc 544 km/s, rho 0.3 GeV/cm3, Earth 232 km/s)")
    p.add_argument("--halo-v0-km-s", type=float, default=None,
                   help="override v0 of the chosen halo (km/s, at least 30); the 2021 halo derives "
                   "the Earth's speed from it, which must stay below v_esc (v0 below ~532)")


def halo_from_args(args: argparse.Namespace):
    """The :class:`~wimpsift.sources.wimp.HaloModel` the options name (exit 2 on bad values)."""
    from wimpsift.sources.wimp import MIN_V0_KM_S, HaloModel, check_halo
    from wimpsift.stats.reinterpret import XENON1T_2018_HALO

    if args.halo not in HALOS:
        raise bad_value("--halo", args.halo, f"one of {', '.join(HALOS)}")
    halo = XENON1T_2018_HALO if args.halo == "xenon1t_2018" else HaloModel()
    if args.halo_v0_km_s is not None:
        if not (args.halo_v0_km_s >= MIN_V0_KM_S and args.halo_v0_km_s < 1000):
            raise bad_value("--halo-v0-km-s", args.halo_v0_km_s,
                            f"a speed in [{MIN_V0_KM_S:g}, 1000) km/s")
        halo = check_halo(halo.model_copy(update={"v_0_km_s": args.halo_v0_km_s}), "--halo-v0-km-s")
    return halo
