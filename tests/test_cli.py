"""Tests for the ``causalsm`` command (causalsm.cli, python -m causalsm)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm.cli import main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--methods", "psm", "mahalanobis", "--quiet"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err, *needles):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("causalsm: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def test_compare_lalonde_prints_table_and_benchmark(capsys):
    code, out, err = _run(capsys, "compare", "--data", "lalonde-psid", *FAST)
    assert code == 0, err
    assert "NSW experimental benchmark ATT: 1,794 (SE 671)" in out
    assert "185 treated, 2,490 control" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    # PSM on PSID controls: R Matching's ATT (504, as in the README); its CI covers 1,794
    ref = json.loads((ROOT / "tests" / "fixtures" / "r" / "compare_reference.json").read_text())
    assert lines["psm"].split()[1] == f"{round(ref['psm']['est']):,}"
    assert lines["psm"].rstrip().endswith("yes")
    assert lines["mahalanobis"].split()[1] == f"{round(ref['mahalanobis_armfit']['est']):,}"


def test_out_csv_equals_compare(capsys, tmp_path):
    path = tmp_path / "res.csv"
    code, out, err = _run(capsys, "compare", "--data", "lalonde", "--out", str(path),
                          "--seed", "3", *FAST)
    assert code == 0, err
    got = pd.read_csv(path, keep_default_na=False, na_values=[""])
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75", "u74", "u75"]
    want = csm.compare(df, "treat", "re78", cov, methods=["psm", "mahalanobis"],
                       random_state=3, truth=csm.datasets.nsw_benchmark().att)
    assert got["method"].tolist() == ["psm", "mahalanobis"]
    for col in ("estimate", "std_error", "ci_lower", "ci_upper", "max_abs_smd", "truth"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12)
    assert got["n_matched"].tolist() == [185, 185]


def test_out_json_contents(capsys, tmp_path):
    path = tmp_path / "res.json"
    code, _, err = _run(capsys, "compare", "--data", "lalonde", "--out", str(path),
                        "--covariates", "age,educ", "re74", "re75", "--estimand", "ate",
                        *FAST)
    assert code == 0, err
    doc = json.loads(path.read_text())
    assert doc["data"] == "lalonde_nsw" and doc["estimand"] == "ATE"
    assert doc["covariates"] == ["age", "educ", "re74", "re75"]
    assert doc["truth"] is None                      # the NSW benchmark is an ATT
    assert doc["n_treated"] == 185 and doc["n_control"] == 260
    assert [r["method"] for r in doc["results"]] == ["psm", "mahalanobis"]
    res = csm.estimate_effect(csm.datasets.load_lalonde(), "treat", "re78",
                              ["age", "educ", "re74", "re75"], score="mahalanobis",
                              estimand="ATE", random_state=0)
    assert doc["results"][1]["estimate"] == pytest.approx(res.estimate, rel=1e-12)
    assert doc["results"][1]["error"] == ""


def test_csv_input_and_plot(capsys, tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int)
    pd.DataFrame({"x": x, "z": rng.normal(size=n), "treated": t,
                  "y": x + 1.0 * t + rng.normal(scale=0.1, size=n)}).to_csv(
        tmp_path / "d.csv", index=False)
    fig = tmp_path / "fig.png"
    code, out, err = _run(capsys, "compare", "--data", str(tmp_path / "d.csv"),
                          "--treatment", "treated", "--outcome", "y", "--plot", str(fig),
                          "--out", str(tmp_path / "r.csv"), *FAST)
    assert code == 0, err
    assert "2 covariates" in out and fig.stat().st_size > 5000
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tab = pd.read_csv(tmp_path / "r.csv")
    assert (abs(tab["estimate"] - 1.0) < 0.1).all()


@pytest.mark.parametrize("argv, needles", [
    (["--data", "lalonde", "--covariates", "age", "nonexistent"], ["'nonexistent'"]),
    (["--data", "lalonde", "--treatment", "treatt"], ["'treatt'"]),
    (["--data", "no/such/file.csv"], ["not found", "file.csv"]),
    (["--data", "lalonde", "--methods", "psm", "magic"], ["unknown method 'magic'"]),
    (["--data", "nosuchdata"], ["unknown data set 'nosuchdata'", "lalonde_psid"]),
    (["--data", "lalonde", "--out", "res.txt"], ["--out must end in .csv or .json"]),
    (["--data", "lalonde", "--plot", "fig.nope"], ["unknown image format 'nope'"]),
    (["--data", "lalonde", "--estimand", "ATX"], ["invalid choice"]),
    (["--data", "lalonde", "--caliper", "wide"], ["--caliper", "positive number", "'wide'"]),
    (["--data", "lalonde", "--caliper", "-1"], ["--caliper", "positive number", "'-1'"]),
    (["--data", "lalonde", "--caliper", "nan"], ["--caliper", "positive number"]),
    (["--data", "lalonde", "--n-neighbors", "-1"], ["--n-neighbors", "positive integer"]),
    (["--data", "lalonde", "--n-neighbors", "1.5"], ["--n-neighbors", "'1.5'"]),
    (["--data", "lalonde", "--seed", "-1"], ["--seed", "non-negative integer"]),
    (["--data", "lalonde", "--n-jobs", "0"], ["--n-jobs", "non-zero integer"]),
    (["--data", "lalonde", "--epochs", "0"], ["--epochs", "positive integer"]),
    (["--data", "lalonde", "--n-bootstrap", "1"], ["--n-bootstrap", "at least 2"]),
    (["--data", "lalonde", "--eval-points", "0"], ["--eval-points", "positive integer"]),
    (["--treatment", "treat"], ["--data"]),
])
def test_user_mistakes_exit_2_with_one_line(capsys, argv, needles):
    with pytest.raises(SystemExit) as info:          # argparse's own errors exit
        raise SystemExit(main(["compare", *argv]))
    assert info.value.code == 2
    _one_line_error(capsys.readouterr().err, *needles)


def test_bad_csv_files(capsys, tmp_path):
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81\x00garbage\x00\n\x00\x9f")
    code, _, err = _run(capsys, "compare", "--data", str(tmp_path / "bin.csv"),
                        "--treatment", "t", "--outcome", "y")
    assert code == 2
    _one_line_error(err, "bin.csv")
    (tmp_path / "text.csv").write_text("t,y,x\n1,2.0,a\n0,1.0,b\n1,3.0,c\n0,1.5,d\n")
    code, _, err = _run(capsys, "compare", "--data", str(tmp_path / "text.csv"),
                        "--treatment", "t", "--outcome", "y", *FAST)
    assert code == 2
    _one_line_error(err, "'x'")
    code, _, err = _run(capsys, "compare", "--data", str(tmp_path / "text.csv"),
                        "--outcome", "y")
    assert code == 2
    _one_line_error(err, "--treatment")


def test_datasets_command(capsys, tmp_path):
    code, out, _ = _run(capsys, "datasets")
    assert code == 0
    lines = out.splitlines()
    names = [ln.split()[0] for ln in lines[1:-1]]
    # one registry: the command lists the loaders' catalogue, in its order, and its aliases
    assert names == list(csm.datasets.list_datasets()["name"])
    assert lines[-1] == "Short names: lalonde = lalonde_nsw, ihdp = ihdp_b; '-' may stand for '_'."
    for spelling in ("lalonde_psid", "LaLonde-PSID"):
        code, _, err = _run(capsys, "compare", "--data", spelling, "--methods", "psm",
                            "--quiet", "--out", str(tmp_path / "r.json"))
        assert code == 0, err
        assert json.loads((tmp_path / "r.json").read_text())["data"] == "lalonde_psid"


@pytest.mark.skipif(not hasattr(csm.datasets, "load_dataset"), reason="no catalogue")
def test_catalogue_data_sets(capsys, tmp_path):
    path = tmp_path / "ihdp.json"
    code, out, err = _run(capsys, "compare", "--data", "ihdp-a", "--out", str(path), *FAST)
    assert code == 0, err
    doc = json.loads(path.read_text())
    df = csm.datasets.load_dataset("ihdp_a")
    assert doc["truth"] == pytest.approx(df.attrs["true_effect"]["ATT"])
    assert doc["covariates"] == df.attrs["covariates"] and doc["outcome"] == "y"
    assert "True ATT:" in out
    code, _, err = _run(capsys, "compare", "--data", "rossi")
    assert code == 2
    _one_line_error(err, "survival data", "hazard_ratio")


def _module(*argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "causalsm", *argv], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_python_dash_m():
    ok = _module("datasets")
    assert ok.returncode == 0 and "lalonde_psid" in ok.stdout
    bad = _module("compare", "--data", "lalonde", "--methods", "psm", "nope")
    assert bad.returncode == 2
    _one_line_error(bad.stderr, "unknown method 'nope'")
    assert bad.stdout == ""
    none = _module()
    assert none.returncode == 2 and "compare" in none.stdout
