"""The 8B CEvNS recoil spectrum against a published neutrino spectrum, NEST's 8B spectrum
and XENON1T's own CEvNS expectation in its S2-only data release."""

import nestpy
import numpy as np
import pytest

from wimpsift.sources.cevns import SolarB8Cevns, b8_spectrum_per_mev

# Bahcall et al., Phys. Rev. C 54, 411 (1996): mean 8B neutrino energy 6.735 +- 0.036 MeV
BAHCALL_1996_MEAN_MEV = 6.735


def test_b8_neutrino_spectrum_has_the_published_mean_energy():
    e = np.linspace(0, 17, 17001)
    spectrum = b8_spectrum_per_mev(e)
    assert np.trapezoid(spectrum, e) == pytest.approx(1.0, rel=1e-4)
    # the allowed shape with the 17.98 - 3.03 MeV endpoint used before gave 7.7 MeV
    assert np.trapezoid(e * spectrum, e) == pytest.approx(BAHCALL_1996_MEAN_MEV, abs=0.05)


def test_cevns_recoil_spectrum_shape_matches_nestpy_b8():
    """Fractions of recoils above 1, 1.5 and 2 keVnr (of those above 0.3 keVnr) agree with
    recoil energies drawn from nestpy's own 8B CEvNS spectrum within 8 % (its sampling error
    at 2 keVnr is 2 %); the earlier allowed-shape spectrum was 1.5-2.7 times too hard."""
    nestpy.RandomGen.rndm().set_seed(3)
    drawn = np.asarray(nestpy.spectra.B8(400_000))
    source = SolarB8Cevns(name="cevns", recoil_type="nr", energy_min_kev=0.1, energy_max_kev=10.0)
    energy = np.linspace(0.3, 4.0, 20_000)
    rate = source.differential_rate_per_kg_day_kev(energy)
    total = np.trapezoid(rate, energy)
    for threshold_kev in (1.0, 1.5, 2.0):
        above = energy >= threshold_kev
        ours = np.trapezoid(rate[above], energy[above]) / total
        nest = np.count_nonzero(drawn >= threshold_kev) / np.count_nonzero(drawn >= 0.3)
        assert ours == pytest.approx(nest, rel=0.08), threshold_kev


def _s2only_release(reference_dir):
    text = (reference_dir / "xenon1t_s2only_nr_response.csv").read_text().splitlines()
    keys = dict(line.lstrip("# ").split(" = ") for line in text if line.startswith("# ") and " = " in line)
    table = np.asarray([line.split(",") for line in text if line and line[0].isdigit()], dtype=float)
    return table, float(keys["cevns_expected_events_all_s2_bins"].split()[0]), float(keys["exposure_kg_days"])


def test_b8_count_through_xenon1t_s2only_response_matches_its_released_expectation(reference_dir):
    """XENON1T's S2-only data release gives its NR response per true energy and its own 8B
    CEvNS expectation; our spectrum through that response, with the 0.7 keVnr cutoff the
    release says its models apply, gives XENON1T's count within 10 % (the earlier
    allowed-shape spectrum gave 1.9 times it). This checks the spectrum alone."""
    table, published, exposure_kg_days = _s2only_release(reference_dir)
    source = SolarB8Cevns(name="cevns", recoil_type="nr", energy_min_kev=0.1, energy_max_kev=10.0)
    expected = 0.0
    for _, start_kev, end_kev, response in table:
        start_kev = max(start_kev, 0.7)
        if end_kev > start_kev:
            energy = np.linspace(start_kev, end_kev, 200)
            expected += np.trapezoid(source.differential_rate_per_kg_day_kev(energy), energy) * response
    assert expected * exposure_kg_days == pytest.approx(published, rel=0.10)


@pytest.mark.xfail(strict=True, reason=(
    "known difference, not tuned away: folded with XENON1T's own NR acceptance (the "
    "xe-likelihood migration matrix) and SR1's exposure, our 8B spectrum gives about 3x "
    "XENON1T's published 0.05 events; half of that comes from true energies below "
    "2 keVnr, where XENON1T's acceptance is below 1 % and set by its (non-public) "
    "low-energy response model. benchmarks/acceptance_xenon1t.py --cevns prints the numbers"))
def test_b8_count_with_xenon1t_acceptance_matches_published_within_50_percent():
    pytest.importorskip("xe_likelihood")
    from wimpsift.detectors import load_detector
    from wimpsift.response.acceptance import xenon1t_sr1_published_acceptance
    from wimpsift.sources import make_source

    detector = load_detector("xenon1t_sr1")
    spec = detector.background("cevns")
    energy = np.linspace(spec.energy_min_kev, spec.energy_max_kev, 20_000)
    rate = make_source(detector, "cevns").differential_rate_per_kg_day_kev(energy)
    energy_1t, acceptance_1t = xenon1t_sr1_published_acceptance()
    folded = np.trapezoid(rate * np.interp(energy, energy_1t, acceptance_1t, left=0, right=0), energy)
    expected = folded * detector.exposure_kg_days
    assert expected == pytest.approx(spec.published_expected_events, rel=0.5)
