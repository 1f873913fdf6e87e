"""Simulators of high-dimensional confounding: text, many covariates, sparse linear.

These are the designs of ``benchmarks/highdim.py``, where neural score matching is
measured against regularised propensity scores, covariate and principal-component
matching.  Each draws a fresh data set from ``random_state`` and knows its true
effects; the latent confounders that drive treatment and outcome (and that no
method is given) are returned too, so that their balance after matching can be
measured.

* :func:`simulate_news`: bag-of-words documents from a topic model, the News design
  of Johansson, Shalit & Sontag (2016);
* :func:`simulate_latent_factors`: hundreds of covariates driven by a few latent
  factors, with treatment and outcome nonlinear in the factors;
* :func:`simulate_sparse_linear`: hundreds of correlated covariates, a sparse
  linear propensity (where an L1-penalised logistic model is at home) and a
  sparse linear outcome.

All three return a :class:`pandas.DataFrame` following the :mod:`causalsm.datasets`
``attrs`` convention, or with ``as_frame=False`` a :class:`sklearn.utils.Bunch`
whose ``X`` is a numpy array (a ``scipy.sparse`` CSR matrix of counts for the text
design).  The true effects are in-sample: the means of ``mu1 - mu0`` over the
treated (ATT), all units (ATE) and the controls (ATC).  With ``population=N`` each also
draws ``N`` further units from the same world (same topics and centroid documents, same
loadings) after the sample, which is unchanged, and adds the population effects
``PATT = E[e tau] / E[e]``, ``PATE = E[tau]`` and ``PATC = E[(1 - e) tau] / E[1 - e]``
(``e`` the true propensity) to the true effects: the target of the Abadie-Imbens
population variance, where the in-sample effects are that of the sample variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import Bunch

from causalsm.datasets._frame import as_generator, finalize

__all__ = ["simulate_latent_factors", "simulate_news", "simulate_sparse_linear"]


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _true_effects(t: np.ndarray, mu0: np.ndarray, mu1: np.ndarray) -> dict:
    tau = mu1 - mu0
    return {"ATT": float(tau[t == 1].mean()), "ATE": float(tau.mean()),
            "ATC": float(tau[t == 0].mean())}


def _population_effects(draw, size: int, chunk: int = 10_000) -> dict:
    """``PATT``, ``PATE``, ``PATC`` over ``size`` fresh units (none when ``size`` is 0);
    ``draw(m)`` gives the true propensities and effects ``(e, tau)`` of ``m`` new units of
    the same world."""
    if not size:
        return {}
    sums = np.zeros(5)
    for start in range(0, size, chunk):
        e, tau = draw(min(chunk, size - start))
        sums += [np.sum(e * tau), np.sum(e), np.sum(tau), np.sum((1 - e) * tau), e.size]
    et, e, tau, ct, m = sums
    return {"PATT": float(et / e), "PATE": float(tau / m), "PATC": float(ct / (m - e))}


def _population_size(population) -> int:
    return 0 if population in (None, 0) else _positive_int(population, "population")


def _result(X, names: list[str], *, t, mu0, mu1, y, propensity, latent: dict,
            as_frame: bool, name: str, description: str, population: dict):
    """A DataFrame (attrs convention) or a Bunch with the same content."""
    effects = _true_effects(t, mu0, mu1) | population
    if not as_frame:
        return Bunch(X=X, t=t, y=y, mu0=mu0, mu1=mu1, propensity=propensity,
                     latent=pd.DataFrame(latent), feature_names=names, true_effect=effects,
                     description=description)
    dense = X.toarray() if sp.issparse(X) else X
    df = pd.DataFrame(dense, columns=names)
    extra = {"treat": t, "y": y, "mu0": mu0, "mu1": mu1, "propensity": propensity, **latent}
    df = pd.concat([df, pd.DataFrame(extra)], axis=1)
    return finalize(df, name=name, treatment="treat", outcome="y", covariates=names,
                    true_effect=effects, description=description, latent=list(latent))


# ----------------------------------------------------------------------- text
def _topic_mixtures(counts: sp.csr_matrix, topics: np.ndarray, alpha: float,
                    n_iter: int = 20) -> np.ndarray:
    """Posterior mean topic mixture of each document given its words (LDA's
    variational inference with the topics fixed: Blei, Ng & Jordan 2003, eq. 6-7)."""
    from scipy.special import digamma

    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    gamma = np.full((counts.shape[0], topics.shape[0]),
                    alpha + counts.sum(axis=1).A1[:, None] / topics.shape[0])
    for _ in range(n_iter):
        # phi_dvk = E_dk beta_kv / sum_k E_dk beta_kv at each word of each document;
        # gamma_dk = alpha + sum_v c_dv phi_dvk = alpha + E_dk (C / S) beta'
        E = np.exp(digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True)))
        norm = (E @ topics)[rows, counts.indices]
        ratio = sp.csr_matrix((counts.data / norm, counts.indices, counts.indptr),
                              shape=counts.shape)
        gamma = alpha + E * (ratio @ topics.T)
    return gamma / gamma.sum(axis=1, keepdims=True)


def simulate_news(n: int = 3000, n_words: int = 2000, n_topics: int = 50, *,
                  doc_length: float = 120.0, kappa: float = 10.0, scale: float = 50.0,
                  topic_concentration: float = 0.05, word_concentration: float = 0.05,
                  population: int = 0, random_state=None, as_frame: bool = True):
    """Bag-of-words documents confounding a treatment: the News design.

    Johansson, Shalit & Sontag (2016, "Learning representations for counterfactual
    inference", Section 5.2) simulate a reader who sees a news item on a mobile
    device (``T = 1``) or a desktop (``T = 0``): treatment and outcome depend on the
    document's topic mixture ``z`` through its similarity to two *centroid
    documents* ``c0`` and ``c1``::

        P(T = 1 | z) = exp(kappa z'c1) / (exp(kappa z'c0) + exp(kappa z'c1))
        Y(t) = scale (z'c0 + t z'c1) + N(0, 1)

    with ``kappa = 10`` and ``scale = 50`` (their C).  Their ``z(x)`` is the topic
    mixture that an LDA model fitted to New York Times articles gives a document
    ``x``: a function of the words, so that the words carry all the confounding.  Here
    the corpus itself comes from a topic model (``n_topics`` topics with word
    distributions ``Dirichlet(word_concentration)``, document mixtures
    ``Dirichlet(topic_concentration)``, lengths ``1 + Poisson(doc_length)``, word
    counts ``Multinomial(length, mixture' topics)``), and ``z(x)`` is the posterior
    mean of the mixture given the words and the true topics (20 variational
    fold-in iterations, as LDA's inference of a new document).  The two centroid
    documents are two of the drawn documents.  Methods see only the word counts;
    ``z'c0`` and ``z'c1`` are the latent confounders.

    Parameters
    ----------
    n : int, default 3000
        Documents.
    n_words : int, default 2000
        Vocabulary size.
    n_topics : int, default 50
    doc_length : float, default 120
        Mean number of words per document.
    kappa, scale : float
        Strength of the confounding and of the outcome (10 and 50 in the paper).
    topic_concentration, word_concentration : float
        Dirichlet parameters of the document mixtures and of the topics (smaller is
        sparser).
    population : int, default 0
        Also draw this many further documents from the same topics and centroid
        documents (after the sample, which is unchanged) and add the population
        ``PATT``, ``PATE`` and ``PATC`` to the true effects (see the module docstring;
        about 0.5 s per 1,000 documents of 2,000 words).
    random_state : None, int or numpy.random.Generator
    as_frame : bool, default True
        Return a DataFrame (dense word counts ``w0000`` ...); ``False`` returns a
        :class:`sklearn.utils.Bunch` with ``X`` a CSR matrix of counts.

    Returns
    -------
    pandas.DataFrame or Bunch
        Word counts, ``treat``, ``y``, ``mu0``, ``mu1``, ``propensity`` and the latent confounders
        ``sim0 = z'c0`` and ``sim1 = z'c1``; ``attrs["true_effect"]`` holds the
        in-sample ATT, ATE and ATC and ``attrs["latent"]`` the latent columns.

    Examples
    --------
    >>> from causalsm.datasets import simulate_news
    >>> d = simulate_news(400, 300, random_state=0, as_frame=False)
    >>> d.X.shape, d.X.format, round(float(d.t.mean()), 2)
    ((400, 300), 'csr', 0.4)
    >>> df = simulate_news(200, 100, random_state=0)
    >>> df.shape, df.attrs["latent"]
    ((200, 107), ['sim0', 'sim1'])
    """
    n = _positive_int(n, "n", 2)
    n_words = _positive_int(n_words, "n_words", 2)
    n_topics = _positive_int(n_topics, "n_topics", 2)
    size = _population_size(population)
    rng = as_generator(random_state)
    topics = rng.dirichlet(np.full(n_words, word_concentration), size=n_topics)

    def documents(m):
        """Word counts of ``m`` new documents and their posterior topic mixtures."""
        z = rng.dirichlet(np.full(n_topics, topic_concentration), size=m)
        lengths = 1 + rng.poisson(doc_length, size=m)
        probs = z @ topics
        probs /= probs.sum(axis=1, keepdims=True)
        counts = sp.csr_matrix(rng.multinomial(lengths, probs).astype(np.float64))
        return counts, _topic_mixtures(counts, topics, topic_concentration)

    counts, z = documents(n)
    c0, c1 = z[rng.choice(n, size=2, replace=False)]
    sim0, sim1 = z @ c0, z @ c1
    e = _expit(kappa * (sim1 - sim0))
    t = (rng.random(n) < e).astype(np.int64)
    mu0 = scale * sim0
    mu1 = scale * (sim0 + sim1)
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=n)

    def units(m):
        zm = documents(m)[1]
        return _expit(kappa * (zm @ c1 - zm @ c0)), scale * (zm @ c1)

    names = [f"w{j:04d}" for j in range(n_words)]
    return _result(counts, names, t=t, mu0=mu0, mu1=mu1, y=y, propensity=e,
                   latent={"sim0": sim0, "sim1": sim1}, as_frame=as_frame,
                   name="news", population=_population_effects(units, size),
                   description=(f"News design (Johansson et al. 2016): {n} topic-model "
                                f"documents, {n_words}-word vocabulary, {n_topics} topics; "
                                "treatment and outcome through the similarity of each "
                                "document's topic mixture to two centroid documents"))


# --------------------------------------------------------------- latent factors
def simulate_latent_factors(n: int = 3000, p: int = 1000, *, noise: float = 1.0,
                            population: int = 0, random_state=None, as_frame: bool = True):
    """Many covariates driven by four latent factors; confounding nonlinear in them.

    Four factors ``F ~ N(0, I)`` drive ``p`` covariates, each a noisy mix of a linear
    and a nonlinear function of the factors::

        X = F L + 0.5 sin(2 F M) + N(0, noise^2),   L, M with N(0, 1/4) entries

    and the treatment and the outcome depend on the factors alone, nonlinearly::

        logit P(T = 1) = -0.5 + 0.9 F1 - 0.9 |F2| + 0.7 F3 F4
        mu0 = 1 + 2 F1 + 1.5 |F2| + F3 F4 + 0.5 F4,   mu1 = mu0 + 1 + 0.5 F1
        Y = mu_T + N(0, 1)

    ``|F2|`` and ``F3 F4`` are invisible to a linear propensity model; no method is
    given ``F``.

    Parameters
    ----------
    n : int, default 3000
    p : int, default 1000
        Covariates.
    noise : float, default 1.0
        SD of the covariates' own noise (their signal has variance about 1.1).
    population : int, default 0
        Also draw this many further units' factors and add the population ``PATT``,
        ``PATE`` (1) and ``PATC`` to the true effects (module docstring).
    random_state : None, int or numpy.random.Generator
    as_frame : bool, default True
        DataFrame, or a :class:`sklearn.utils.Bunch` with ``X`` a numpy array.

    Returns
    -------
    pandas.DataFrame or Bunch
        Covariates ``x0000`` ..., ``treat``, ``y``, ``mu0``, ``mu1`` and the latent
        factors ``F1`` .. ``F4`` (``attrs["latent"]``).

    Examples
    --------
    >>> from causalsm.datasets import simulate_latent_factors
    >>> df = simulate_latent_factors(500, 200, random_state=0)
    >>> df.shape, df.attrs["latent"]
    ((500, 209), ['F1', 'F2', 'F3', 'F4'])
    """
    n = _positive_int(n, "n", 2)
    p = _positive_int(p, "p", 2)
    size = _population_size(population)
    rng = as_generator(random_state)

    def propensity(F):
        f1, f2, f3, f4 = F.T
        return _expit(-0.5 + 0.9 * f1 - 0.9 * np.abs(f2) + 0.7 * f3 * f4)

    F = rng.normal(size=(n, 4))
    L = rng.normal(scale=0.5, size=(4, p))
    M = rng.normal(scale=0.5, size=(4, p))
    X = F @ L + 0.5 * np.sin(2.0 * F @ M) + rng.normal(scale=noise, size=(n, p))
    f1, f2, f3, f4 = F.T
    e = propensity(F)
    t = (rng.random(n) < e).astype(np.int64)
    mu0 = 1.0 + 2.0 * f1 + 1.5 * np.abs(f2) + f3 * f4 + 0.5 * f4
    mu1 = mu0 + 1.0 + 0.5 * f1
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=n)

    def units(m):
        Fm = rng.normal(size=(m, 4))
        return propensity(Fm), 1.0 + 0.5 * Fm[:, 0]

    names = [f"x{j:04d}" for j in range(p)]
    return _result(X, names, t=t, mu0=mu0, mu1=mu1, y=y, propensity=e,
                   latent={f"F{k + 1}": F[:, k] for k in range(4)}, as_frame=as_frame,
                   name="latent_factors",
                   population=_population_effects(units, size),
                   description=(f"{p} covariates driven by 4 latent factors; treatment "
                                "and outcome nonlinear in the factors"))


# ---------------------------------------------------------------- sparse linear
def simulate_sparse_linear(n: int = 2000, p: int = 1000, *, n_active: int = 10,
                           rho: float = 0.5, population: int = 0, random_state=None,
                           as_frame: bool = True):
    """Many correlated covariates, a sparse linear propensity and a sparse outcome.

    ``X ~ N(0, S)`` with ``S_jk = rho^|j - k|``; the first ``n_active`` covariates are
    confounders, the next ``n_active`` only predict the outcome::

        logit P(T = 1) = -0.5 + X[:, :a] b,      b = 0.5 (+1, -1, +1, ...)
        mu0 = X[:, :a] g + X[:, a:2a] d,         g = 1, d = 0.5 (alternating signs)
        mu1 = mu0 + 1 + 0.5 X1,                  Y = mu_T + N(0, 1)

    The propensity is linear and sparse: an L1-penalised logistic regression is
    the right model.

    Parameters
    ----------
    n : int, default 2000
    p : int, default 1000
    n_active : int, default 10
        Confounders (and as many prognostic-only covariates); ``2 n_active <= p``.
    rho : float, default 0.5
        Correlation of neighbouring covariates.
    population : int, default 0
        Also draw this many further units (their first ``n_active`` covariates) and
        add the population ``PATT``, ``PATE`` (1) and ``PATC`` to the true effects
        (module docstring).
    random_state : None, int or numpy.random.Generator
    as_frame : bool, default True

    Returns
    -------
    pandas.DataFrame or Bunch
        Covariates ``x0000`` ..., ``treat``, ``y``, ``mu0``, ``mu1`` and the latent
        columns ``ps_logit`` (the true propensity's linear predictor) and
        ``prognostic`` (``mu0``'s confounding part ``X[:, :a] g``).

    Examples
    --------
    >>> from causalsm.datasets import simulate_sparse_linear
    >>> df = simulate_sparse_linear(300, 50, random_state=0)
    >>> df.shape, df.attrs["latent"]
    ((300, 57), ['ps_logit', 'prognostic'])
    """
    n = _positive_int(n, "n", 2)
    p = _positive_int(p, "p", 2)
    a = _positive_int(n_active, "n_active")
    if 2 * a > p:
        raise ValueError(f"2 * n_active must be at most p; got n_active={a}, p={p}")
    if not -1 < rho < 1:
        raise ValueError(f"rho must be in (-1, 1); got {rho!r}")
    size = _population_size(population)
    rng = as_generator(random_state)

    def ar1(m, q):
        # AR(1) columns: X_j = rho X_{j-1} + sqrt(1 - rho^2) e_j has corr rho^|j - k|
        E = rng.normal(size=(m, q))
        X = np.empty_like(E)
        X[:, 0] = E[:, 0]
        s = np.sqrt(1.0 - rho ** 2)
        for j in range(1, q):
            X[:, j] = rho * X[:, j - 1] + s * E[:, j]
        return X

    X = ar1(n, p)
    signs = np.where(np.arange(a) % 2 == 0, 1.0, -1.0)
    ps_logit = -0.5 + X[:, :a] @ (0.5 * signs)
    prognostic = X[:, :a] @ np.ones(a)
    e = _expit(ps_logit)
    t = (rng.random(n) < e).astype(np.int64)
    mu0 = prognostic + X[:, a:2 * a] @ (0.5 * signs)
    mu1 = mu0 + 1.0 + 0.5 * X[:, 0]
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=n)

    def units(m):
        Xm = ar1(m, a)
        return _expit(-0.5 + Xm @ (0.5 * signs)), 1.0 + 0.5 * Xm[:, 0]

    names = [f"x{j:04d}" for j in range(p)]
    return _result(X, names, t=t, mu0=mu0, mu1=mu1, y=y, propensity=e,
                   latent={"ps_logit": ps_logit, "prognostic": prognostic},
                   as_frame=as_frame, name="sparse_linear",
                   population=_population_effects(units, size),
                   description=(f"{p} AR(1) covariates (rho {rho:g}); sparse linear "
                                f"propensity on {a} of them, sparse linear outcome"))
