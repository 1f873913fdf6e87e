"""The documentation site (``docs/``, issue 20): every public name is in the API reference,
and the site builds with warnings as errors (so a broken docstring, or a README section the
guide can no longer find, fails CI), running the gallery's examples (``examples/gallery/``)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import causalsm

DOCS = Path(__file__).resolve().parents[1] / "docs"
GALLERY = DOCS.parent / "examples" / "gallery"


def _api_entries() -> set[str]:
    """The names listed under the ``autosummary`` directives of ``docs/api.rst``."""
    names, inside = set(), False
    for line in (DOCS / "api.rst").read_text().splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            names.add(line.strip())
        elif inside and line and not line.startswith("   "):
            inside = False
    return names


def test_every_public_name_is_in_the_api_reference():
    public = {n for n in causalsm.__all__ if not n.startswith("__")}
    entries = _api_entries()
    assert public - entries == set(), "missing from docs/api.rst"
    assert entries - public == set(), "docs/api.rst lists names that are not public"


@pytest.mark.slow
def test_the_site_builds_without_warnings(tmp_path, unavailable):
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("numpydoc") is None:
        unavailable("sphinx / numpydoc not installed (pip install -e '.[docs]')")
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-b", "html", "-q",
                          "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                         capture_output=True, text=True, cwd=DOCS.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    html = tmp_path / "html"
    assert (html / "generated" / "causalsm.NeuralBalancingScore.html").exists()
    # the guide pages carry their README sections, the benchmarks page its tables
    assert "MatchedHazardRatio" in (html / "guide" / "survival.html").read_text()
    assert "Fit ratio after the kernel work" in (html / "benchmarks.html").read_text()
    # the gallery: every examples/gallery/plot_*.py ran and has its page with its figure
    assert (html / "gallery" / "index.html").exists()
    scripts = sorted(GALLERY.glob("plot_*.py"))
    assert len(scripts) >= 5
    for script in scripts:
        page = html / "gallery" / f"{script.stem}.html"
        assert page.exists(), f"no gallery page for {script.name}"
        figure = f"sphx_glr_{script.stem}_001.png"
        assert figure in page.read_text(), f"{script.name} drew no figure"
        assert (html / "_images" / figure).exists()


@pytest.mark.slow
def test_the_getting_started_code_runs(capsys):
    """The page's Python blocks run as written (so the first estimate a reader copies works)."""
    text = (DOCS / "getting_started.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    assert blocks
    for block in blocks:
        exec(compile("\n".join(line[4:] for line in block.splitlines()), "getting_started",
                     "exec"), {})
    assert "ATT" in capsys.readouterr().out
