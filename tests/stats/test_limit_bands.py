"""Expected bands and the power constraint against closed forms; both commands expose
every limit setting and say how each band value was obtained."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import optimize, stats

from wimpsift.cli.main import main
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import POWER_CONSTRAINT_MINUS_1_SIGMA, LimitConfig, upper_limit
from wimpsift.stats.templates import TemplateSet

SIGNAL, BACKGROUND = 50.0, 400.0  # events at mu = 1; one bin


def _one_bin(width: float = 1e-6) -> BinnedLikelihood:
    ts = TemplateSet(signal=np.array([SIGNAL]), backgrounds={"b": np.array([BACKGROUND])},
                     sigma_ref_cm2=1e-45)
    return BinnedLikelihood(ts, LikelihoodConfig.build(background_rel_uncertainty=width))


def _band_closed_form(n_sigma: float, cl: float = 0.9) -> float:
    """Cowan et al. eq. 89 with the one-bin Asimov statistic in closed form:
    q_mu,A = 2 [mu s - b ln(1 + mu s / b)] for background-only Asimov data n = b."""
    target = stats.norm.ppf(cl) + n_sigma
    if target <= 0:
        return float("nan")

    def f(mu: float) -> float:
        return 2 * (mu * SIGNAL - BACKGROUND * np.log1p(mu * SIGNAL / BACKGROUND)) - target**2

    return optimize.brentq(f, 1e-9, 100.0)


def test_asymptotic_bands_match_the_closed_form_and_minus_2_sigma_is_empty():
    lik = _one_bin()
    b = lik.expected(lik.nominal_parameters(0.0))
    result = upper_limit(lik, b, config=LimitConfig.build(method="asymptotic"))
    for n, key in ((-1, "-1sigma"), (0, "median"), (1, "+1sigma"), (2, "+2sigma")):
        assert result.expected_mu[key] == pytest.approx(_band_closed_form(n), rel=2e-3)
        assert result.band_status[key] == "asymptotic"
    # -1 sigma: (Phi^-1(0.9) - 1) sqrt(b) / s in the Gaussian limit, 22 % of the median
    assert result.expected_mu["-1sigma"] == pytest.approx(0.2816 * np.sqrt(BACKGROUND) / SIGNAL, rel=0.03)
    # CLs+b at 90 %: Phi^-1(0.9) - 2 < 0, the band is empty, NaN in Python, null in JSON, never 0
    assert np.isnan(result.expected_mu["-2sigma"]) and result.band_status["-2sigma"] == "empty"
    out = result.to_dict()
    assert out["expected_sigma_nucleon_cm2"]["-2sigma"] is None
    json.dumps(out, allow_nan=False)  # strict JSON
    assert result.power_constraint is None and result.power_constraint_floor_mu is None


@pytest.mark.parametrize("power", [POWER_CONSTRAINT_MINUS_1_SIGMA, 0.5])
def test_power_constraint_floor_is_the_closed_form_quantile_and_leaves_bands_unconstrained(power):
    lik = _one_bin()
    b = lik.expected(lik.nominal_parameters(0.0))
    deficit = b - 3.0 * np.sqrt(BACKGROUND)  # a 3 sigma deficit: the unconstrained limit is empty
    plain = upper_limit(lik, deficit, config=LimitConfig.build(method="asymptotic"))
    pcl = upper_limit(lik, deficit, config=LimitConfig.build(method="asymptotic", power_constraint=power))
    floor = _band_closed_form(stats.norm.ppf(power))
    assert pcl.power_constraint_floor_mu == pytest.approx(floor, rel=2e-3)
    assert pcl.reported_mu == pytest.approx(floor, rel=2e-3) and plain.reported_mu < 0.5 * floor
    # the bands are the unconstrained ones, as collaborations draw them beside a constrained limit
    for key in ("-1sigma", "median", "+1sigma", "+2sigma"):
        assert pcl.expected_mu[key] == plain.expected_mu[key]
    assert np.isnan(pcl.expected_mu["-2sigma"])
    if power == POWER_CONSTRAINT_MINUS_1_SIGMA:
        assert pcl.power_constraint_floor_mu == pytest.approx(pcl.expected_mu["-1sigma"], rel=1e-6)


def test_a_critical_power_inside_the_empty_band_constrains_nothing():
    lik = _one_bin()
    b = lik.expected(lik.nominal_parameters(0.0))
    deficit = b - 3.0 * np.sqrt(BACKGROUND)
    result = upper_limit(lik, deficit, config=LimitConfig.build(method="asymptotic", power_constraint=0.05))
    assert result.power_constraint_floor_mu == 0.0
    assert result.reported_mu == result.observed_mu


def test_toy_bands_report_their_status_and_2_30_events_one_bin_no_background():
    ts = TemplateSet(signal=np.array([10.0]), backgrounds={"b": np.array([0.0])}, sigma_ref_cm2=1e-45,
                     allow_background_free_bins=True)
    lik = BinnedLikelihood(ts, LikelihoodConfig())
    result = upper_limit(lik, np.array([0.0]), config=LimitConfig.build(
        power_constraint=POWER_CONSTRAINT_MINUS_1_SIGMA))
    assert result.method == "toys"
    assert result.observed_mu * 10.0 == pytest.approx(-np.log(0.1), rel=0.01)  # 2.30 events
    # no background: every background-only experiment observes 0 events, so every band is the
    # observed limit (on the coarse grid), and the floor is that value too
    for key in ("-2sigma", "-1sigma", "median", "+1sigma", "+2sigma"):
        assert result.band_status[key] == "toys"
        assert result.expected_mu[key] * 10.0 == pytest.approx(-np.log(0.1), rel=0.05)
    assert result.reported_mu == pytest.approx(max(result.observed_mu, result.power_constraint_floor_mu))


@pytest.fixture
def one_bin_file(tmp_path):
    data = {"signal": [SIGNAL], "backgrounds": {"b": [BACKGROUND]}, "sigma_ref_cm2": 1e-45}
    path = tmp_path / "one_bin.json"
    path.write_text(json.dumps(data))
    return path


def test_limits_compute_defaults_to_the_minus_1_sigma_power_constraint(one_bin_file, tmp_path, capsys):
    deficit = [BACKGROUND - 3.0 * np.sqrt(BACKGROUND)]
    observed = tmp_path / "obs.json"
    observed.write_text(json.dumps(deficit))
    base = ["limits", "compute", str(one_bin_file), "--observed", str(observed), "--width", "1e-6", "--json"]
    assert main(base) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["power_constraint"] == POWER_CONSTRAINT_MINUS_1_SIGMA
    assert r["band_status"]["-2sigma"] == "empty" and r["expected_sigma_nucleon_cm2"]["-2sigma"] is None
    minus1 = r["expected_sigma_nucleon_cm2"]["-1sigma"]
    assert r["reported_sigma_nucleon_cm2"] == pytest.approx(minus1, rel=1e-5)
    assert main([*base, "--power-constraint", "none"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["power_constraint"] is None
    assert r["reported_sigma_nucleon_cm2"] == r["observed_sigma_nucleon_cm2"]
    for bad in ("1.5", "x"):
        assert main([*base, "--power-constraint", bad]) == 2
        assert "power" in capsys.readouterr().err


def test_sensitivity_and_limits_compute_offer_the_same_limit_settings():
    import argparse

    from wimpsift.cli import limits as cli_limits
    from wimpsift.cli import sensitivity as cli_sensitivity

    def options(register, *path):
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers())
        for name in path:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = sub.choices[name]
        return {s for a in parser._actions for s in a.option_strings}

    limit_settings = {"--cl", "--method", "--asymptotic-min-events", "--n-toys", "--n-background-toys",
                      "--mu-grid-points", "--refine-points", "--power-constraint", "--seed"}
    assert limit_settings <= options(cli_limits.register, "limits", "compute")
    assert limit_settings <= options(cli_sensitivity.register, "sensitivity")
