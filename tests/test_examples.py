"""Every example runs in fast mode (CAUSALSM_FAST=1), exits 0 and writes its figures.

The scripts in examples/ and the notebook examples/quickstart.ipynb are run once per
session, two at a time, each in a fresh process with its own temporary output folder
(CAUSALSM_OUTPUT_DIR).
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
NOTEBOOK = "quickstart.ipynb"

#: Figures each example must write (a new example only needs to write one PNG).
FIGURES = {
    "compare_lalonde.py": ["compare_lalonde.png", "compare_lalonde_love.png",
                           "compare_lalonde_overlap.png"],
    "ihdp_benchmark.py": ["ihdp_benchmark.png"],
    "image_confounding.py": ["image_confounding.png"],
    "quickstart_lalonde.py": ["love_lalonde.png"],
    "survival_rossi.py": ["rossi_km.png"],
    "multiarm_actg175.py": ["actg175_love.png", "actg175_compare.png"],
    NOTEBOOK: ["quickstart_love.png", "quickstart_comparison.png", "quickstart_overlap.png"],
}

#: Lines an example must print.
TEXT = {
    "survival_rossi.py": ["unadjusted Cox HR", "matched HR", "full-trial benchmark"],
    "multiarm_actg175.py": ["randomised benchmark", "naive difference of means",
                            "Whole trial (randomised), all pairs"],
}

_RUN_NOTEBOOK = """
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def _run(name: str, out: Path) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CAUSALSM_FAST": "1", "CAUSALSM_OUTPUT_DIR": str(out),
           "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if name == NOTEBOOK:
        cmd = [sys.executable, "-c", _RUN_NOTEBOOK, str(EXAMPLES / name), str(out)]
    else:
        cmd = [sys.executable, str(EXAMPLES / name)]
    return subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    names = SCRIPTS + ([NOTEBOOK] if (EXAMPLES / NOTEBOOK).exists() else [])
    if NOTEBOOK in names:
        pytest.importorskip("nbclient")
    base = tmp_path_factory.mktemp("examples")
    outs = {n: base / n.replace(".", "_") for n in names}
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(names, pool.map(lambda n: _run(n, outs[n]), names)))
    return {n: (done[n], outs[n]) for n in names}


def test_every_example_is_covered():
    assert {"compare_lalonde.py", "ihdp_benchmark.py", "quickstart_lalonde.py",
            "image_confounding.py"} <= set(SCRIPTS)
    assert (EXAMPLES / NOTEBOOK).exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS + [NOTEBOOK])
def test_example_runs_and_writes_figures(runs, name):
    proc, out = runs[name]
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    expected = FIGURES.get(name)
    pngs = sorted(p.name for p in out.glob("*.png"))
    if expected is None:
        assert pngs, f"{name} wrote no figure"
    for fig in expected or []:
        path = out / fig
        assert path.exists(), f"{name} did not write {fig} (wrote {pngs})"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    for text in TEXT.get(name, []):
        assert text in proc.stdout, f"{name} did not print {text!r}"


@pytest.mark.slow
def test_compare_lalonde_reports_benchmark_coverage(runs):
    proc, out = runs["compare_lalonde.py"]
    assert "NSW experimental benchmark ATT: 1,794 (SE 671)" in proc.stdout
    assert proc.stdout.count("CI covers the benchmark:") == 2
    import pandas as pd
    psid = pd.read_csv(out / "compare_lalonde_psid.csv", keep_default_na=False,
                       na_values=[""])
    from causalsm.comparison import DEFAULT_METHODS
    assert psid["method"].tolist() == list(DEFAULT_METHODS)
    row = psid.set_index("method").loc["psm"]      # no training involved: R's number
    ref = json.loads((ROOT / "tests" / "fixtures" / "r" / "compare_reference.json").read_text())
    assert row["estimate"] == pytest.approx(ref["psm"]["est"], rel=1e-9)
    assert bool(row["covers_truth"])
    assert psid.set_index("method").loc["random", "max_abs_smd"] > 3


@pytest.mark.slow
def test_ihdp_benchmark_prints_errors(runs):
    proc, out = runs["ihdp_benchmark.py"]
    assert "NSM vs PSM: mean absolute ATT error" in proc.stdout
    assert (out / "ihdp_benchmark.csv").exists()
