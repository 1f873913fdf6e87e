"""scikit-learn's estimator checks on the scores (issue 14).

Each check that cannot apply is listed with the reason; every other check must pass.
Covered so far: CovariateScore, GeneralizedPropensityScore and PCAScore (with one component:
the checks' data have two to four columns, and more components than columns is an error).
Not yet: PropensityScore (a 0/1 treatment cannot take the checks' three-class or {1, 2}
targets), PrognosticScore, DoubleScore and NeuralBalancingScore.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from causalsm.scores import CovariateScore, GeneralizedPropensityScore, PCAScore

_TREATMENT_T = ("the second argument of fit is the treatment t, not y: the scores that learn "
                "from the outcome take y for it (fit(X, t, y)), so t keeps one name everywhere")
_ONE_D = ("a 1-d X is one covariate (an R vector), read as a column: "
          "causalsm's convention for every input")
_TYPE = "a non-numeric X is an InputError (a ValueError) that names the column, not a TypeError"

EXPECTED = {
    "check_fit_score_takes_y": _TREATMENT_T,
    "check_sample_weight_equivalence_on_dense_data": _TREATMENT_T,
    "check_sample_weight_equivalence_on_sparse_data": _TREATMENT_T,
    "check_fit1d": _ONE_D,
    "check_fit2d_predict1d": _ONE_D,
    "check_dtype_object": _TYPE,
}


@parametrize_with_checks([CovariateScore(), CovariateScore(scale="mahalanobis"),
                          GeneralizedPropensityScore(), PCAScore(n_components=1)],
                         expected_failed_checks=lambda est: EXPECTED)
def test_sklearn_compatible_score(estimator, check):
    check(estimator)
