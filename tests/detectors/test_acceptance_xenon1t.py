"""XENON1T SR1's NR acceptance: our simulation against the migration matrix of the
XENON1T 1 t x yr binwise likelihood release (PyPI ``xe-likelihood``, MIT).

The matrix maps true NR energy to reconstructed-energy bins for events that pass
XENON1T's detection, selection cuts, 1.3 t fiducial volume and ROI (cS1 3-70 PE,
cS2_b 50-8000 PE as the paper rounds it, 50.1-7940 PE in flamedisx's SR1 model); its rows
sum to the total efficiency. ``xenon1t_sr1`` selects the same ROI and fiducial shape.
Each curve is compared in units of its own plateau (18-30 keVnr), because the matrix's
plateau (~0.86) holds cut acceptances we do not model.
"""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.detectors import load_detector
from wimpsift.response.acceptance import (
    nr_acceptance,
    plateau,
    rising_edge_energies,
    xenon1t_sr1_published_acceptance,
)

pytest.importorskip("xe_likelihood")

EDGES_KEV = np.arange(1.0, 32.01, 0.5)


@pytest.fixture(scope="module")
def curves():
    energy_1t, acc_1t = xenon1t_sr1_published_acceptance()
    ours = nr_acceptance(load_detector("xenon1t_sr1"), EDGES_KEV, 60_000, seed=11)
    centres = 0.5 * (EDGES_KEV[1:] + EDGES_KEV[:-1])
    return (rising_edge_energies(energy_1t, acc_1t, plateau(energy_1t, acc_1t)),
            rising_edge_energies(centres, ours, plateau(centres, ours)),
            plateau(energy_1t, acc_1t), plateau(centres, ours))


def test_published_matrix_is_what_the_issue_describes():
    energy, acceptance = xenon1t_sr1_published_acceptance()
    at = lambda e: float(np.interp(e, energy, acceptance))  # noqa: E731
    assert at(3.0) == pytest.approx(0.06, abs=0.01)
    assert at(5.0) == pytest.approx(0.32, abs=0.02)
    assert at(10.0) == pytest.approx(0.76, abs=0.02)
    assert plateau(energy, acceptance) == pytest.approx(0.86, abs=0.01)


def test_threshold_energy_agrees_within_1_kevnr(curves):
    published, ours, _, _ = curves
    assert abs(ours[0] - published[0]) < 1.0


def test_our_rising_edge_is_not_later_than_xenon1t(curves):
    """Cuts that XENON1T applies and we do not can only remove events, and their
    acceptance is lowest at small S1: our edge may be earlier, never later."""
    published, ours, plateau_1t, plateau_ours = curves
    assert all(o <= p + 0.3 for o, p in zip(ours, published, strict=True))
    assert plateau_ours > plateau_1t


@pytest.mark.xfail(strict=True, reason=(
    "known difference, not tuned away: at 50 % and 90 % of the plateau our edge lies "
    "more than 1 keVnr below XENON1T's. benchmarks/acceptance_xenon1t.py --decompose: "
    "XENON1T-like NR yields and the S1 detection settings each move these points by less "
    "than 1 keVnr. What we do not model is XENON1T's efficiency versus S1 size: flamedisx's "
    "public SR1 model (flamedisx/xenon/x1t_sr1.py) multiplies the same g1/(1+p_dpe) and ROI by "
    "an S1 reconstruction efficiency vs detected photons (RecEfficiency*_SR1_70phd_v1.json) and "
    "a combined S1 cut acceptance vs S1 (S1AcceptanceSR1_v7_Median.json), both read with "
    "fd.get_bbf_file from the private repository XENON1T/bbf, so not public. The benchmark "
    "prints the S1-size efficiency the gap would need (diagnostic, not applied); see README, "
    "'S1 detection and the acceptance at threshold'"))
def test_half_and_ninety_percent_energies_agree_within_1_kevnr(curves):
    published, ours, _, _ = curves
    assert abs(ours[1] - published[1]) < 1.0
    assert abs(ours[2] - published[2]) < 1.0
