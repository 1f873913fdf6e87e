"""Matching on the covariates themselves, scaled as R's ``Matching::Match``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .._stats import weighted_scale
from .._validation import (InputError, check_array, check_fitted_array, check_weights,
                           not_fitted)
from ._tags import SklearnTagsMixin

__all__ = ["CovariateScore", "PCAScore"]


class CovariateScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """The covariates as the score, scaled so that Euclidean distance is R's.

    ``Match`` first centres each column and divides it by its sample SD; then
    ``Weight=1`` uses the Euclidean distance of those columns (inverse-variance
    weighting) and ``Weight=2`` the Mahalanobis distance, ``(XᵀX/N)⁻¹`` of the
    standardised columns.  This transformer returns ``X_std`` for
    ``scale="variance"`` and ``X_std @ L`` (``L Lᵀ = (X_stdᵀX_std/N)⁻¹``) for
    ``scale="mahalanobis"``, so that plain Euclidean distance on the output is the
    requested metric.  ``scale=None`` returns the covariates unchanged.

    Parameters
    ----------
    scale : {"variance", "mahalanobis", None}

    Examples
    --------
    >>> X = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]])
    >>> CovariateScore().fit(X).transform(X).std(axis=0, ddof=1).round(6).tolist()
    [1.0, 1.0]
    """

    _treatment_optional = True

    def __init__(self, scale: str | None = "variance"):
        self.scale = scale

    def fit(self, X, y=None, sample_weight=None):
        """Learn the centring, scaling and (Mahalanobis) whitening.

        ``sample_weight`` weights the means and SDs, as R's ``Match(weights=)``; ``y``
        (the treatment) is not used.
        """
        if self.scale not in ("variance", "mahalanobis", None):
            raise InputError(f"scale must be 'variance', 'mahalanobis' or None, got {self.scale!r}")
        arr, names, _ = check_array(X)
        self.feature_names_in_ = names
        self.n_features_in_ = arr.shape[1]
        n = arr.shape[0]
        w = check_weights(sample_weight, n)
        self.mean_, sd = weighted_scale(arr, w) if n > 1 else (arr.mean(axis=0),
                                                                np.ones(arr.shape[1]))
        tiny = np.sqrt(np.finfo(float).eps)        # R's `tolerance`
        self.scale_ = np.where(sd < tiny, tiny, sd)
        self.whitening_ = None
        if self.scale == "mahalanobis":
            Z = (arr - self.mean_) / self.scale_
            S = Z.T @ Z / n
            if np.linalg.eigvalsh(S).min() > 1e-7:
                W = np.linalg.inv(S)
            else:                                    # R falls back to the identity
                W = np.eye(arr.shape[1])
            if np.linalg.eigvalsh(W).min() < tiny:
                W = W + np.eye(arr.shape[1]) * tiny
            self.whitening_ = np.linalg.cholesky(W)  # W = L Lᵀ; R's chol() is Lᵀ
        return self

    def __causalsm_tags__(self) -> dict:
        """The output is already in the requested metric: matching must not rescale it."""
        metric = {"mahalanobis": "mahalanobis", "variance": "sd", None: "none"}.get(self.scale)
        return {"prescaled": True, "covariate_metric": metric}

    def transform(self, X):
        arr = check_fitted_array(self, X, "mean_", "fit(X)")
        if self.scale is None:
            return arr
        Z = (arr - self.mean_) / self.scale_
        return Z if self.whitening_ is None else Z @ self.whitening_

    def get_feature_names_out(self, input_features=None):
        """The covariates' names (``scale="mahalanobis"`` mixes them: ``white1``, ...)."""
        if not hasattr(self, "mean_"):
            raise not_fitted(self, "fit(X)")
        if self.whitening_ is not None:
            return np.array([f"white{j + 1}" for j in range(self.n_features_in_)], dtype=object)
        return np.asarray(self.feature_names_in_, dtype=object)


class PCAScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """The first principal components of the standardised covariates as the score.

    Each column is centred and divided by its SD (population SD, as scikit-learn's
    ``StandardScaler``; constant columns are only centred), then
    :class:`sklearn.decomposition.PCA` keeps the first ``n_components`` components.
    ``transform`` returns the component scores (not whitened), so Euclidean distance
    on them is the distance in the principal subspace.  ``t`` is ignored: this score
    does not look at the treatment (the "PCA" baseline of the NSM paper).

    Parameters
    ----------
    n_components : int, default 5
    standardize : bool, default True
        ``False`` runs PCA on the covariates as given (only centred).
    svd_solver : str, default "full"
        Passed to :class:`~sklearn.decomposition.PCA`.
    random_state : int or None
        Used by the randomized solvers.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
    mean_, scale_ : ndarray
    explained_variance_ratio_ : ndarray
    n_features_in_ : int
    feature_names_in_ : list of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    >>> pc = PCAScore(n_components=2).fit(X)
    >>> S = pc.transform(X)
    >>> S.shape, bool(np.allclose(np.corrcoef(S.T)[0, 1], 0, atol=1e-8))
    ((200, 2), True)
    """

    _treatment_optional = True

    def __init__(self, n_components: int = 5, standardize: bool = True,
                 svd_solver: str = "full", random_state=None):
        self.n_components = n_components
        self.standardize = standardize
        self.svd_solver = svd_solver
        self.random_state = random_state

    def fit(self, X, y=None):
        """Learn the principal components (``y``, the treatment, is not used)."""
        from sklearn.decomposition import PCA

        from .._validation import check_int, check_seed
        arr, names, _ = check_array(X)
        k = check_int(self.n_components, "n_components")
        if k > min(arr.shape):
            raise InputError(f"n_components={k} but X has {arr.shape[0]} rows and "
                             f"{arr.shape[1]} columns; at most {min(arr.shape)} components")
        self.feature_names_in_ = names
        self.n_features_in_ = arr.shape[1]
        self.mean_ = arr.mean(axis=0)
        sd = arr.std(axis=0) if self.standardize else np.ones(arr.shape[1])
        self.scale_ = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(self.mean_)), sd, 1.0)
        self.pca_ = PCA(n_components=k, svd_solver=self.svd_solver,
                        random_state=check_seed(self.random_state)).fit((arr - self.mean_) / self.scale_)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return self

    def transform(self, X):
        arr = check_fitted_array(self, X, "pca_", "fit(X)")
        return self.pca_.transform((arr - self.mean_) / self.scale_)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"pc{j + 1}" for j in range(self.pca_.n_components_)], dtype=object)
