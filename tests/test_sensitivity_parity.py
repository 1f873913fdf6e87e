"""causalsm.sensitivity against the R packages and the printed textbook values.

The references are in tests/fixtures/r/sensitivity_reference.json, made by
tests/fixtures/r/make_sensitivity_reference.R (rbounds 2.2, sensitivitymw 2.1,
sensitivitymv 1.4.3, sensitivity2x2xk 1.01, sensitivityfull 1.5.6, senstrat 1.0.3,
EValue 4.1.4, DOS2 0.5.2): the packages' own example data, textbook examples quoted
with their printed digits, and matched LaLonde data (pairs, 1:3 sets, variable sets,
full matching, subclassification).  Unless said otherwise values agree to 1e-8
(relative, or absolute for p-values below 1e-8).
"""

import json
from math import floor, log10
from pathlib import Path

import numpy as np
import pytest

import causalsm as csm
from causalsm import sensitivity as sen
from causalsm.sensitivity.m_statistics import _stratum_moments

REF = json.loads((Path(__file__).parent / "fixtures" / "r" / "sensitivity_reference.json")
                 .read_text())
DATA = REF["data"]


def close(a, b, rtol=1e-8, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=float),
                               np.asarray([np.nan if v is None else v for v in b]
                                          if isinstance(b, list) else b, dtype=float),
                               rtol=rtol, atol=atol)


def close_interval(got, ref, rtol):
    """``null`` in the fixture is R's ``Inf`` (a one-sided interval)."""
    close([v for v, r in zip(got, ref) if r is not None], [r for r in ref if r is not None],
          rtol=rtol)
    assert all(np.isinf(v) for v, r in zip(got, ref) if r is None)


def matrix(rows):
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)


def signif(x, digits):
    return 0.0 if x == 0 else round(x, digits - int(floor(log10(abs(x)))) - 1)


LEAD = np.column_stack([DATA["lead"]["exposed"], DATA["lead"]["control"]])
ERPCP = matrix(DATA["erpcp"])
MERCURY = matrix(DATA["mercury"])

# senmw / senmv presets as explicit options
MW_PRESETS = {"": {}, "h": {}, "w": {"weights": (12, 20, 20)}, "l": {"weights": (12, 19, 20)},
              "q": {"weights": (2, 2, 2)}, "f": {"weights": (14, 20, 20)},
              "s": {"weights": (16, 20, 20)}, "t": {"trim": np.inf},
              "p": {"inner": 0.5, "trim": 2.0}}
MV_PRESETS = {"": {"trim": 2.5}, "i": {"inner": 0.5, "trim": 2.5},
              "t": {"trim": np.inf, "tont": True}, "w": {"trim": 3.0, "weights": (12, 20, 20)}}


def check_bound(got, ref, rtol=1e-8, atol=1e-12):
    close([got.statistic, got.expectation, got.variance, got.deviate],
          [ref["statistic"], ref["expectation"], ref["variance"], ref["deviate"]], rtol=rtol,
          atol=atol)
    close(got.p_value, ref["pval"], rtol=rtol, atol=1e-15)


# ------------------------------------------------------------------ rbounds
@pytest.mark.parametrize("name, data", [("psens_lead", LEAD), ("psens_erpcp", ERPCP)])
def test_psens(name, data):
    ref = REF["rbounds"][name]
    for i, g in enumerate(ref["unrounded"]["gamma"]):
        r = sen.signed_rank_test(data, g)
        close(r.p_upper, ref["unrounded"]["upper"][i], atol=1e-15)
        close(r.p_lower, ref["unrounded"]["lower"][i], atol=1e-15)
        assert round(r.p_upper, 4) == pytest.approx(ref["rounded"]["upper"][i], abs=1e-12)
        assert round(r.p_lower, 4) == pytest.approx(ref["rounded"]["lower"][i], abs=1e-12)


@pytest.mark.parametrize("name, data", [("hlsens_lead_pr0.1", LEAD),
                                        ("hlsens_lead_pr0.01", LEAD),
                                        ("hlsens_erpcp_pr0.01", ERPCP)])
