"""Report building blocks: number formatting, autoescaped templates shipped as package
data, paper numbers and published limits as data with their sources."""

from __future__ import annotations

import math
from importlib import resources

import pytest

from wimpsift.papers import LUX_PUBLISHED_LIMITS, paper_numbers, published_limit
from wimpsift.reports import render
from wimpsift.reports.format import MISSING, num, pct, pct_pm, pm, sci, seconds, table, times


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "text"])
def test_missing_values_never_print_nan_or_none(value):
    for formatter in (num, sci, pct):
        assert formatter(value) == MISSING
    assert pm(value, 0.1) == MISSING


def test_value_rounded_to_two_significant_digits_of_its_error():
    assert pm(0.99781, 0.00068) == "0.99781\u00a0±\u00a00.00068"
    assert pm(12.345, 1.2) == "12.3\u00a0±\u00a01.2"
    assert pct_pm(0.9978, 0.0007) == "99.780\u00a0±\u00a00.070\u00a0%"


def test_scientific_notation_round_trips():
    for value in (7.6498e-46, 1.0e-44, 3.3e-3, 123456.0):
        mantissa, power = sci(value, 4).split("\u00a0×\u00a010")
        exponent = int(power.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
        assert math.isclose(float(mantissa) * 10.0**exponent, value, rel_tol=1e-3)
    assert num(4.19e-45) == sci(4.19e-45)  # small numbers switch to powers of ten
    assert num(0.00731) == "0.00731" and num(1039) == "1\u202f039"


def test_durations_and_factors():
    assert seconds(5.4) == "5.4\u00a0s" and seconds(600) == "10.0\u00a0min" and seconds(9000) == "2.50\u00a0h"
    assert times(2.7 / 2.4e-3) == "1100×" and times(35.0) == "35×" and times(4.834) == "4.83×"


def test_templates_autoescape_cells():
    page = render("analysis.html", {
        "title": "<b>t</b>", "subtitle": "", "warning": None, "provenance": {
            "version": "0", "stage": "s", "seed": 1, "config_hash": "h"}, "footer_links": [],
        "sections": [{"anchor": "a", "title": "T", "text": [], "bullets": [], "figures": [],
                      "tables": [table("c", ["x"], [["<script>alert(1)</script>"]])]}]})
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;t&lt;/b&gt;" in page


def test_footer_names_the_code_the_libraries_and_the_cpu(monkeypatch):
    from importlib.metadata import version

    import archspec.cpu

    from wimpsift.provenance import DISPATCH_VARIABLES, provenance, source_digest

    for name in DISPATCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    page = render("analysis.html", {
        "title": "t", "subtitle": "", "warning": None, "footer_links": [], "sections": [],
        "provenance": provenance({"seed": 1}, 1, "s")})
    footer = page[page.index("<footer>"):]
    assert f"source <code>{source_digest()}</code>" in footer
    assert f"nestpy {version('nestpy')}" in footer and f"torch {version('torch')}" in footer
    assert (f"CPU: {archspec.cpu.host().name} ({archspec.cpu.brand_string()}), with "
            "<code>OPENBLAS_CORETYPE=Haswell</code>.") in footer


def test_templates_and_data_are_package_data():
    folder = resources.files("wimpsift.reports")
    for name in ("base.html", "macros.html", "index.html", "analysis.html"):
        assert (folder / "templates" / name).is_file()
    data = resources.files("wimpsift") / "data"
    assert (data / "papers.toml").is_file() and (data / "published_limits" / "lux_2013.csv").is_file()


def test_every_paper_table_names_its_source():
    for paper, tables in paper_numbers().items():
        assert tables["source"], paper
        for name, values in tables.items():
            if isinstance(values, dict):
                assert values.get("source"), f"{paper}.{name}"


def test_shipped_lux_2013_limit_has_the_published_minimum():
    # arXiv:1310.8214 abstract: minimum 7.6e-46 cm² at a WIMP mass of 33 GeV/c²
    curve = published_limit("lux_2013")
    assert curve is not None and curve["masses_gev"] == sorted(curve["masses_gev"])
    lowest = min(curve["sigma_cm2"])
    assert lowest == pytest.approx(7.6e-46, rel=0.02)
    assert 30 <= curve["masses_gev"][curve["sigma_cm2"].index(lowest)] <= 40
    assert any("1310.8214" in line for line in curve["source"])


def test_missing_published_curve_is_none_not_an_error():
    assert set(LUX_PUBLISHED_LIMITS) >= {"lux_2013", "lux_2013_reanalysis"}
    assert published_limit("no_such_curve") is None


def test_published_curve_interpolation_is_log_log():
    from wimpsift.papers import limit_at

    curve = {"masses_gev": [10.0, 100.0], "sigma_cm2": [1e-44, 1e-46]}
    assert limit_at(curve, 10.0) == pytest.approx(1e-44)
    assert limit_at(curve, math.sqrt(10.0 * 100.0)) == pytest.approx(1e-45)  # straight in log-log
    assert limit_at(curve, 5.0) is None and limit_at(curve, 200.0) is None


def test_numpy_scalars_format_like_python_numbers():
    import numpy as np

    assert num(np.int64(1039)) == num(1039) and num(np.float32(0.5)) == num(0.5)
    assert pct(np.float64(0.998)) == pct(0.998) and num(np.float64("nan")) == MISSING
    assert num(np.bool_(True)) == num(True) == "yes"
