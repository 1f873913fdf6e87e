"""The R package ``r/causalsm``: ``R CMD check`` passes, and its documentation is current.

``R CMD check`` runs the package's testthat tests, which compare its numbers with the
same calls made in Python (to 1e-10), its examples and its vignette, with this Python
and this checkout of causalsm (``RETICULATE_PYTHON``, ``PYTHONPATH``) and with
``CAUSALSM_REQUIRE_PYTHON`` set, so that a missing Python fails instead of skipping.

Without R and the R packages that the check needs (reticulate, testthat, knitr,
rmarkdown, roxygen2) and pandoc, these tests skip on a developer's machine and FAIL
when ``CI`` is set: ``.ci/run`` installs them from Debian.
"""

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "r" / "causalsm"
R_PACKAGES = ("reticulate", "testthat", "knitr", "rmarkdown", "roxygen2")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def r_home(rscript_with, unavailable) -> str:
    rscript = rscript_with(*R_PACKAGES)
    if shutil.which("pandoc") is None:
        unavailable("pandoc is needed to build the vignette (apt-get install pandoc)")
    return rscript


def _env() -> dict:
    env = dict(os.environ, RETICULATE_PYTHON=sys.executable, CAUSALSM_REQUIRE_PYTHON="1",
               MPLBACKEND="Agg", _R_CHECK_FORCE_SUGGESTS_="false",
               PYTHONPATH=os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]]
                                                         if os.environ.get("PYTHONPATH")
                                                         else [])))
    return env


def _run(args: list, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, args))} failed "
                                  f"(exit {proc.returncode})\n--- stdout\n"
                                  f"{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def test_r_cmd_check_passes_without_errors_or_warnings(r_home, tmp_path):
    _run(["R", "CMD", "build", str(PACKAGE)], tmp_path)
    tarball = next(tmp_path.glob("causalsm_*.tar.gz"))
    proc = subprocess.run(["R", "CMD", "check", "--no-manual", tarball.name], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=1200)
    log = (tmp_path / "causalsm.Rcheck" / "00check.log")
    text = log.read_text() if log.exists() else proc.stdout
    status = re.findall(r"^Status: (.*)$", text, flags=re.MULTILINE)
    assert status and "ERROR" not in status[-1] and "WARNING" not in status[-1], (
        f"R CMD check: {status}\n{text[-6000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    # every testthat test ran (none skipped for want of Python) and passed
    tests = (tmp_path / "causalsm.Rcheck" / "tests" / "testthat.Rout").read_text()
    counts = re.findall(r"\[ FAIL (\d+) \| WARN (\d+) \| SKIP (\d+) \| PASS (\d+) \]", tests)
    assert counts, tests[-3000:]
    fail, warn, skip, passed = map(int, counts[-1])
    assert (fail, warn, skip) == (0, 0, 0) and passed >= 50, counts[-1]


def test_r_documentation_is_generated_from_the_current_sources(r_home, tmp_path):
    """man/ and NAMESPACE are roxygen2's output for the R sources as committed."""
    copy = tmp_path / "causalsm"
    shutil.copytree(PACKAGE, copy)
    shutil.rmtree(copy / "man")
    (copy / "NAMESPACE").unlink()
    _run([r_home, "-e", 'roxygen2::roxygenise("causalsm")'], tmp_path)
    assert (copy / "NAMESPACE").read_text() == (PACKAGE / "NAMESPACE").read_text(), (
        "NAMESPACE is out of date: run roxygen2::roxygenise('r/causalsm')")
    cmp = filecmp.dircmp(copy / "man", PACKAGE / "man")
    stale = cmp.left_only + cmp.right_only + filecmp.cmpfiles(
        copy / "man", PACKAGE / "man", cmp.common_files, shallow=False)[1]
    assert not stale, (f"man/ is out of date ({', '.join(stale)}): run "
                       "roxygen2::roxygenise('r/causalsm')")
