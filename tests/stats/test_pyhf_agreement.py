"""Our asymptotic results against pyhf's on the exported workspace (pyhf optional)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import optimize

from wimpsift.stats.limits import asymptotic_upper_limit
from wimpsift.stats.pyhf_export import pyhf_model_settings, workspace_dict, write_workspace
from wimpsift.stats.teststat import asimov_background, pvalue_qtilde, qtilde

pyhf = pytest.importorskip("pyhf")


def _pyhf_model(lik, observed):
    ws = pyhf.Workspace(workspace_dict(lik, observed))
    model = ws.model(modifier_settings=pyhf_model_settings())
    return model, ws.data(model)


def test_workspace_file_is_valid_json(make_model, tmp_path):
    lik = make_model()
    observed = np.round(lik.expected(lik.nominal_parameters(0.0)))
    path = write_workspace(tmp_path / "ws.json", lik, observed)
    spec = json.loads(path.read_text())
    assert pyhf.Workspace(spec).model().config.poi_name == "mu"
    assert "mass_gev_50" in spec["measurements"][0]["name"]


@pytest.mark.parametrize(("mc_events", "tilt"), [(None, None), (400, None), (400, 0.6)])
def test_asymptotic_pvalues_and_limit_agree_with_pyhf(make_model, mc_events, tilt):
    """With ``mc_events`` the templates carry Σw² and the workspace pyhf's staterror;
    with ``tilt`` a shape parameter (histosys)."""
    lik = make_model(signal=10.0, er=200.0, wall=30.0, widths={"er": 0.1, "wall": 0.15},
                     mc_events=mc_events, tilt=tilt)
    observed = np.round(lik.expected(lik.nominal_parameters(0.4)))
    if tilt is None:
        model, data = _pyhf_model(lik, observed)
    else:
        # the tilt takes bin 0's background to 0 at alpha = 3.9, inside pyhf's bounds: the
        # export says so (the hypothesis tests below stay far from it)
        with pytest.warns(UserWarning, match=r"alpha_er_tilt: bin 0's background reaches 0 at alpha = 3.9"):
            model, data = _pyhf_model(lik, observed)
    assert ("staterror_discriminant" in model.config.parameters) == (mc_events is not None)
    asimov = asimov_background(lik, observed)
    for mu in (0.5, 1.0, 2.5):
        _, (clsb, _) = pyhf.infer.hypotest(mu, data, model, test_stat="qtilde", return_tail_probs=True)
        ours = pvalue_qtilde(qtilde(lik, observed, None, mu), asimov.q_asimov(lik, mu))
        assert float(ours) == pytest.approx(float(clsb), rel=1e-4, abs=1e-6)
    ours_limit, _ = asymptotic_upper_limit(lik, observed, cl=0.9)

    def pyhf_excess(mu):
        _, (clsb, _) = pyhf.infer.hypotest(mu, data, model, test_stat="qtilde", return_tail_probs=True)
        return float(clsb) - 0.1

    pyhf_limit = optimize.brentq(pyhf_excess, 0.5 * ours_limit, 2.0 * ours_limit, xtol=1e-6)
    assert ours_limit == pytest.approx(pyhf_limit, rel=1e-3)
