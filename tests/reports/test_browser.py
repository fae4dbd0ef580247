"""The main job's report in a real browser (headless Chromium): every image loads, no
element overflows a 1400 px viewport, no text says NaN or None, every link resolves.

Skips only when no Chromium/Chrome is installed (``.ci/run`` installs the Debian
package). The checks run as a script injected into a copy of each page next to it (so
relative figure paths resolve); Chromium's ``--dump-dom`` returns their JSON verdict.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

VIEWPORT_PX = 1400
PAGES = ("index.html", "cnn/report.html", "lux/report.html")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHECK = """
<script>
window.addEventListener("load", () => {
  const width = window.innerWidth;
  const images = [...document.images].map(i => ({src: i.getAttribute("src"),
                                                  ok: i.complete && i.naturalWidth > 0}));
  const overflowing = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5)) {
      overflowing.push(el.tagName + " " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  const text = document.body.innerText;
  const verdict = {width: width, scrollWidth: document.documentElement.scrollWidth, images: images,
                   overflowing: overflowing.slice(0, 20),
                   badText: (text.match(/\\b(NaN|nan|None|undefined|null)\\b/g) || []).slice(0, 20)};
  const out = document.createElement("pre");
  out.id = "wimpsift-check";
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
});
</script>
"""


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _verdict(browser: str, page: Path) -> dict:
    probe = page.with_name(f".check_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    try:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--allow-file-access-from-files", f"--window-size={VIEWPORT_PX},900",
             "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="wimpsift-check">(.*?)</pre>', result.stdout, re.S)
    assert found, f"{page}: no verdict from the browser (exit {result.returncode}): {result.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href") and not attrs["href"].startswith(("#", "http")):
            self.targets.append(attrs["href"])
        if tag == "img":
            self.targets.append(attrs["src"])


@pytest.mark.parametrize("name", PAGES)
def test_report_pages_render_in_a_browser(tiny_run, name):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium or Chrome installed (apt-get install -y chromium)")
    verdict = _verdict(browser, tiny_run / name)
    assert verdict["width"] == VIEWPORT_PX
    assert verdict["images"], f"{name}: no figures"
    assert all(image["ok"] for image in verdict["images"]), verdict["images"]
    assert verdict["scrollWidth"] <= VIEWPORT_PX and not verdict["overflowing"], verdict["overflowing"]
    assert not verdict["badText"], verdict["badText"]


@pytest.mark.parametrize("name", PAGES)
def test_every_link_and_image_resolves(tiny_run, name):
    page = tiny_run / name
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.targets
    missing = [t for t in parser.targets if not (page.parent / t).is_file()]
    assert not missing, missing


def test_index_shows_the_papers_numbers_beside_ours(tiny_run):
    from wimpsift.detectors import load_detector
    from wimpsift.papers import paper_numbers
    from wimpsift.reports.format import num, pct

    text = (tiny_run / "index.html").read_text(encoding="utf-8")
    papers = paper_numbers()
    er = load_detector("xenon1t_sr0").background("er").published_expected_events  # paper Table I
    assert num(er) in text
    assert html.escape(pct(papers["cnn_paper"]["headline"]["standard_selection_er_rejection"])) in text
    assert "35×" in text and "47×" in text  # the LUX paper's speed-ups
    for link in ("cnn/report.html", "lux/report.html", "cnn/metrics.json", "lux/metrics.json",
                 "provenance.json"):
        assert f'href="{link}"' in text


def test_lux_report_shows_an_optional_comparison_section(tiny_run, tmp_path):
    from wimpsift.reports.lux import lux_context, write_lux_report

    metrics = json.loads((tiny_run / "lux" / "metrics.json").read_text())
    summary = metrics.pop("comparison")
    assert "comparison" not in [s["anchor"] for s in lux_context(metrics, [])["sections"]]
    metrics["comparison"] = summary
    page = write_lux_report(tmp_path / "report.html", metrics, []).read_text(encoding="utf-8")
    assert "Network against traditional analysis on fair ground" in page
    assert "CPU speed-up, 4-D, end to end (simulation included)" in page