def test_hlsens(name, data):
    ref = REF["rbounds"][name]
    for i, g in enumerate(ref["unrounded"]["gamma"]):
        lo, hi = sen.hodges_lehmann_bounds(data, g, method="rbounds", step=ref["pr"])
        close([lo, hi], [ref["unrounded"]["lower"][i], ref["unrounded"]["upper"][i]])
        assert signif(lo, 5) == pytest.approx(ref["rounded"]["lower"][i], rel=1e-12)
        assert signif(hi, 5) == pytest.approx(ref["rounded"]["upper"][i], rel=1e-12)


def test_wilcox_pseudomedian_is_r_to_the_last_digit():
    from causalsm.sensitivity.signed_rank import wilcoxon_pseudomedian
    assert wilcoxon_pseudomedian(LEAD[:, 0] - LEAD[:, 1]) == pytest.approx(
        REF["rbounds"]["wilcox_estimate_lead"], rel=1e-14)
    assert wilcoxon_pseudomedian(ERPCP[:, 0] - ERPCP[:, 1]) == pytest.approx(
        REF["rbounds"]["wilcox_estimate_erpcp"], rel=1e-14)


def test_binarysens_and_exact_mcnemar():
    ref = REF["rbounds"]["binarysens_12_110"]
    for i, g in enumerate(ref["unrounded"]["gamma"]):
        r = sen.mcnemar_test(12, 110, g, rbounds=True)
        close([r.p_upper, r.p_lower], [ref["unrounded"]["upper"][i],
                                       ref["unrounded"]["lower"][i]], atol=1e-15)
        assert round(r.p_upper, 5) == pytest.approx(ref["rounded"]["upper"][i], abs=1e-12)
    exact = REF["rbounds"]["mcnemar_exact_12_110"]
    for g, up, via_mh in zip(exact["gamma"], exact["upper"], exact["mh"]):
        r = sen.mcnemar_test(110, 12, g)
        close(r.p_upper, up)
        close(r.p_upper, via_mh, rtol=1e-7)      # mh's FFT convolution (see the module)


def test_critical_gamma_of_psens():
    res = sen.rosenbaum_bounds(LEAD, [1, 2], statistic="wilcoxon", alternative="greater")
    close(res.critical_gamma, REF["rbounds"]["psens_lead_critical_gamma"], rtol=1e-9)


# ---------------------------------------------------------- sensitivitymw / mv
def _mw_case(name):
    data = {"lead_d": LEAD[:, 0] - LEAD[:, 1], "hand": matrix(DATA["hand"]), "erpcp": ERPCP,
            "mercury": MERCURY}
    key = next(k for k in data if name.startswith(k + "_"))
    rest = name[len(key) + 1:].split("_")
    opts, gamma, tau = {}, None, 0.0
    for part in rest:
        if part.startswith("g") and part[1:].replace(".", "").isdigit():
            gamma = float(part[1:])
        elif part.startswith("trim"):
            opts["trim"] = float(part[4:])
        elif part.startswith("tau"):
            tau = float(part[3:])
        elif part in MW_PRESETS:
            opts.update(MW_PRESETS[part])
        elif part == "m1":
            opts["weights"] = (14, 19, 20)
    return data[key], gamma, tau, opts


@pytest.mark.parametrize("name", list(REF["sensitivitymw"]["senmw"]))
def test_senmw(name):
    data, gamma, tau, opts = _mw_case(name.replace("_14_19_20", ""))
    opts = {"trim": 3.0, **opts}
    check_bound(sen.m_test(data, gamma, tau=tau, **opts), REF["sensitivitymw"]["senmw"][name])


@pytest.mark.parametrize("name", list(REF["sensitivitymv"]["senmv"]))
def test_senmv(name):
    ref = REF["sensitivitymv"]["senmv"][name]
    datasets = {"lead_d": LEAD[:, 0] - LEAD[:, 1], "erpcp": ERPCP, "mercury": MERCURY,
                "hand": matrix(DATA["hand"]), "tbmetaphase": matrix(DATA["tbmetaphase"]),
                "lead150": matrix(DATA["lead150"]), "lead250": matrix(DATA["lead250"]),
                "negmtm": -matrix(DATA["mtm"])}
    key = next(k for k in datasets if name.startswith(k + "_"))
    opts, gamma, tau = dict(MV_PRESETS[""]), None, 0.0
    for part in name[len(key) + 1:].split("_"):
        if part.startswith("g") and part[1:].replace(".", "").isdigit():
            gamma = float(part[1:])
        elif part.startswith("trim"):
            opts["trim"] = np.inf if part == "trim" else float(part[4:])
        elif part.startswith("tau"):
            tau = float(part[3:])
        elif part == "tont":
            opts["tont"] = True
        elif part in MV_PRESETS:
            opts = dict(MV_PRESETS[part])
    if name == "mercury_tont_trim_inf_g15":
        opts = {"trim": np.inf, "tont": True}
    check_bound(sen.m_test(datasets[key], gamma, tau=tau, **opts), ref)


