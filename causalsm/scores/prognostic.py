"""Prognostic scores (outcome model per arm) and the stacked double score.

A prognostic score ``Psi_a(X)`` summarises the covariates' information about the
potential outcome ``Y(a)`` (Hansen 2008); under a location model it is the
regression ``mu_a(X) = E[Y | X, T = a]``.  :class:`DoubleScore` stacks any number
of fitted propensity scores and prognostic scores into one matrix, the matching
variable of Yang & Zhang's double score / multiply robust matching.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone

from .._validation import (InputError, check_array, check_fitted_array, check_outcome,
                           check_two_levels, not_fitted)
from ._tags import SklearnTagsMixin
from .propensity import PropensityScore

__all__ = ["PrognosticScore", "DoubleScore"]

_ARMS = ("both", "control")


class PrognosticScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """Prognostic score: the outcome regression of each arm, predicted for everyone.

    Parameters
    ----------
    model : regressor or None
        ``None`` fits ordinary least squares of ``y`` on ``(1, X)`` within each arm
        (as dsmatch's default, R's ``lm``).  Any scikit-learn regressor with
        ``fit``/``predict`` may be given; it is cloned and fitted once per arm.
    arms : {"both", "control"}
        ``transform`` returns ``(mu0, mu1)`` (for the ATE and the QTE) or only
        ``mu0`` (for the ATT and the QTT, where only the control outcome is imputed).

    Attributes
    ----------
    models_ : dict
        ``{0: fitted model, 1: fitted model}`` (``{0: ...}`` for ``arms="control"``);
        with the default model, the OLS coefficient vectors (intercept first).
    n_features_in_ : int
    feature_names_in_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); t = (rng.random(200) < 0.5).astype(int)
    >>> y = 1 + X[:, 0] + 2 * t + rng.normal(scale=0.1, size=200)
    >>> mu = PrognosticScore().fit(X, t, outcome=y).transform(X)
    >>> mu.shape, round(float((mu[:, 1] - mu[:, 0]).mean()), 1)
    ((200, 2), 2.0)
    """

    _binary_treatment = True

    def __init__(self, model=None, arms: str = "both"):
        self.model = model
        self.arms = arms

    def _arm_list(self) -> tuple[int, ...]:
        if self.arms not in _ARMS:
            raise InputError(f"arms must be 'both' or 'control', got {self.arms!r}")
        return (0, 1) if self.arms == "both" else (0,)

    def fit(self, X, y, *, outcome=None):
        """Fit the outcome model within each arm.  Returns ``self``.

        ``y`` is the treatment (scikit-learn's target, as for every score), ``outcome``
        the outcome regressed on ``X`` within each arm.
        """
        arms = self._arm_list()
        arr, names, _ = check_array(X)
        t, self.classes_ = check_two_levels(y, arr.shape[0])
        if outcome is None:
            raise InputError("a prognostic score needs the outcome: call "
                             "fit(X, t, outcome=y)")
        yv = check_outcome(outcome)
        if yv.shape[0] != arr.shape[0]:
            raise InputError(f"X has {arr.shape[0]} rows but the outcome has {yv.shape[0]}")
        for a in arms:
            if int((t == a).sum()) < 2:
                raise InputError(f"the {'treated' if a else 'control'} arm has "
                                 f"{int((t == a).sum())} unit(s); at least 2 needed")
        if self.model is not None and not (hasattr(self.model, "fit")
                                           and hasattr(self.model, "predict")):
            raise InputError(f"prognostic model {type(self.model).__name__} has no "
                             "fit/predict: give a scikit-learn regressor")
        self.feature_names_in_ = names
        self.n_features_in_ = arr.shape[1]
        self.models_ = {}
        for a in arms:
            sel = t == a
            Xa, ya = arr[sel], yv[sel]
            if self.model is None:
                D = np.column_stack([np.ones(Xa.shape[0]), Xa])
                self.models_[a] = np.linalg.lstsq(D, ya, rcond=None)[0]
                continue
            try:
                self.models_[a] = clone(self.model).fit(Xa, ya)
            except Exception as err:          # noqa: BLE001 - re-raised with context
                raise InputError(f"prognostic model {type(self.model).__name__} could not "
                                 f"be fitted on the {'treated' if a else 'control'} arm: "
                                 f"{err}") from err
        return self

    def predict_arm(self, X, arm: int) -> np.ndarray:
        """``mu_arm(X)``: the fitted outcome regression of arm ``arm`` (0 or 1)."""
        arr = check_fitted_array(self, X, "models_", "fit(X, t, outcome=y)")
        if arm not in self.models_:
            raise InputError(f"arm {arm!r} was not fitted (arms={self.arms!r})")
        m = self.models_[arm]
        if self.model is None:
            return m[0] + arr @ m[1:]
        out = np.asarray(m.predict(arr), dtype=np.float64).reshape(arr.shape[0], -1)[:, 0]
        if not np.isfinite(out).all():
            raise InputError(f"prognostic model {type(self.model).__name__} predicted "
                             "non-finite values")
        return out

    def transform(self, X) -> np.ndarray:
        """``(mu0, mu1)`` or ``mu0``, shape (n, 2) or (n, 1)."""
        return np.column_stack([self.predict_arm(X, a) for a in self._arm_list()])

    def get_feature_names_out(self, input_features=None):
        return np.array([f"mu{a}" for a in self._arm_list()], dtype=object)


def _as_propensity(model):
    """A score object for a propensity model: scores pass, classifiers are wrapped."""
    if hasattr(model, "transform") and hasattr(model, "fit"):
        return model
    if hasattr(model, "predict_proba") and hasattr(model, "fit"):
        return PropensityScore(model=model)
    raise InputError(f"propensity model {type(model).__name__} is neither a score "
                     "(fit/transform) nor a classifier with predict_proba")


def _as_prognostic(model, arms: str):
    """A PrognosticScore for a prognostic model (regressors are wrapped)."""
    if isinstance(model, PrognosticScore):
        return clone(model).set_params(arms=arms)
    if model is None or (hasattr(model, "fit") and hasattr(model, "predict")):
        return PrognosticScore(model=model, arms=arms)
    raise InputError(f"prognostic model {type(model).__name__} is neither a "
                     "PrognosticScore nor a regressor with fit/predict")


def _model_list(models, what: str) -> list:
    if models is None:
        raise InputError(f"no {what} models given")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if not models:
        raise InputError(f"the list of {what} models is empty: give at least one")
    return models


class DoubleScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """Several propensity and prognostic scores stacked into one matching variable.

    ``transform`` returns the columns of every propensity score (the linear
    predictor ``log(e / (1 - e))`` for :class:`~causalsm.PropensityScore`, or
    whatever a given score object returns, e.g. a neural network's propensity),
    then ``mu0`` (and ``mu1`` when ``arms="both"``) of every prognostic model, on
    their natural (unstandardised) scales.  The double score is balancing when any
    one of the propensity models or any one of the prognostic models is correct
    (Yang & Zhang 2023).

    Parameters
    ----------
    propensity : list
        Propensity models: score objects with ``fit(X, t)``/``transform(X)``
        (:class:`~causalsm.PropensityScore`,
        ``NeuralBalancingScore(output="logit")``...) or classifiers with
        ``predict_proba`` (wrapped in ``PropensityScore(model=...)``).  ``None``
        means one logistic regression on all covariates.
    prognostic : list
        Prognostic models: :class:`PrognosticScore` objects or regressors (wrapped);
        ``None`` means one OLS per arm on all covariates.
    arms : {"both", "control"}
        Prognostic columns ``mu0, mu1`` (ATE, QTE) or ``mu0`` only (ATT, QTT).

    Attributes
    ----------
    propensity_scores_, prognostic_scores_ : list
        The fitted score objects (clones of the ones given).
    n_propensity_columns_ : int
        Number of leading columns of ``transform`` that come from propensity models
        (set by the first call of ``transform``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 3)); t = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> y = X.sum(axis=1) + t + rng.normal(size=300)
    >>> ds = DoubleScore(propensity=[PropensityScore(), PropensityScore(link="probability")],
    ...                  prognostic=[PrognosticScore()]).fit(X, t, outcome=y)
    >>> ds.transform(X).shape, ds.get_feature_names_out().tolist()
    ((300, 4), ['ps0_propensity_logit', 'ps1_propensity', 'pg0_mu0', 'pg0_mu1'])
    """

    _binary_treatment = True

    def __init__(self, propensity=None, prognostic=None, arms: str = "both"):
        self.propensity = propensity
        self.prognostic = prognostic
        self.arms = arms

    def fit(self, X, y, *, outcome=None):
        """Fit every propensity model on ``(X, y)`` and prognostic model on ``(X, y)``
        and the ``outcome`` (``y`` is the treatment, as for every score)."""
        if self.arms not in _ARMS:
            raise InputError(f"arms must be 'both' or 'control', got {self.arms!r}")
        arr, names, _ = check_array(X, accept_sparse=True)
        check_two_levels(y, arr.shape[0])
        if outcome is None:
            raise InputError("a double score needs the outcome: call fit(X, t, outcome=y)")
        check_outcome(outcome)
        t = y
        ps = [PropensityScore()] if self.propensity is None \
            else _model_list(self.propensity, "propensity")
        pg = [None] if self.prognostic is None else _model_list(self.prognostic, "prognostic")
        self.propensity_scores_ = [clone(_as_propensity(m)).fit(X, t) for m in ps]
        self.prognostic_scores_ = [_as_prognostic(m, self.arms).fit(X, t, outcome=outcome)
                                   for m in pg]
        self.n_features_in_ = arr.shape[1]
        self.feature_names_in_ = names
        return self

    def transform(self, X) -> np.ndarray:
        """The stacked scores, shape (n, ``n_propensity_columns_`` + the number of
        prognostic columns)."""
        if not hasattr(self, "propensity_scores_"):
            raise not_fitted(self, "fit(X, t, outcome=y)")
        n = check_array(X)[0].shape[0]
        cols = [np.asarray(s.transform(X), dtype=np.float64).reshape(n, -1)
                for s in self.propensity_scores_ + self.prognostic_scores_]
        self.n_propensity_columns_ = int(sum(c.shape[1]
                                             for c in cols[:len(self.propensity_scores_)]))
        return np.column_stack(cols)

    def get_feature_names_out(self, input_features=None):
        out = []
        for k, s in enumerate(self.propensity_scores_):
            names = s.get_feature_names_out() if hasattr(s, "get_feature_names_out") \
                else ["propensity"]
            out += [f"ps{k}_{c}" for c in names]
        for k, s in enumerate(self.prognostic_scores_):
            out += [f"pg{k}_{c}" for c in s.get_feature_names_out()]
        return np.array(out, dtype=object)
