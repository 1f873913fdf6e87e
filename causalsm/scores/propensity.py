"""Propensity scores: P(T = 1 | X) from a logistic regression or any classifier."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone

from .._validation import (InputError, check_array, check_fitted_array, check_two_levels,
                           check_weights)
from ._tags import SklearnTagsMixin

__all__ = ["PropensityScore", "logistic_mle"]


def logistic_mle(X: np.ndarray, t: np.ndarray, *, sample_weight: np.ndarray | None = None,
                 tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Unpenalised logistic regression by Newton-Raphson (as R's ``glm``).

    ``X`` must include the intercept column; ``sample_weight`` weights the
    log-likelihood (survey weights).  Columns are scaled internally for
    conditioning; the coefficients returned are on the original scale.  A
    perfectly separated sample gives a ``RuntimeWarning``.

    >>> X = np.column_stack([np.ones(6), [0., 1, 2, 3, 4, 5]])
    >>> logistic_mle(X, np.array([0, 0, 1, 0, 1, 1])).round(4).tolist()
    [-3.0351, 1.214]
    """
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    for _ in range(max_iter):
        eta = Xs @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = sw * np.clip(p * (1 - p), 1e-12, None)
        grad = Xs.T @ (sw * (t - p))
        hess = (Xs * w[:, None]).T @ Xs
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        beta = beta + step
        eta = Xs @ beta
        dev = 2 * np.sum(sw * (np.logaddexp(0, eta) - t * eta))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            break
        dev_old = dev
    else:
        warnings.warn("logistic regression did not converge", RuntimeWarning, stacklevel=2)
    if dev < 1e-6 * X.shape[0]:
        warnings.warn("the covariates separate the arms perfectly: the propensity "
                      "scores are 0 or 1 and there is no overlap", RuntimeWarning,
                      stacklevel=2)
    return beta / scale


class PropensityScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """Propensity score as a scikit-learn transformer.

    Parameters
    ----------
    model : classifier or None
        ``None`` fits an unpenalised logistic regression by maximum likelihood
        (identical to R's ``glm(family = binomial)``).  Any scikit-learn classifier
        with ``predict_proba`` may be given instead; it is cloned before fitting.
    link : {"logit", "probability"}
        ``transform`` returns the linear predictor ``log(p / (1 - p))`` (the usual
        choice for matching: it spreads out scores near 0 and 1) or ``p`` itself.
    clip : float
        Probabilities of a generic classifier are clipped to ``[clip, 1 - clip]``
        before taking the logit.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Logistic coefficients (default model only).
    intercept_ : float
        Logistic intercept (default model only).
    center_ : ndarray of shape (n_features,)
        Column means of the training covariates, at which the model is fitted and
        evaluated (default model only).
    model_ : fitted classifier (when ``model`` is given)
    classes_ : list
        The two treatment labels; the propensity is ``P(T = classes_[1] | X)``.
    n_features_in_ : int
    feature_names_in_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); t = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> ps = PropensityScore().fit(X, t)
    >>> ps.transform(X).shape
    (200, 1)
    >>> bool(np.all((ps.propensity(X) > 0) & (ps.propensity(X) < 1)))
    True
    """

    _binary_treatment = True

    def __init__(self, model=None, link: str = "logit", clip: float = 1e-8):
        self.model = model
        self.link = link
        self.clip = clip

    def fit(self, X, y, sample_weight=None):
        """Fit the propensity model.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n, p)
            Covariates.
        y : array-like, shape (n,)
            The treatment: scikit-learn's target, which the score learns (0/1, boolean,
            a two-level factor, or any two labels, of which the second in sorted or
            category order is "treated", ``classes_[1]``).
        sample_weight : array-like, shape (n,), optional
            Weights of the likelihood (survey weights).

        Returns
        -------
        self
        """
        if self.link not in ("logit", "probability"):
            raise InputError(f"link must be 'logit' or 'probability', got {self.link!r}")
        arr, names, _ = check_array(X, accept_sparse=self.model is not None)  # sklearn takes sparse
        t, self.classes_ = check_two_levels(y, arr.shape[0])
        sample_weight = check_weights(sample_weight, arr.shape[0])
        self.feature_names_in_ = names
        self.n_features_in_ = arr.shape[1]
        if self.model is None:
            # Fitted on centred columns (a shift of 1e9 would leave them collinear with
            # the intercept) and evaluated on them, so the score does not move with it.
            self.center_ = np.average(arr, axis=0, weights=sample_weight)
            beta = logistic_mle(self.design(arr - self.center_), t,
                                sample_weight=sample_weight)
            self._intercept_centered = float(beta[0])
            self.coef_ = beta[1:]
            self.intercept_ = float(beta[0] - self.center_ @ self.coef_)
        else:
            if not hasattr(self.model, "predict_proba"):
                raise InputError(f"model {type(self.model).__name__} has no predict_proba")
            kw = {} if sample_weight is None else {"sample_weight": sample_weight}
            self.model_ = clone(self.model).fit(arr, t, **kw)
        return self

    @staticmethod
    def design(X: np.ndarray) -> np.ndarray:
        """The logistic design matrix: an intercept column, then ``X``."""
        return np.column_stack([np.ones(X.shape[0]), X])

    def _check(self, X) -> np.ndarray:
        return check_fitted_array(self, X, "n_features_in_", "fit(X, t)",
                                  accept_sparse=self.model is not None)

    def linear_predictor(self, X) -> np.ndarray:
        """``log(p / (1 - p))`` for each row of ``X``."""
        arr = self._check(X)
        if self.model is None:
            return self._intercept_centered + (arr - self.center_) @ self.coef_
        p = np.clip(self.model_.predict_proba(arr)[:, 1], self.clip, 1 - self.clip)
        return np.log(p) - np.log1p(-p)

    def propensity(self, X) -> np.ndarray:
        """Estimated ``P(T = classes_[1] | X)``."""
        if self.model is None:
            return 1.0 / (1.0 + np.exp(-self.linear_predictor(X)))
        return self.model_.predict_proba(self._check(X))[:, 1]

    def __causalsm_tags__(self) -> dict:
        return {"logistic_propensity": self.model is None and self.link == "logit"}

    def transform(self, X) -> np.ndarray:
        """The score to match on, shape (n, 1)."""
        out = self.linear_predictor(X) if self.link == "logit" else self.propensity(X)
        return out[:, None]

    def get_feature_names_out(self, input_features=None):
        return np.array(["propensity_logit" if self.link == "logit" else "propensity"],
                        dtype=object)
