"""Pilot for issue 16: which bootstrap (resample size m, SE rule) makes the bands cover.

For each replication of the ``linear`` design (normal GPS, n units, data seeds 70,000 +
rep, disjoint from ``exposure_response_sim.py coverage``'s 50,000 + rep; ``--seed-base
50000`` uses the coverage run's data sets, and ``summary --sd-from SETTINGS_CSV`` then
also scores the SE against the estimate's SD over that file's 200 ``default`` rows, which
is far less noisy than the pilot's own SD), the default
estimator is fitted once, then for each resample size ``m`` one bootstrap is run whose
replicates refit the GPS, re-match and fit the local-quadratic curve twice: at the
bandwidth cross-validated on the replicate (as ``ExposureResponse`` does) and at the
full-sample bandwidth held fixed.  The replicate curves are saved, so that every way of
turning them into a standard error ("sqrt": ``sd sqrt(m/n)``; "rate": also
``sqrt(h_m/h_n)``; fixed bandwidth with ``sqrt``) is scored on the same draws.

    nice python benchmarks/exposure_response_boot_pilot.py run --reps 50 --boot 100 --out DIR
    python benchmarks/exposure_response_boot_pilot.py summary DIR
    nice python benchmarks/exposure_response_boot_pilot.py run DIR --reps 50 --set full \
        --seed-base 50000
    python benchmarks/exposure_response_boot_pilot.py summary DIR --set full \
        --sd-from benchmarks/results/exposure_settings.csv
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).parent))
from exposure_response_sim import COVS, points  # noqa: E402

from causalsm.datasets import causalgps_erf, simulate_causalgps  # noqa: E402
from causalsm.estimators.continuous import ExposureResponse, GPSMatching  # noqa: E402
from causalsm.inference import resample_replicates  # noqa: E402
from causalsm.scores.density import make_gps  # noqa: E402


def sizes(n: int, kind: str = "sizes") -> dict:
    """Resample schemes, ``name -> (m, replace)``: the resample sizes of the first pilot
    (with replacement), with-replacement against subsampling (``--set subsampling``), or
    the n-out-of-n bootstrap (``--set full``)."""
    if kind == "full":
        return {"n": (n, True)}
    if kind == "subsampling":
        return {"n^0.9": (int(n ** 0.9), True), "n^0.9 w/o": (int(n ** 0.9), False),
                "n/2 w/o": (n // 2, False)}
    return {"2sqrt": (int(2 * np.sqrt(n)), True), "n^0.8": (int(n ** 0.8), True),
            "n/2": (n // 2, True)}


def one(rep: int, n: int, boot: int, pts: np.ndarray, out: Path, kind: str,
        seed_base: int = 70_000) -> None:
    df = simulate_causalgps(n, 1, random_state=seed_base + rep)
    X, w, y = df[COVS].to_numpy(), df["w"].to_numpy(), df["Y"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = ExposureResponse(GPSMatching(gps=make_gps("normal", rep)), eval_points=pts,
                               n_bootstrap=0, random_state=rep).fit(df[COVS], df["w"], df["Y"])
    d = est.design_
    template = clone(d).set_params(delta_n=d.delta_n_, scale=d.scale_, max_attempt=1)
    h_n = est.smoother_.bandwidth_
    cv = clone(est.smoother_).set_params(bandwidth=est.smoother_.details_["bandwidth_grid"])
    fixed = clone(est.smoother_).set_params(bandwidth=h_n)

    def replicate(idx, rng):
        design = clone(template)
        if design.random_state is not None:
            design.set_params(random_state=int(rng.integers(2 ** 31 - 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            design.fit(X[idx], w[idx])
            k = design.kept_
            args = (w[idx][k], y[idx][k], design.weights_[k], pts)
            a = clone(cv).fit(*args)
            b = clone(fixed).fit(*args)
        return np.concatenate([a.predict(pts), [a.bandwidth_], b.predict(pts)])

    save = {"estimate": est.result_.estimate, "truth": causalgps_erf(pts), "h_n": h_n}
    for name, (m, replace) in sizes(n, kind).items():
        draws, _ = resample_replicates(replicate, n, size=m, n_replicates=boot,
                                       replace=replace, random_state=1_000 + rep)
        save[name] = draws
    np.savez(out / f"rep{rep:04d}.npz", **save)


def _se(curves, factor):
    dev = (curves - np.nanmean(curves, 0)) * factor[:, None]
    return np.sqrt(np.nansum(dev ** 2, 0) / (np.isfinite(dev).sum(0) - 1)), dev


def summary(out: Path, n: int, kind: str, sd_from: Path | None = None) -> None:
    files = sorted(out.glob("rep*.npz"))
    z = stats.norm.ppf(0.975)
    rows, per_point = [], {}
    ref = None
    if sd_from is not None:        # the estimate's SD over the settings run's data sets
        d = pd.read_csv(sd_from)
        ref = d[d["setting"] == "default"].filter(regex=r"^e\d+$").std(ddof=1).to_numpy()
    for f in files:
        s = np.load(f)
        est, truth, h_n = s["estimate"], s["truth"], float(s["h_n"])
        k = est.size
        for name, (m, replace) in sizes(n, kind).items():
            d = s[name]
            cv, h, fx = d[:, :k], d[:, k], d[:, k + 1:]
            # subsampling m of n without replacement: the replicates' variance is
            # V_m - V_n, so V_n = var * m / (n - m) (the delete-d jackknife's factor)
            base = np.full(len(d), np.sqrt(m / n if replace else m / (n - m)))
            for variant, curves, factor in (
                    ("cv bandwidth, sqrt", cv, base),
                    ("cv bandwidth, rate", cv, base * np.sqrt(h / h_n)),
                    ("fixed bandwidth, sqrt", fx, base)):
                se, dev = _se(curves, factor)
                t = np.nanmax(np.abs(dev) / se, 1)
                crit = np.quantile(t[np.isfinite(t)], 0.95)
                err = est - truth
                for j in range(k):
                    per_point.setdefault((name, m, variant), []).append(
                        (f.stem, j, err[j], se[j], abs(err[j]) <= z * se[j],
                         bool(np.all(np.abs(err) <= crit * se))))
    for (name, m, variant), r in list(per_point.items()):
        fr = pd.DataFrame(r, columns=["rep", "point", "error", "se", "covered", "band"])
        p = fr.groupby("point").agg(sd=("error", "std"), se=("se", "mean"),
                                    cov=("covered", "mean"))
        inner = p.loc[1:k - 2]
        rows.append({"m": f"{name} = {m}", "SE": variant, "reps": fr["rep"].nunique(),
                     "mean cov (1-13)": inner["cov"].mean(), "min (1-13)": inner["cov"].min(),
                     "max (1-13)": inner["cov"].max(),
                     "cov 0 / 14": f"{p['cov'].iloc[0]:.2f} / {p['cov'].iloc[-1]:.2f}",
                     "band": fr.groupby("rep")["band"].first().mean(),
                     "se/sd (1-13)": float((inner["se"] / inner["sd"]).mean()),
                     **({} if ref is None else {
                         "se/sd_ref (1-13)": float((inner["se"] / ref[1:k - 1]).mean())}),
                     "se/sd 0 / 14": f"{p['se'].iloc[0] / p['sd'].iloc[0]:.2f} / "
                                     f"{p['se'].iloc[-1] / p['sd'].iloc[-1]:.2f}"})
        per_point[(name, m, variant)] = p
    t = pd.DataFrame(rows)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return per_point


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["run", "summary"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--set", dest="kind", choices=["sizes", "subsampling", "full"],
                    default="sizes",
                    help="resample sizes with replacement (the first pilot), "
                         "with replacement against subsampling, or m = n")
    ap.add_argument("--seed-base", type=int, default=70_000,
                    help="data seeds seed_base + rep (50,000: the coverage run's data sets)")
    ap.add_argument("--sd-from", type=Path,
                    help="summary: a settings CSV whose 'default' rows give the reference SD")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.part == "summary":
        summary(a.out, a.n, a.kind, a.sd_from)
        return
    pts = points("linear")
    start = time.time()
    for rep in range(a.start, a.reps):
        if not (a.out / f"rep{rep:04d}.npz").exists():
            one(rep, a.n, a.boot, pts, a.out, a.kind, a.seed_base)
        print(f"rep {rep} done, {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
