"""Generalised propensity scores.

Multi-level (categorical) treatments
------------------------------------
For a treatment with levels ``w_1, ..., w_K`` the generalised propensity score (GPS,
Imbens 2000) is the vector ``r(w, x) = P(W = w | X = x)``.  Yang, Imbens, Cui, Faries &
Kadziola (2016, *Biometrics* 72:1055-1065) show that the scalar ``r(w, X)`` balances
what is needed to estimate ``E[Y(w)]``, so level ``w`` is matched (or subclassified)
on column ``w`` alone.

:class:`GeneralizedPropensityScore` fits the GPS by multinomial logistic regression
(:func:`multinomial_logit_mle`: maximum likelihood by Newton-Raphson, the model of R's
``nnet::multinom``, whose optimiser stops a little short of the maximum) or with any
scikit-learn classifier that has ``predict_proba``.  The multinomial fit keeps the
covariance of its coefficients, which the Abadie-Imbens (2016) variance adjustment of
:class:`~causalsm.estimators.multilevel.MultilevelMatching` needs.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone

from .._validation import (InputError, check_array, check_fitted_array, check_levels,
                           check_weights)
from ._tags import SklearnTagsMixin

__all__ = ["GeneralizedPropensityScore", "multinomial_logit_mle"]


# ------------------------------------------------------- multi-level treatments
def _softmax_rest(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities ``(n, K)``, ``log sum exp`` and the full predictors ``(n, K)`` for
    linear predictors ``(n, K - 1)`` of the levels after the first (whose is 0)."""
    full = np.empty((eta.shape[0], eta.shape[1] + 1))
    full[:, 0] = 0.0
    full[:, 1:] = eta
    top = full.max(axis=1, keepdims=True)
    e = np.exp(full - top)
    s = e.sum(axis=1, keepdims=True)
    return e / s, (np.log(s) + top)[:, 0], full


