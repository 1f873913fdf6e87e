"""MultiplyRobustMatching(sieve_degree=2) against R's dsmatch 1.7.1 (Yang & Zhang).

The fixture ``tests/fixtures/r/dsmatch_reference.json`` is made by
``tests/fixtures/r/make_dsmatch_reference.R`` (dsmatchATE / ATT / QTE / QTT with
``method = "dsm"``, a glm logit propensity and lm prognostic scores on all covariates)
on two simulated data sets that it stores.  Only point estimates are compared: dsmatch's
bootstrap draws from R's random numbers.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import causalsm as csm

REF = json.loads((Path(__file__).parent / "fixtures" / "r" / "dsmatch_reference.json")
                 .read_text())
PROBS = REF["meta"]["probs"]


def _fit(name, estimand):
    d = REF[name]
    X = np.column_stack(d["X"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = csm.MultiplyRobustMatching(estimand=estimand, sieve_degree=2,
                                         quantiles=PROBS, n_bootstrap=2,
                                         random_state=0).fit(X, np.array(d["t"]),
                                                             np.array(d["y"]))
    return est, d["reference"]


@pytest.mark.parametrize("name", ["simulated", "second"])
@pytest.mark.parametrize("estimand, average, quantile", [("ATE", "ate", "qte"),
                                                         ("ATT", "att", "qtt")])
def test_dsmatch_estimates(name, estimand, average, quantile):
    est, ref = _fit(name, estimand)
    assert est.effect_.estimate == pytest.approx(ref[average], rel=1e-8, abs=1e-8)
    np.testing.assert_allclose(est.quantile_effect_.estimate, ref[quantile],
                               rtol=1e-8, atol=1e-8)


def test_linear_sieve_differs_from_dsmatch():
    """The default (linear) sieve is a different estimator: the parity is the basis's."""
    d = REF["simulated"]
    est = csm.MultiplyRobustMatching(n_bootstrap=2, random_state=0).fit(
        np.column_stack(d["X"]), np.array(d["t"]), np.array(d["y"]))
    assert abs(est.effect_.estimate - d["reference"]["ate"]) > 1e-4