def test_mscorev():
    q, h = sen.m_scores(matrix(DATA["hand"]), trim=2.5)
    close(q.reshape(4, 3), REF["sensitivitymw"]["mscorev_hand"], rtol=1e-12)
    tb = sen.matched_sets(matrix(DATA["tbmetaphase"]))
    q, _ = sen.m_scores(tb, trim=1)
    ref = matrix(REF["sensitivitymw"]["mscorev_tbmetaphase_trim1"])
    close(q, ref[~np.isnan(ref)], rtol=1e-12)


@pytest.mark.parametrize("name", list(REF["sensitivitymw"]["senmwCI"]))
def test_senmwci(name):
    """R's Brent iterations are repeated, so the roots agree to 1e-10 although R stops at
    a tolerance of (upper - lower) / 500000.  With weights (method "w") the deviate jumps
    where the ranks of the sets' score ranges change, and an iterate one ulp away takes
    another path: there the roots agree to R's tolerance."""
    ref = REF["sensitivitymw"]["senmwCI"][name]
    data, gamma, _, opts = _mw_case(name.replace("_twosided", ""))
    opts = {"trim": 3.0, **opts}
    r = sen.m_interval(data, gamma, two_sided=name.endswith("twosided"),
                       interval=ref["interval"], tol=ref["tol"], **opts)
    if "weights" in opts:
        np.testing.assert_allclose(r["estimate"], ref["estimate"], atol=ref["tol"])
        np.testing.assert_allclose(r["conf_int"], ref["conf_int"], atol=ref["tol"])
        return
    close(r["estimate"], ref["estimate"], rtol=1e-10)
    close_interval(r["conf_int"], ref["conf_int"], rtol=1e-10)


def test_amplify():
    for case in ("amplify_3.5", "amplify_2"):
        ref = REF["sensitivitymv"][case]
        close(sen.amplify(ref["gamma"], ref["lambda"]), ref["delta"], rtol=1e-14)


# -------------------------------------------------------------- 2x2xK tables
def _tables():
    t = REF["sensitivity2x2xk"]["tables"]
    lt, ge = np.array(t["LT40"]), np.array(t["GE40"])
    return {"LT40": lt, "GE40": ge, "both": np.stack([lt, ge], axis=2)}


@pytest.mark.parametrize("precision", ["precision_1e14", "default_precision"])
def test_mh(precision):
    """Exact bounds: equal to mh at BiasedUrn's precision 1e-14 to 1e-8; mh at its default
    precision (1e-7) is itself that far from exact."""
    refs = REF["sensitivity2x2xk"][precision]
    tol = 1e-8 if precision == "precision_1e14" else 1e-6
    tabs = _tables()
    n = 0
    for name, ref in refs.items():
        if name.startswith("mhLS"):
            continue
        tab, g = name.split("_g")
        r = sen.mantel_haenszel_test(tabs[tab], float(g))
        assert r.statistic == ref["A"]
        close(r.p_upper, ref["pval"], rtol=tol, atol=1e-15)
        n += 1
    assert n == 9


@pytest.mark.parametrize("precision", ["precision_1e14", "default_precision"])
def test_mhls(precision):
    refs = REF["sensitivity2x2xk"][precision]
    tol = 1e-8 if precision == "precision_1e14" else 1e-6
    both = _tables()["both"]
    for name, ref in refs.items():
        if not name.startswith("mhLS"):
            continue
        g = float(name.split("_g")[1].split("_")[0])
        r = sen.mantel_haenszel_test(both, g, exact=False, correction="corrected" in name)
        close([r.p_upper, r.expectation, r.variance],
              [ref["pval"], ref["expectation"], ref["variance"]], rtol=tol)


