"""Tests for causalsm.plotting: each plot renders to a PNG and draws the right numbers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402

import causalsm as csm  # noqa: E402
from causalsm.plotting import (love_plot, plot_comparison, plot_score_overlap,  # noqa: E402
                               plot_survival)

PNG = b"\x89PNG\r\n\x1a\n"


def _save(ax, path):
    fig = ax.figure if not isinstance(ax, np.ndarray) else ax[0].figure
    fig.savefig(path)
    plt.close(fig)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 3000


@pytest.fixture
def table():
    tab = pd.DataFrame({"method": ["nsm", "psm", "broken"], "estimate": [2.0, 1.0, np.nan],
                        "ci_lower": [1.5, 0.2, np.nan], "ci_upper": [2.5, 1.8, np.nan]})
    tab.attrs["truth"] = 1.9
    tab.attrs["estimand"] = "ATT"
    return tab


def test_plot_comparison_draws_intervals_and_truth(table, tmp_path):
    ax = plot_comparison(table)
    segments = ax.collections[0].get_segments()          # the CI lines, top row first
    assert [tuple(s[:, 0]) for s in segments] == [(1.5, 2.5), (0.2, 1.8)]
    assert [s[0, 1] for s in segments] == [2, 1]
    points = ax.collections[1].get_offsets()
    np.testing.assert_allclose(points, [[2.0, 2], [1.0, 1]])
    truth = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(truth) == 1 and truth[0].get_xdata()[0] == 1.9      # from table.attrs
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nsm", "psm", "broken"]
    assert "n/a" in [t.get_text() for t in ax.texts]
    assert ax.get_xlabel() == "estimated ATT"
    _save(ax, tmp_path / "cmp.png")


def test_plot_comparison_explicit_truth_and_axes(table):
    fig, ax = plt.subplots()
    assert plot_comparison(table, truth=0.5, ax=ax) is ax
    assert [ln.get_xdata()[0] for ln in ax.get_lines()] == [0.5]
    plt.close(fig)
    with pytest.raises(ValueError, match="ci_lower"):
        plot_comparison(table.drop(columns="ci_lower"))


def test_plot_comparison_of_compare_output(tmp_path):
    df = csm.datasets.load_lalonde()
    tab = csm.compare(df, "treat", "re78", ["age", "educ", "re74", "re75"],
                      methods=["psm", "random"], truth=1794.34)
    ax = plot_comparison(tab)
    np.testing.assert_allclose(ax.collections[1].get_offsets()[:, 0], tab["estimate"])
    _save(ax, tmp_path / "lalonde.png")


def test_plot_score_overlap_panels_and_densities(tmp_path):
    rng = np.random.default_rng(0)
    t = np.repeat([0, 1], 200)
    S = pd.DataFrame({"a": rng.normal(size=400) + t, "b": rng.uniform(size=400),
                      "c": rng.normal(size=400)})
    axes = plot_score_overlap(S, t, bins=20)
    assert len(axes) == 3 and [a.get_title() for a in axes] == ["a", "b", "c"]
    for a in axes:
        bars = [p for p in a.patches]
        assert len(bars) == 40                         # 20 bins x 2 arms
        for arm in (slice(0, 20), slice(20, 40)):      # each arm's histogram is a density
            area = sum(b.get_height() * b.get_width() for b in bars[arm])
            assert area == pytest.approx(1.0)
    heights = [b.get_height() for b in axes[0].patches]
    centre = [b.get_x() + b.get_width() / 2 for b in axes[0].patches]
    mean_c = np.average(centre[:20], weights=heights[:20])
    mean_t = np.average(centre[20:], weights=heights[20:])
    assert mean_t - mean_c == pytest.approx(1.0, abs=0.25)   # shifted by 1 in arm 1
    _save(axes, tmp_path / "overlap.png")


def test_plot_score_overlap_weights_and_single_axes(tmp_path):
    t = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.0, 1.0, 9.0, 0.5, 1.0, 1.5])
    fig, ax = plt.subplots()
    axes = plot_score_overlap(s, t, ax=ax, weights=[1, 1, 0, 1, 1, 1], bins=3)
    assert axes[0] is ax and ax.get_title() == "score"
    xs = [p.get_x() for p in ax.patches]
    assert min(xs) == 0.0 and max(p.get_x() + p.get_width() for p in ax.patches) == 1.5
    _save(ax, tmp_path / "overlap1.png")
    with pytest.raises(ValueError, match="2 dimension"):
        plot_score_overlap(np.zeros((6, 2)), t, ax=plt.subplots()[1])
    plt.close("all")


def _step_value(line, at):
    x, y = line.get_xdata(), line.get_ydata()
    return y[np.searchsorted(x, at, side="right") - 1]


def test_plot_survival_matches_kaplan_meier(tmp_path):
    rng = np.random.default_rng(2)
    n = 120
    arm = np.repeat([0, 1], n // 2)
    d = rng.exponential(scale=np.where(arm == 1, 2.0, 1.0))
    e = (rng.uniform(size=n) < 0.8).astype(int)
    ax = plot_survival(d, e, arm)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for label, level in (("control", 0), ("treated", 1)):
        km = KaplanMeierFitter().fit(d[arm == level], e[arm == level])
        for at in (0.3, 0.8, 1.5):
            assert _step_value(lines[label], at) == pytest.approx(
                float(km.survival_function_at_times(at).iloc[0]))
    assert len(ax.collections) == 2                     # confidence bands without weights
    _save(ax, tmp_path / "km.png")


def test_plot_survival_weights_equal_duplicated_rows(tmp_path):
    d = np.array([2.0, 3, 5, 7, 1, 4, 6, 8])
    e = np.array([1, 0, 1, 1, 1, 1, 0, 1])
    arm = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    w = np.array([2, 1, 1, 0, 1, 3, 1, 1.0])
    ax = plot_survival(d, e, arm, weights=w, labels=("matched controls", "treated"))
    keep = np.repeat(np.arange(8), w.astype(int))
    ref = plot_survival(d[keep], e[keep], arm[keep])
    for got, want in zip(ax.get_lines()[:2], ref.get_lines()[:2]):
        for at in (1.5, 2.5, 4.5, 5.5, 6.5):
            assert _step_value(got, at) == pytest.approx(_step_value(want, at))
    assert [ln.get_label() for ln in ax.get_lines()][:2] == ["matched controls", "treated"]
    assert len(ax.collections) == 0                     # no bands with weights by default
    _save(ax, tmp_path / "km_w.png")
    plt.close("all")
    with pytest.raises(ValueError, match="events must be 0/1"):
        plot_survival(d, e * 2, arm)


def test_love_plot_still_renders(tmp_path):
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "re74", "re75"]
    est = csm.MatchingEstimator().fit(df[cov], df.treat, df.re78)
    ax = love_plot(est.balance())
    assert [t.get_text() for t in ax.get_yticklabels()] == cov
    _save(ax, tmp_path / "love.png")