def _hessian(Xs: np.ndarray, P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Negative Hessian of the log-likelihood, level-major blocks over levels 2..K."""
    m, p = P.shape[1] - 1, Xs.shape[1]
    H = np.empty((m * p, m * p))
    for a in range(m):
        for b in range(a, m):
            wab = w * P[:, a + 1] * ((a == b) - P[:, b + 1])
            block = (Xs * wab[:, None]).T @ Xs
            H[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
            H[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
    return H


def multinomial_logit_mle(design: np.ndarray, codes: np.ndarray, n_levels: int, *,
                          sample_weight: np.ndarray | None = None, tol: float = 1e-12,
                          max_iter: int = 100) -> dict:
    """Multinomial logistic regression by maximum likelihood (Newton-Raphson).

    ``P(W = w_k | x) = exp(x'theta_k) / sum_j exp(x'theta_j)`` with ``theta_1 = 0``: the
    first level is the reference, as in R's ``nnet::multinom(relevel(W, ref))``.  The
    columns of ``design`` are scaled internally for conditioning; steps are halved
    until the log-likelihood increases.

    Parameters
    ----------
    design : ndarray, shape (n, p)
        Design matrix, intercept column included.
    codes : ndarray of int, shape (n,)
        Levels coded ``0 .. n_levels - 1``.
    n_levels : int
    sample_weight : ndarray, optional
        Weights of the log-likelihood.
    tol : float
        Convergence: relative change of the deviance.
    max_iter : int

    Returns
    -------
    dict
        ``coef`` (``(K - 1, p)``, one row per non-reference level), ``vcov`` (the
        inverse of the negative Hessian of the log-likelihood at the maximum, in R's
        order: level-major, intercept first, as ``vcov(multinom)``), ``loglik``,
        ``n_iter`` and ``converged``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> fit = multinomial_logit_mle(X, np.array([0, 1, 0, 1, 1, 1]), 2)
    >>> fit["coef"].round(5).tolist()     # K = 2: glm(w ~ x, binomial) gives the same
    [[-1.62534, 1.14466]]
    """
    X = np.asarray(design, dtype=np.float64)
    n, p = X.shape
    K = int(n_levels)
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    Y = np.zeros((n, K))
    Y[np.arange(n), codes] = 1.0
    beta = np.zeros((K - 1, p))

    rows = np.arange(n)

    def loglik(b):
        P, lse, eta = _softmax_rest(Xs @ b.T)
        return float(w @ (eta[rows, codes] - lse)), P

    ll, P = loglik(beta)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        grad = ((Xs * w[:, None]).T @ (Y[:, 1:] - P[:, 1:])).T.ravel()
        H = _hessian(Xs, P, w)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, grad, rcond=None)[0]
        t = 1.0
        for _ in range(60):
            cand = beta + t * step.reshape(K - 1, p)
            ll_new, P_new = loglik(cand)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            t /= 2
        change = abs(ll_new - ll) / (abs(ll) + 0.1)
        beta, ll, P = cand, ll_new, P_new
        if change < tol and np.max(np.abs(t * step)) < 1e-6:
            converged = True
            break
    if not converged:
        warnings.warn("the multinomial logistic regression did not converge in "
                      f"{max_iter} iterations (separation of the levels?)", RuntimeWarning,
                      stacklevel=2)
    H = _hessian(Xs, P, w)
    try:
        vs = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        vs = np.linalg.pinv(H)
    d = np.tile(scale, K - 1)
    observed = P[np.arange(n), codes]
    if observed.min() > 1 - 1e-8:
        warnings.warn("the covariates separate the treatment levels perfectly: the "
                      "generalised propensity scores are 0 or 1 and there is no overlap",
                      RuntimeWarning, stacklevel=2)
    return {"coef": beta / scale, "vcov": vs / np.outer(d, d), "loglik": ll,
            "n_iter": it, "converged": converged}


class GeneralizedPropensityScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """Generalised propensity score ``P(W = w | X)`` of a treatment with K levels.

    ``transform`` returns the ``(n, K)`` matrix of probabilities, one column per
    level in the order of ``classes_``; multi-level matching on this score matches
    level ``w`` on column ``w`` (Yang et al. 2016).

    Parameters
    ----------
    model : classifier or None
        ``None`` fits a multinomial logistic regression on an intercept and the
        covariates by maximum likelihood (the model of R's ``nnet::multinom``; see
        :func:`multinomial_logit_mle`).  Any scikit-learn classifier with
        ``predict_proba`` may be given instead; it is cloned before fitting.
    clip : float
        Probabilities are clipped to ``[clip, 1]`` and renormalised, so that no level
        has a score of exactly 0.

    Attributes
    ----------
    classes_ : list
        Treatment levels (see :func:`~causalsm._validation.check_levels`).
    coef_ : ndarray, shape (K - 1, p)
        Multinomial coefficients of the levels after the first (default model only).
    intercept_ : ndarray, shape (K - 1,)
    vcov_ : ndarray
        Covariance of ``(intercept, coef)`` per non-reference level, level-major (the
        layout of R's ``vcov(multinom)``); default model only.
    model_ : fitted classifier (when ``model`` is given)
    n_features_in_ : int
    feature_names_in_ : list of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> w = np.argmax(X @ [[0, 1, -1], [0, 1, 1]] + rng.gumbel(size=(300, 3)), axis=1)
    >>> gps = GeneralizedPropensityScore().fit(X, w)
    >>> gps.transform(X).shape, gps.classes_
    ((300, 3), [0, 1, 2])
    >>> bool(np.allclose(gps.transform(X).sum(axis=1), 1.0))
    True
    """

    def __init__(self, model=None, clip: float = 1e-12):
        self.model = model
        self.clip = clip

    def fit(self, X, y, sample_weight=None):
        """Fit the model of the treatment ``y`` (labels of K >= 2 levels) on ``X``.
        Returns ``self``."""
        arr, names, _ = check_array(X)
        codes, levels = check_levels(y)
        if codes.shape[0] != arr.shape[0]:
            raise InputError(f"X has {arr.shape[0]} rows but the treatment has "
                             f"{codes.shape[0]}")
        self.classes_ = levels
        self.feature_names_in_ = names
        self.n_features_in_ = arr.shape[1]
        sw = check_weights(sample_weight, codes.shape[0])
        if self.model is None:
            fit = multinomial_logit_mle(self.design(arr), codes, len(levels),
                                        sample_weight=sw)
            self.intercept_, self.coef_ = fit["coef"][:, 0], fit["coef"][:, 1:]
            self.vcov_ = fit["vcov"]
            self.loglik_ = fit["loglik"]
        else:
            if not hasattr(self.model, "predict_proba"):
                raise InputError(f"model {type(self.model).__name__} has no predict_proba")
            kw = {} if sw is None else {"sample_weight": sw}
            self.model_ = clone(self.model).fit(arr, codes, **kw)
        return self

    @staticmethod
    def design(X: np.ndarray) -> np.ndarray:
        """The multinomial design matrix: an intercept column, then ``X``."""
        return np.column_stack([np.ones(X.shape[0]), X])

    def propensity(self, X) -> np.ndarray:
        """The ``(n, K)`` generalised propensity scores, columns in ``classes_`` order."""
        arr = check_fitted_array(self, X, "classes_", "fit(X, t)")
        if self.model is None:
            P = _softmax_rest(self.intercept_ + arr @ self.coef_.T)[0]
        else:
            P = np.zeros((arr.shape[0], len(self.classes_)))
            P[:, np.asarray(self.model_.classes_, dtype=np.int64)] = \
                self.model_.predict_proba(arr)
        P = np.clip(P, self.clip, None)
        return P / P.sum(axis=1, keepdims=True)

    def transform(self, X) -> np.ndarray:
        """The score to match on: the ``(n, K)`` generalised propensity scores."""
        return self.propensity(X)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"gps_{c}" for c in self.classes_], dtype=object)

    def __causalsm_tags__(self) -> dict:
        """One probability column per level; maximum likelihood when ``model`` is None."""
        return {"level_probabilities": True, "logistic_propensity": self.model is None}