# ---------------------------------------------------------------- E-values
def _evalue_args(call):
    import ast
    tree = ast.parse(call.replace("evalues.", "f_"), mode="eval").body
    measure = tree.func.id[2:]
    args = [ast.literal_eval(a) for a in tree.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
    mapping = {"lo": "lower", "hi": "upper"}
    kwargs = {mapping.get(k, k): v for k, v in kwargs.items()}
    if "rare" in kwargs:
        kwargs["rare"] = bool(kwargs["rare"])
    return measure, args, kwargs


@pytest.mark.parametrize("name", list(REF["EValue"]["cases"]))
def test_evalues(name):
    call = REF["EValue"]["calls"][name].replace("FALSE", "False").replace("TRUE", "True")
    measure, args, kwargs = _evalue_args(call)
    if measure == "MD" and len(args) > 1:
        kwargs["se"] = args.pop()
    r = sen.evalue(*args, measure=measure, **kwargs)
    ref = REF["EValue"]["cases"][name]
    close([r.rr, r.rr_lower, r.rr_upper], ref["rr"], rtol=1e-12)
    got_ev = [r.evalue, np.nan, np.nan]
    side = r.details["ci_side"]
    if side is not None:
        got_ev[1 if side == "lower" else 2] = r.evalue_ci
    close(got_ev, ref["evalue"], rtol=1e-12)


# ------------------------------------------------------------------ textbook
def test_rosenbaum_krieger_1990_printed():
    """Rosenbaum & Krieger (1990) p. 497 (= Rosenbaum 2002, Table 4.15): Cu cells at
    Gamma = 2, the moments printed with six decimals."""
    tb = REF["textbook"]["rosenbaum_krieger_1990"]
    from scipy.stats import rankdata
    q = np.sort(rankdata(tb["cu_cells"]))
    z = np.array(tb["z"])
    E, V = _stratum_moments(q, int(z.sum()), 2.0)
    printed = tb["cu_gamma2_printed"]
    assert round(E[printed["m"] - 1], 6) == printed["expectation"]
    assert round(V[printed["m"] - 1], 6) == printed["variance"]
    assert float(rankdata(tb["cu_cells"])[z == 1].sum()) == printed["statistic"]
    close(E, tb["cu_gamma2_evall_RK"]["expect"], rtol=1e-11)
    close(V, tb["cu_gamma2_evall_RK"]["var"], rtol=1e-10)
    E, V = _stratum_moments(np.sort(rankdata(tb["mercury"])), int(z.sum()), 5.0)
    close(E, tb["mercury_gamma5_evall_RK"]["expect"], rtol=1e-11)
    close(V, tb["mercury_gamma5_evall_RK"]["var"], rtol=1e-10)


def test_rosenbaum_2007_table1_printed():
    """Welders, Huber's psi trimmed at 1, Gamma = 2: one-sided 95% interval tau >= 0.1812
    and estimates 0.3403 to 0.6666 (Rosenbaum 2007, Table 1)."""
    tb = REF["textbook"]["rosenbaum_2007_table1"]
    r = sen.m_interval(ERPCP, 2, trim=1)
    assert round(r["conf_int"][0], 4) == tb["ci_lower"]
    assert [round(v, 4) for v in r["estimate"]] == tb["estimate"]


def test_amplification_printed():
    tb = REF["textbook"]["amplification"]
    assert sen.amplify(tb["gamma"], tb["lambda"]).tolist() == tb["delta"]
    for lam, delta in zip(tb["lambda"], tb["delta"]):
        assert sen.gamma_of(lam, delta) == pytest.approx(3.5, rel=1e-14)


def test_lead_children_rosenbaum_2002():
    """Lead-exposed children (Morton et al. 1982; Rosenbaum 2002, Section 4.3): the upper
    bounds on the one-sided p-value with the four decimals printed (as rbounds' help
    reproduces them), the 95% intervals of Tables 4.3-4.4 for Gamma = 1, 2 (as DOS2's
    senWilcox reproduces them, to its root tolerance) and the Hodges-Lehmann ranges."""
    res = sen.rosenbaum_bounds(LEAD, [1, 2, 3, 4, 5, 6], statistic="wilcoxon",
                               alternative="greater")
    assert [round(p, 4) for p in res.p_upper] == [0.0, 0.0018, 0.0131, 0.0367, 0.0694, 0.1073]
    for key in ("g1", "g2"):
        ref = REF["textbook"]["senwilcox_lead"][key]
        ci = sen.signed_rank_interval(LEAD, ref["gamma"], two_sided=True)
        np.testing.assert_allclose(ci, ref["ci"], atol=2e-4)
    assert sen.signed_rank_interval(LEAD, 1) == (9.5, 20.5)
    assert sen.signed_rank_interval(LEAD, 2) == (4.5, 27.5)
    assert sen.hodges_lehmann_bounds(LEAD, 1) == (15.0, 15.0)
    assert sen.hodges_lehmann_bounds(LEAD, 2) == (10.25, 19.5)
    assert sen.hodges_lehmann_bounds(LEAD, 3) == (8.0, 23.0)


# ------------------------------------------------------------ matched LaLonde
LAL = REF["lalonde"]
GAMMAS = [1.0, 1.25, 1.5, 2.0]


def _design(name, y=None):
    design = LAL["designs"][name]
    d = LAL["data"][design["data"]]
    y = np.array(d["re78"]) if y is None else y
    if name == "subclass":
        return y, np.array(d["treat"]), np.array(design["subclass"])
    if name == "full":
        rows = [np.array(r) - 1 for r in design["rows"]]
        k = max(len(r) for r in rows)
        Y = np.full((len(rows), k), np.nan)
        for i, r in enumerate(rows):
            Y[i, :len(r)] = y[r]
        return sen.matched_sets(Y, first_treated=np.array(design["treated1"]))
    rows = matrix(design["rows"])
    Y = np.where(np.isnan(rows), np.nan, y[np.nan_to_num(rows, nan=1).astype(int) - 1])
    return Y


def test_lalonde_pairs_psens_hlsens():
    Y = _design("pairs")
    ref = LAL["results"]["pairs"]
    for i, g in enumerate(ref["psens"]["unrounded"]["gamma"]):
        r = sen.signed_rank_test(Y, g)
        close([r.p_upper, r.p_lower], [ref["psens"]["unrounded"]["upper"][i],
                                       ref["psens"]["unrounded"]["lower"][i]], atol=1e-15)
    for i, g in enumerate(ref["hlsens"]["unrounded"]["gamma"]):
        lo, hi = sen.hodges_lehmann_bounds(Y, g, method="rbounds", step=ref["hlsens"]["pr"])
        close([lo, hi], [ref["hlsens"]["unrounded"]["lower"][i],
                         ref["hlsens"]["unrounded"]["upper"][i]])


@pytest.mark.parametrize("design, key, opts", [
    ("pairs", "senmw", {"trim": 3.0}), ("pairs", "senmv_trim2.5", {"trim": 2.5}),
    ("sets13", "senmw", {"trim": 3.0}), ("sets13", "senmw_w", {"weights": (12, 20, 20)}),
    ("sets13_caliper", "senmv", {"trim": 2.5}), ("sets13_caliper", "senmv_trim3", {}),
    ("full", "senfm", {"trim": 3.0})])
def test_lalonde_m_statistics(design, key, opts):
    data = _design(design)
    for g in GAMMAS:
        check_bound(sen.m_test(data, g, **opts), LAL["results"][design][key][f"g{g:g}"])


@pytest.mark.parametrize("design, two_sided", [("pairs", True), ("sets13", False)])
def test_lalonde_senmwci(design, two_sided):
    ref = LAL["results"][design]["senmwCI_g1.25"]
    r = sen.m_interval(_design(design), 1.25, two_sided=two_sided, tol=ref["tol"])
    close(r["interval"], ref["interval"], rtol=1e-14)
    close(r["estimate"], ref["estimate"], rtol=1e-9)
    close_interval(r["conf_int"], ref["conf_int"], rtol=1e-9)


def test_lalonde_full_matching_interval():
    """senfmCI searches (-mx, mx) with uniroot's default tolerance (1.2e-4): agreement to
    that tolerance."""
    ref = LAL["results"]["full"]["senfmCI_g1.25"]
    r = sen.m_interval(_design("full"), 1.25, two_sided=True)
    np.testing.assert_allclose(r["estimate"], ref["estimate"], atol=3e-4)
    np.testing.assert_allclose(r["conf_int"], ref["conf_int"], atol=3e-4)


@pytest.mark.parametrize("precision, tol", [("precision_1e14", 1e-8),
                                            ("default_precision", 1e-6)])
def test_lalonde_subclass_senstrat(precision, tol):
    y, t, sub = _design("subclass")
    ref = LAL["results"]["subclass"]
    sets = sen.matched_sets(y, treated=t, sets=sub)
    q, _ = sen.m_scores(sets)
    order = np.argsort(sub, kind="stable")          # MatchedSets groups units by label
    close(q, np.array(ref["scores"])[order], rtol=1e-12)
    for g in (1, 1.25, 1.5):
        r = ref[precision][f"g{g:g}"]
        atol = tol / 10                  # expectations near 0 at Gamma = 1
        check_bound(sen.m_test(sets, g, bound="separable"), r["separable"], tol, atol)
        check_bound(sen.m_test(sets, g, bound="taylor"), r["linear"], tol, atol)
        check_bound(sen.m_test(sets, g), r["linear"], tol, atol)      # auto: Taylor


def test_lalonde_binary():
    emp = (np.array(LAL["data"]["psid"]["re78"]) > 0).astype(float)
    ref = LAL["results"]["pairs"]["binary"]
    b, c = ref["treated_events"], ref["control_events"]
    for i, g in enumerate(ref["binarysens"]["unrounded"]["gamma"]):
        r = sen.mcnemar_test(b, c, g, rbounds=True)
        close([r.p_upper, r.p_lower], [ref["binarysens"]["unrounded"]["upper"][i],
                                       ref["binarysens"]["unrounded"]["lower"][i]], atol=1e-15)
    pairs = sen.matched_sets(_design("pairs", emp))
    sets13 = sen.matched_sets(_design("sets13", emp))
    for g in GAMMAS:
        close(sen.mantel_haenszel_test(pairs.tables(), g).p_upper, ref["mh_precise"][f"g{g:g}"])
        close(sen.mcnemar_test(b, c, g).p_upper, ref["mh_precise"][f"g{g:g}"])
        close(sen.mantel_haenszel_test(sets13.tables(), g).p_upper,
              LAL["results"]["sets13"]["binary_mh"]["precise"][f"g{g:g}"])


def test_lalonde_end_to_end_from_causalsm_matching():
    """causalsm's own matching without replacement reproduces the R design
    (test_parity_r_matchit), so MatchResult.sensitivity gives R's numbers directly."""
    d = LAL["data"]["psid"]
    t, lp, y = np.array(d["treat"]), np.array(d["logit_ps"]), np.array(d["re78"])
    for design, k, opts, key in (("pairs", 1, {"trim": 3.0}, "senmw"),
                                 ("sets13", 3, {"trim": 3.0}, "senmw")):
        m = csm.match(lp, t, n_neighbors=k, replace=False, order="data")
        rows = matrix(LAL["designs"][design]["rows"]).astype(int) - 1
        for row in rows:
            assert sorted(m.matched[m.focal == row[0]].tolist()) == sorted(row[1:].tolist())
        res = m.sensitivity(y, GAMMAS, alternative="greater", **opts)
        for i, g in enumerate(GAMMAS):
            ref = LAL["results"][design][key][f"g{g:g}"]
            close(res.p_upper[i], ref["pval"], atol=1e-15)
            close(res.expectation[i], ref["expectation"])


def test_lalonde_critical_gammas_amplification_and_evalues():
    """Critical Gammas by R's uniroot on senfm's and senstrat's own p-values (full matching,
    subclasses), their amplification, and the E-values of the pairs' mean difference."""
    res = LAL["results"]
    full = sen.rosenbaum_bounds(_design("full"), [1.0], alternative="greater")
    close(full.critical_gamma, res["full"]["critical_gamma"], rtol=1e-9)
    amp = res["full"]["amplify"]
    close(sen.amplify(full.critical_gamma, amp["lambda"]), amp["delta"], rtol=1e-8)
    y, t, sub = _design("subclass")
    strata = sen.rosenbaum_bounds(y, [1.0], alternative="greater", treated=t, sets=sub)
    assert "Taylor" in strata.method
    close(strata.critical_gamma, res["subclass"]["critical_gamma_linear_precise"], rtol=1e-9)
    ev = res["pairs"]["evalue"]
    for r in (sen.evalue(ev["estimate"], measure="OLS", se=ev["se"], sd=ev["sd"]),
              sen.evalue(ev["estimate"] / ev["sd"], measure="MD", se=ev["se"] / ev["sd"])):
        close([r.rr, r.rr_lower, r.rr_upper], ev["ols"]["rr"], rtol=1e-12)
        close([r.evalue, r.evalue_ci], [ev["ols"]["evalue"][0], ev["ols"]["evalue"][2]],
              rtol=1e-12)
