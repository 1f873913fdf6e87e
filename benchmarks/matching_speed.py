"""Speed of ``causalsm.match`` against R MatchIt, R Matching and DoWhy.

Run from the repository root::

    python benchmarks/matching_speed.py                 # n = 1e4, 1e5, 1e6
    python benchmarks/matching_speed.py --quick         # n = 1e4, 1e5, fewer repeats
    python benchmarks/matching_speed.py --sizes 10000 100000 --no-r --no-dowhy

Data (seeded): ``n`` units, five N(0, 1) covariates, treatment from a logistic
model whose intercept is set so that 10% of the units are treated; the scalar
score is the logit of that propensity score (continuous, so no exact ties).

causalsm configurations timed (``causalsm.match``, ATT):

* ``1:1 repl, ties``: with replacement, default ``ties=True`` and
  ``distance_tolerance=1e-5`` (R Matching's tie rule: every control whose squared
  standardized distance is within 1e-5 of the nearest one is kept);
* ``1:1 repl, tol=0``: with replacement, ``distance_tolerance=0`` (only exact ties
  are kept: the nearest-neighbour problem MatchIt and DoWhy solve);
* ``1:1 no repl``: greedy without replacement, ``order="data"``;
* ``5-NN repl, 5-d``: 5 neighbours with replacement on the five covariates
  (KD-tree), no peer.

Peers, where installed, on the same score: R MatchIt ``matchit(method="nearest",
distance=<score>, ratio=1, m.order="data", replace=TRUE/FALSE)``, R Matching
``Match(X=<score>, estimand="ATT", M=1, replace=TRUE, ties=TRUE, version="fast")``
and DoWhy ``backdoor.propensity_score_matching`` (target_units="att") with the
score given as its propensity-score column.  Only the matching call is timed
(``proc.time()`` around ``matchit()``/``Match()`` in R; ``estimate_effect`` for
DoWhy).  Peers whose predicted time at a size exceeds ``--peer-budget`` seconds
are skipped ("skipped (too slow)").

DoWhy pins an older SciPy, so it is best installed in its own virtual
environment; point ``--dowhy-python`` (or the ``CAUSALSM_DOWHY_PYTHON``
environment variable) at that interpreter.  Without it, the current interpreter
is used when it can import dowhy.

Sanity checks printed: matched treated counts equal MatchIt's; Matching's pair
count (ties included) equals causalsm's with ties; at n = 1000 the matched
control of each treated unit agrees with MatchIt (with and without replacement),
the pair set agrees with Matching's, and DoWhy's ATT equals the ATT computed
from causalsm's pairs.  The MatchIt comparison is made twice: with the score as
is, and multiplied by 1e6, because MatchIt 4.5.1's algorithm for a numeric
``distance`` compares candidate distances with an integer ``abs()`` (see
``matchit_speed.R``) and so does not return the nearest control when the
distances differ by less than 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
R_HELPER = HERE / "matchit_speed.R"

CAUSALSM_CONFIGS = {
    # key: (label, kwargs for causalsm.match, uses the 5-d score)
    "ties": ("causalsm 1:1 repl, ties", dict(replace=True), False),
    "tol0": ("causalsm 1:1 repl, tol=0", dict(replace=True, distance_tolerance=0.0), False),
    "norepl": ("causalsm 1:1 no repl", dict(replace=False, order="data"), False),
    "knn5": ("causalsm 5-NN repl, 5-d", dict(replace=True, n_neighbors=5), True),
}
# peer key: (label, causalsm config it is compared with)
PEERS = {
    "matchit_repl": ("MatchIt 1:1 repl", "tol0"),
    "matchit_norepl": ("MatchIt 1:1 no repl", "norepl"),
    "matching": ("Matching::Match repl, ties", "ties"),
    "dowhy": ("DoWhy PSM (att)", "tol0"),
}


# ----------------------------------------------------------------------------- data
def simulate(n: int, seed: int = 20240601):
    """Five normal covariates, 10% treated from a logistic model, an outcome."""
    rng = np.random.default_rng(seed + n)
    X = rng.standard_normal((n, 5))
    beta = np.array([0.6, -0.5, 0.4, 0.3, -0.2])
    lin = X @ beta
    lo, hi = -10.0, 10.0                      # intercept giving a 10% treated share
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + lin)))) > 0.10:
            hi = mid
        else:
            lo = mid
    logit = (lo + hi) / 2 + lin
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    y = X @ np.array([1.0, 0.5, -0.5, 0.25, 0.0]) + 1.0 * t + rng.standard_normal(n)
    return X, logit, t, y


def write_csv(path: Path, X, score, t, y) -> None:
    import pandas as pd
    frame = pd.DataFrame({"treat": t, "score": score, "y": y})
    for j in range(X.shape[1]):
        frame[f"x{j + 1}"] = X[:, j]
    frame.to_csv(path, index=False, float_format="%.17g")


# ------------------------------------------------------------------------- timing
def time_causalsm(key: str, X, score, t, repeats: int):
    import causalsm
    _, kwargs, five_d = CAUSALSM_CONFIGS[key]
    s = X if five_d else score
    best, res_info = np.inf, None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        m = causalsm.match(s, t, **kwargs)
        el = time.perf_counter() - t0
        best = min(best, el)
        res_info = dict(n_matched=m.n_matched, n_pairs=m.n_pairs)
        del m
        if el > 30:                           # one run is enough for slow cases
            break
    return best, res_info


def predict(history: list[tuple[int, float]], n: int, default_exp: float = 1.0) -> float:
    """Extrapolate a time to size n from earlier (size, seconds) measurements."""
    pts = [(a, b) for a, b in history if b and b > 0]
    if not pts:
        return 0.0
    if len(pts) >= 2:
        (n1, s1), (n2, s2) = pts[-2], pts[-1]
        exp = max(default_exp, np.log(s2 / s1) / np.log(n2 / n1)) if s1 > 0.05 else default_exp
    else:
        n2, s2 = pts[-1]
        exp = default_exp
    return s2 * (n / n2) ** exp


def parse_kv(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if "elapsed=" in line:
            out = {}
            for tok in line.split():
                k, _, v = tok.partition("=")
                out[k] = v
            return out
    raise RuntimeError(f"no result line in output:\n{text[-2000:]}")


def run_r(args: list[str], timeout: float) -> dict:
    proc = subprocess.run(["Rscript", str(R_HELPER), *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    kv = parse_kv(proc.stdout)
    return {"seconds": float(kv["elapsed"]), "n_matched": int(kv["n_matched_treated"]),
            "n_pairs": int(kv["n_pairs"]), "version": kv.get("version", "?")}


def r_available() -> tuple[bool, dict]:
    if shutil.which("Rscript") is None:
        return False, {}
    code = ('for (p in c("MatchIt", "Matching")) cat(p, "=", tryCatch(as.character('
            'packageVersion(p)), error = function(e) "NA"), "\\n", sep = ""); '
            'cat("R=", paste(R.version$major, R.version$minor, sep = "."), "\\n", sep = "")')
    proc = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    vers = dict(line.split("=", 1) for line in proc.stdout.split() if "=" in line)
    return proc.returncode == 0, vers


def dowhy_python(arg: str | None) -> str | None:
    cand = arg or os.environ.get("CAUSALSM_DOWHY_PYTHON")
    if cand:
        return cand
    try:
        import dowhy  # noqa: F401
        return sys.executable
    except Exception:
        return None


def dowhy_worker(csv: str) -> None:
    """Runs inside the DoWhy interpreter: time estimate_effect, print one JSON line."""
    import logging
    import warnings
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import dowhy
    import pandas as pd
    from dowhy import CausalModel
    data = pd.read_csv(csv)
    covs = [c for c in data.columns if c.startswith("x")]
    model = CausalModel(data=data, treatment="treat", outcome="y", common_causes=covs)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    t0 = time.perf_counter()
    est = model.estimate_effect(estimand, method_name="backdoor.propensity_score_matching",
                                target_units="att",
                                method_params={"init_params": {
                                    "propensity_score_column": "score"}})
    el = time.perf_counter() - t0
    print(json.dumps({"elapsed": el, "estimate": float(est.value),
                      "version": dowhy.__version__}))


def run_dowhy(py: str, csv: Path, timeout: float) -> dict:
    proc = subprocess.run([py, str(Path(__file__).resolve()), "--dowhy-worker", str(csv)],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"seconds": res["elapsed"], "estimate": res["estimate"], "version": res["version"]}


# ----------------------------------------------------------------- sanity checks
def agreement_checks(use_r: bool, dowhy_py: str | None, tmp: Path) -> list[str]:
    """n = 1000: compare the pairs themselves."""
    import causalsm
    n = 1000
    X, score, t, y = simulate(n)
    csv = tmp / "agree.csv"
    write_csv(csv, X, score, t, y)
    lines = [f"Agreement at n = {n} ({int(t.sum())} treated):"]
    m0 = causalsm.match(score, t, replace=True, distance_tolerance=0.0)
    m_ties = causalsm.match(score, t, replace=True)
    m_nr = causalsm.match(score, t, replace=False, order="data")
    ties_per_treated = m_ties.n_pairs / m_ties.n_matched
    lines.append(f"  causalsm default tie rule (1e-5 on squared SD distance): "
                 f"{ties_per_treated:.2f} controls per treated unit")

    def as_map(m):
        return dict(zip(m.focal.tolist(), m.matched.tolist()))

    if use_r:
        tie_sets: dict[int, set] = {}
        for f, c in zip(m_ties.focal.tolist(), m_ties.matched.tolist()):
            tie_sets.setdefault(f, set()).add(c)
        for replace, mm, label in ((True, m0, "with replacement vs causalsm tol=0"),
                                   (False, m_nr, "without replacement (order data)")):
            for scale in (1.0, 1e6):
                out = tmp / f"pairs_{replace}_{scale:g}.csv"
                run_r(["matchit", str(csv), "TRUE" if replace else "FALSE", f"{scale:g}",
                       str(out)], 300)
                r = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64) - 1
                r = r.reshape(-1, 2)
                ours = as_map(mm)
                same = np.mean([ours.get(a) == b for a, b in r]) if len(r) else np.nan
                extra = ""
                if replace:
                    inset = np.mean([b in tie_sets.get(a, ()) for a, b in r])
                    extra = f"; in causalsm's default tie set for {inset:.1%}"
                lines.append(f"  MatchIt {label}, distance = score x {scale:g}: same control "
                             f"for {same:.1%} of {len(r)} treated units{extra}")
        out = tmp / "pairs_matching.csv"
        run_r(["matching", str(csv), str(out)], 300)
        r = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64).reshape(-1, 2) - 1
        theirs = set(map(tuple, r.tolist()))
        ours = set(zip(m_ties.focal.tolist(), m_ties.matched.tolist()))
        lines.append(f"  Matching::Match (ties): {len(theirs)} pairs vs causalsm "
                     f"{len(ours)}; identical pair sets: {theirs == ours} "
                     f"(Jaccard {len(theirs & ours) / max(1, len(theirs | ours)):.4f})")
    if dowhy_py:
        try:
            d = run_dowhy(dowhy_py, csv, 300)
            att = float(np.mean(y[m0.focal] - y[m0.matched]))
            lines.append(f"  DoWhy ATT {d['estimate']:.10f} vs ATT from causalsm tol=0 "
                         f"pairs {att:.10f} (equal: {abs(d['estimate'] - att) < 1e-9})")
        except Exception as exc:               # pragma: no cover - depends on the install
            lines.append(f"  DoWhy check failed: {str(exc).strip().splitlines()[-1]}")
    return lines


# ------------------------------------------------------------------------- main
def fmt_s(x) -> str:
    if isinstance(x, str):
        return x
    return f"{x:.3f}" if x < 100 else f"{x:.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 1e4, 1e5; fewer repeats")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--no-r", action="store_true", help="skip MatchIt and Matching")
    ap.add_argument("--no-dowhy", action="store_true", help="skip DoWhy")
    ap.add_argument("--dowhy-python", default=None,
                    help="interpreter with dowhy installed (default: $CAUSALSM_DOWHY_PYTHON "
                         "or the current one)")
    ap.add_argument("--peer-budget", type=float, default=120.0,
                    help="skip a peer at a size when its predicted time exceeds this (s)")
    ap.add_argument("--knn-budget", type=float, default=60.0,
                    help="skip 5-NN 5-d at 1e6 when predicted above this (s)")
    ap.add_argument("--matching-max-n", type=int, default=100_000,
                    help="largest n for Matching::Match (quadratic)")
    ap.add_argument("--dowhy-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.dowhy_worker:
        dowhy_worker(a.dowhy_worker)
        return 0

    import causalsm
    import pandas as pd
    import scipy
    import sklearn

    sizes = a.sizes or ([10_000, 100_000] if a.quick else [10_000, 100_000, 1_000_000])
    sizes = sorted(sizes)
    use_r, r_vers = (False, {}) if a.no_r else r_available()
    if not a.no_r and not use_r:
        print("R not available: MatchIt and Matching skipped")
    has_matchit = use_r and r_vers.get("MatchIt", "NA") != "NA"
    has_matching = use_r and r_vers.get("Matching", "NA") != "NA"
    dpy = None if a.no_dowhy else dowhy_python(a.dowhy_python)
    if not a.no_dowhy and dpy is None:
        print("DoWhy not importable (pip install dowhy, or --dowhy-python PATH): skipped")

    print(f"causalsm {causalsm.__version__}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, pandas {pd.__version__}, scikit-learn {sklearn.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    if use_r:
        print(f"R {r_vers.get('R')}, MatchIt {r_vers.get('MatchIt')}, "
              f"Matching {r_vers.get('Matching')}")

    rows = []          # dicts: method, key, n, seconds (float or str), pairs, vs
    hist: dict[str, list] = {}
    base: dict[tuple[str, int], float] = {}
    sanity: list[str] = []
    dowhy_version = None
    tmp = Path(tempfile.mkdtemp(prefix="causalsm_bench_"))

    def add(key, label, n, seconds, pairs=None, vs=None, note=""):
        rows.append(dict(method=label, key=key, n=n, seconds=seconds, pairs=pairs, vs=vs,
                         note=note))
        ratio = ""
        if vs and isinstance(seconds, float) and (vs, n) in base:
            ratio = f"{seconds / base[(vs, n)]:.1f}x"
        print(f"{label:<30} n={n:>9,}  {fmt_s(seconds):>22}  "
              f"{'' if pairs is None else f'pairs={pairs:,}':<18} {ratio}", flush=True)

    try:
        for n in sizes:
            X, score, t, y = simulate(n)
            print(f"\n--- n = {n:,} ({int(t.sum()):,} treated)", flush=True)
            repeats = 1 if a.quick else 3
            if n >= 1_000_000:
                repeats = 2
            info = {}
            for key, (label, _, _) in CAUSALSM_CONFIGS.items():
                pred = predict(hist.get(key, []), n)
                if key == "knn5" and n >= 1_000_000 and pred > a.knn_budget:
                    add(key, label, n, f"skipped (> {a.knn_budget:.0f} s predicted)")
                    continue
                sec, info[key] = time_causalsm(key, X, score, t, repeats)
                hist.setdefault(key, []).append((n, sec))
                base[(key, n)] = sec
                note = ""
                if key == "knn5" and sec > a.knn_budget:
                    note = f"took > {a.knn_budget:.0f} s"
                add(key, label, n, sec, info[key]["n_pairs"], note=note)

            need_csv = has_matchit or has_matching or dpy
            csv = tmp / f"data_{n}.csv"
            if need_csv:
                write_csv(csv, X, score, t, y)
            peers_here = []
            if has_matchit:
                peers_here += ["matchit_repl", "matchit_norepl"]
            if has_matching:
                peers_here.append("matching")
            if dpy:
                peers_here.append("dowhy")
            for pk in peers_here:
                label, vs = PEERS[pk]
                if pk == "matching" and n > a.matching_max_n:
                    add(pk, label, n, f"skipped (quadratic, n > {a.matching_max_n:,})", vs=vs)
                    continue
                pred = predict(hist.get(pk, []), n, default_exp=2.0 if pk == "matching"
                               else 1.0)
                if pred > a.peer_budget:
                    add(pk, label, n, f"skipped (too slow, ~{pred:.0f} s predicted)", vs=vs)
                    continue
                try:
                    if pk == "dowhy":
                        res = run_dowhy(dpy, csv, timeout=max(4 * a.peer_budget, 300))
                        dowhy_version = res["version"]
                        add(pk, label, n, res["seconds"], vs=vs)
                    else:
                        rargs = (["matchit", str(csv), "TRUE" if pk == "matchit_repl"
                                  else "FALSE"] if pk.startswith("matchit")
                                 else ["matching", str(csv)])
                        res = run_r(rargs, timeout=max(4 * a.peer_budget, 300))
                        add(pk, label, n, res["seconds"], res["n_pairs"], vs=vs)
                        if pk.startswith("matchit"):
                            ck = "tol0" if pk == "matchit_repl" else "norepl"
                            ok = res["n_matched"] == info[ck]["n_matched"]
                            sanity.append(f"n={n:,} {label}: matched treated MatchIt "
                                          f"{res['n_matched']:,} vs causalsm "
                                          f"{info[ck]['n_matched']:,} -> "
                                          f"{'OK' if ok else 'MISMATCH'}")
                        else:
                            ok = res["n_pairs"] == info["ties"]["n_pairs"]
                            line = (f"n={n:,} {label}: pairs incl. ties Matching "
                                    f"{res['n_pairs']:,} vs causalsm "
                                    f"{info['ties']['n_pairs']:,} -> "
                                    f"{'OK' if ok else 'MISMATCH'}")
                            if not ok:
                                # Matching's tie threshold acts as tol * N / (N - 1) in
                                # causalsm's units (pairs within ~1e-10 of the edge)
                                m2 = causalsm.match(score, t, distance_tolerance=1e-5 * n
                                                    / (n - 1))
                                line += (f"; causalsm with distance_tolerance=1e-5*N/(N-1): "
                                         f"{m2.n_pairs:,}")
                                del m2
                            sanity.append(line)
                    hist.setdefault(pk, []).append((n, res["seconds"]))
                except subprocess.TimeoutExpired:
                    add(pk, label, n, "skipped (too slow, timed out)", vs=vs)
                    hist.setdefault(pk, []).append((n, 1e9))
                except Exception as exc:
                    msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
                    add(pk, label, n, f"failed: {msg[:60]}", vs=vs)
            if csv.exists():
                csv.unlink()
            del X, score, t, y
            gc.collect()

        if use_r or dpy:
            print()
            sanity += agreement_checks(has_matchit and has_matching, dpy, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if sanity:
        print("\nSanity checks")
        for line in sanity:
            print("  " + line)

    # markdown table
    print("\n| method | n | seconds | pairs | vs causalsm config | ratio peer/causalsm |")
    print("|---|---:|---:|---:|---|---:|")
    for r in rows:
        ratio = ""
        if r["vs"] and isinstance(r["seconds"], float) and (r["vs"], r["n"]) in base:
            ratio = f"{r['seconds'] / base[(r['vs'], r['n'])]:.1f}"
        vs = CAUSALSM_CONFIGS[r["vs"]][0].replace("causalsm ", "") if r["vs"] else ""
        sec = fmt_s(r["seconds"]) + (f" ({r['note']})" if r["note"] else "")
        pairs = "" if r["pairs"] is None else f"{r['pairs']:,}"
        print(f"| {r['method']} | {r['n']:,} | {sec} | {pairs} | {vs} | {ratio} |")
    if dowhy_version:
        print(f"\nDoWhy {dowhy_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
