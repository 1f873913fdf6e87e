"""A conditional density of the exposure learned by score matching, normalised by quadrature.

"Score matching" here is Hyvarinen's density estimation: the *score* is
``d/dw log p(w | x)``.  It is unrelated to the neural balancing score of
:mod:`causalsm.scores.neural`.

**Model.**  With the exposure standardised, ``z = (w - mean) / sd``, and ``u = (z - a(x)) /
b(x)``, the energy is

    E(z, x) = u^2 / 2 + log b(x) + B tanh(g(u, x) / B),   g(u, x) = sum_k c_k(x) phi_k(u),

where ``a``, ``b > 0`` and the coefficients ``c_k`` come from one network of ``x`` (a
multilayer perceptron with smooth SiLU activations, plus a linear path for ``a`` and ``log
b`` started at the least-squares fit, so training starts from the normal GPS) and
``phi_k`` are Gaussian bumps spread over ``u`` in [-4, 4].  ``p(z | x) = exp(-E) / Z(x)`` is
then any smooth density: skewed, heavy-shouldered, bimodal, heteroskedastic (through
``b(x)``).  The bound ``B`` keeps the correction within ``exp(+-B)`` of the Gaussian base, so
``exp(-E)`` is integrable for every ``x``.

**Objectives** (``objective=``), all needing only ``s = -dE/dz``, never ``Z(x)``:

* ``"exact"``: Hyvarinen (2005), ``mean(s^2 / 2 + ds/dz)`` (second derivatives by autograd);
* ``"sliced"``: sliced score matching (Song, Garg, Shi & Ermon 2019) with Gaussian
  projections ``v``: ``mean(v^2 ds/dz + (v s)^2 / 2)``.  In one dimension it is the exact
  objective with random weights ``v^2`` (an unbiased, noisier version of it);
* ``"dsm"``: denoising score matching (Vincent 2011) at one noise level ``sigma``:
  ``mean((sigma s(z + sigma e) + e)^2 / 2)``; it fits the density smoothed by ``N(0,
  sigma^2)``;
* ``"dsm_multi"``: the noise-conditional form (Song & Ermon 2019): ``sigma`` is drawn per
  sample from ``n_noise`` geometric levels between ``sigma_max`` and ``sigma_min`` and is an
  input of the network; the density is read at ``sigma_min``.

**Normalisation.**  In ``u`` the base Gaussian and ``log b`` cancel, so
``log Z(x) = log int exp(-u^2/2 - B tanh(g(u, x)/B)) du``, a one-dimensional integral done
by the trapezoid rule on ``quad_points`` nodes over ``[-quad_span, quad_span]`` (the
integrand is smooth and its tails are Gaussian, so the rule converges geometrically;
``quadrature_error_`` is the largest change in ``log Z`` from halving the nodes, on the
training data).  Then ``log r(w, x) = -E - log Z(x) - log sd`` (plus the log-Jacobian of
``transform``), a proper density with no distributional assumption.

Training keeps the weights with the best held-out log-likelihood (computable exactly
thanks to the normalisation) and stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._torch import import_torch
from .._validation import InputError, check_int
from .density import ConditionalDensity, _Rows
from ._runtime import activation, resolve_device, torch_seed, torch_threads

torch = import_torch()
from torch import nn  # noqa: E402

__all__ = ["ScoreMatchingDensity"]

_OBJECTIVES = ("exact", "sliced", "dsm", "dsm_multi")
_BUMP_RANGE = 4.0


class _EnergyNet(nn.Module):
    """x (and log sigma) -> a, b, c: location, scale and bump coefficients."""

    def __init__(self, n_in: int, hidden: tuple[int, ...], n_basis: int, activation):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), activation()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 2 + n_basis)
        self.linear = nn.Linear(n_in, 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        out = self.head(self.body(x))
        lin = self.linear(x)
        a = lin[:, 0] + out[:, 0]
        b = nn.functional.softplus(lin[:, 1] + out[:, 1]) + 1e-3
        return a, b, out[:, 2:]


def _correction(u, c, centres, width, bound):
    """``B tanh(g / B)`` with ``g = sum_k c_k exp(-(u - m_k)^2 / (2 w^2))``; ``u`` is
    ``(n,)`` or ``(n, G)``, ``c`` is ``(n, K)``."""
    if u.dim() == 1:
        phi = torch.exp(-0.5 * ((u[:, None] - centres) / width) ** 2)
        g = (phi * c).sum(-1)
    else:
        phi = torch.exp(-0.5 * ((u[..., None] - centres) / width) ** 2)
        g = (phi * c[:, None, :]).sum(-1)
    return bound * torch.tanh(g / bound)


class _SMRows(_Rows):
    """Fitted per-row densities: network outputs and log Z of each row."""

    def __init__(self, model: "ScoreMatchingDensity", X: np.ndarray):
        self.model = model
        self.n = X.shape[0]
        self.a, self.b, self.c, self.log_z = model._outputs(X)

    def _evaluate(self, w, score: bool) -> np.ndarray:
        m = self.model
        w = np.asarray(w, dtype=np.float64)
        two_d = w.ndim == 2
        W = np.broadcast_to(w, (self.n, w.shape[1]) if two_d else (self.n,))
        out = np.empty(W.shape)
        step = max(1, (1 << 21) // (max(W[0].size, 1) * self.c.shape[1]))
        for s in range(0, self.n, step):
            sl = slice(s, s + step)
            a, b, c, lz = self.a[sl], self.b[sl], self.c[sl], self.log_z[sl]
            if two_d:
                a, b, lz = a[:, None], b[:, None], lz[:, None]
            wt = torch.as_tensor(np.array(W[sl]), dtype=torch.float64, device=m._device)
            with torch.enable_grad() if score else torch.no_grad():
                if score:
                    wt.requires_grad_(True)
                lp = m._log_density(wt, a, b, c, lz)
                val = torch.autograd.grad(lp.sum(), wt)[0] if score else lp
            out[sl] = val.detach().cpu().numpy()
        return out

    def log_density(self, w):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._evaluate(w, score=False)

    def score(self, w):
        return self._evaluate(w, score=True)


class ScoreMatchingDensity(ConditionalDensity):
    """Conditional density of a continuous exposure learned by score matching (a GPS).

    See the module docstring for the model, the objectives and the normalisation.

    Parameters
    ----------
    objective : {"dsm", "exact", "sliced", "dsm_multi"}
        Score-matching objective: denoising at ``sigma = 0.1`` (default), exact
        (Hyvarinen), sliced or multi-level denoising.  ``benchmarks/exposure_response_sim.py
        density --objectives`` compares their held-out log-likelihoods (not yet recorded).
    hidden : tuple of int
        Hidden layer widths of the network of ``x``.
    n_basis : int
        Number of Gaussian bumps in the energy's correction.
    correction_bound : float
        ``B``: the log-density departs from the Gaussian base by at most ``B``.
    sigma : float
        Noise level of ``"dsm"`` (standardised units).
    sigma_max, sigma_min, n_noise : float, float, int
        Noise levels of ``"dsm_multi"``.
    quad_points, quad_span : int, float
        Trapezoid nodes over ``u`` in ``[-quad_span, quad_span]`` for ``log Z(x)``.
    transform : {None, "log", "logit"}
        Model ``log(W - lo)`` or ``logit((W - lo) / (hi - lo))`` instead of ``W`` (bounded
        exposures; the density of ``W`` includes the Jacobian).
    bounds : (float, float), optional
        ``(lo, hi)`` for the transform; default ``(0, None)`` for ``"log"``; required for
        ``"logit"``.
    epochs, batch_size, learning_rate, weight_decay : int, int, float, float
        Adam training.
    validation_fraction, patience : float, int
        Held-out share for the log-likelihood that picks the best epoch; training stops
        after ``patience`` epochs without improvement.
    device : {"cpu", "auto", "cuda"}
    random_state : int or None
        Seeds the weights, the split, the batches and the noise: same seed, same model (on
        the CPU, bit for bit).
    n_threads : int or None
        Torch CPU threads during fit and evaluation.

    Attributes
    ----------
    network_ : torch.nn.Module
    history_ : dict -- ``"loss"`` per epoch and ``"val_loglik"`` (held-out mean log r)
    best_epoch_, n_epochs_ : int
    quadrature_error_ : float
    w_mean_, w_scale_ : float -- standardisation of the (transformed) exposure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 2))
    >>> w = X[:, 0] + rng.gamma(2.0, size=1000)          # skewed given X
    >>> sm = ScoreMatchingDensity(epochs=60, random_state=0).fit(X, w)
    >>> grid = np.linspace(-10, 20, 3001)
    >>> mass = sm.density_at(X[:3], grid).sum(axis=1) * (grid[1] - grid[0])
    >>> np.round(mass, 3)
    array([1., 1., 1.])
    """

    def __init__(self, objective: str = "dsm", hidden: Any = (64, 64), n_basis: int = 16,
                 correction_bound: float = 5.0, sigma: float = 0.1, sigma_max: float = 1.0,
                 sigma_min: float = 0.01, n_noise: int = 10, quad_points: int = 512,
                 quad_span: float = 12.0, transform: Any = None, bounds: Any = None,
                 epochs: int = 300, batch_size: int = 256, learning_rate: float = 1e-3,
                 weight_decay: float = 1e-4, validation_fraction: float = 0.2,
                 patience: int = 30, activation: Any = "silu", device: str = "cpu",
                 random_state: Any = None, n_threads: Any = 1):
        self.objective = objective
        self.hidden = hidden
        self.n_basis = n_basis
        self.correction_bound = correction_bound
        self.sigma = sigma
        self.sigma_max = sigma_max
        self.sigma_min = sigma_min
        self.n_noise = n_noise
        self.quad_points = quad_points
        self.quad_span = quad_span
        self.transform = transform
        self.bounds = bounds
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.activation = activation
        self.device = device
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------ transforms
    def _check_transform(self, w: np.ndarray) -> None:
        if self.transform is None:
            self._bounds = (None, None)
            return
        if self.transform not in ("log", "logit"):
            raise InputError(f"transform must be None, 'log' or 'logit', got "
                             f"{self.transform!r}")
        lo, hi = (0.0, None) if self.bounds is None and self.transform == "log" else \
            (tuple(self.bounds) if self.bounds is not None else (None, None))
        if self.transform == "logit" and (lo is None or hi is None or not lo < hi):
            raise InputError("transform='logit' needs bounds=(lo, hi) with lo < hi")
        if (w <= lo).any() or (hi is not None and (w >= hi).any()):
            raise InputError(f"the exposure must lie strictly inside the bounds "
                             f"({lo}, {hi}) for transform={self.transform!r}")
        self._bounds = (float(lo), None if hi is None else float(hi))

    def _to_latent(self, w):
        """``t(w)`` and ``log |t'(w)|`` (torch, float64)."""
        lo, hi = self._bounds
        if self.transform is None:
            return w, torch.zeros_like(w)
        if self.transform == "log":
            return torch.log(w - lo), -torch.log(w - lo)
        s = (w - lo) / (hi - lo)
        return torch.log(s) - torch.log1p(-s), -torch.log(w - lo) - torch.log(hi - w) + \
            math.log(hi - lo)

    # ------------------------------------------------------------ fitting
    def _net_input(self, Xs: "torch.Tensor", sigma: "torch.Tensor | None"):
        if self.objective != "dsm_multi":
            return Xs
        ls = (torch.log(sigma) - self._log_sigma_mid) / self._log_sigma_half
        return torch.cat([Xs, ls[:, None]], dim=1)

    def _params(self) -> dict:
        if self.objective not in _OBJECTIVES:
            raise InputError(f"objective must be one of {', '.join(_OBJECTIVES)}, got "
                             f"{self.objective!r}")
        hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else \
            tuple(check_int(h, "hidden") for h in self.hidden)
        vf = float(self.validation_fraction)
        if not 0 < vf < 1:
            raise InputError(f"validation_fraction must be in (0, 1), got {vf!r}")
        for name in ("correction_bound", "sigma", "sigma_max", "sigma_min", "quad_span",
                     "learning_rate"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.objective == "dsm_multi" and not self.sigma_min < self.sigma_max:
            raise InputError("sigma_min must be below sigma_max")
        return {"hidden": hidden, "vf": vf,
                "n_basis": check_int(self.n_basis, "n_basis"),
                "epochs": check_int(self.epochs, "epochs"),
                "batch_size": check_int(self.batch_size, "batch_size"),
                "patience": check_int(self.patience, "patience", minimum=0),
                "quad": check_int(self.quad_points, "quad_points", minimum=16),
                "n_noise": check_int(self.n_noise, "n_noise", minimum=2)}

    def _fit(self, X, w):
        p = self._params()
        self._check_transform(w)
        device = resolve_device(self.device)
        seed = torch_seed(self.random_state)
        self._device = device
        t = self._to_latent(torch.as_tensor(w, dtype=torch.float64))[0].numpy()
        self.w_mean_, self.w_scale_ = float(t.mean()), float(t.std()) or 1.0
        self.x_mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.x_scale_ = np.where(sd > 0, sd, 1.0)
        Xs = (X - self.x_mean_) / self.x_scale_
        z = (t - self.w_mean_) / self.w_scale_
        rng = np.random.default_rng(seed)
        n = z.size
        n_val = int(round(p["vf"] * n))
        if n_val < 2 or n - n_val < 10:
            raise InputError(f"{n} units are too few for the score-matching density "
                             "(at least 10 training and 2 validation units)")
        perm = rng.permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        self._centres = torch.linspace(-_BUMP_RANGE, _BUMP_RANGE, p["n_basis"],
                                       dtype=torch.float64, device=device)
        self._width = 2 * _BUMP_RANGE / max(p["n_basis"] - 1, 1)
        self._log_sigma_mid = 0.5 * (math.log(self.sigma_max) + math.log(self.sigma_min))
        self._log_sigma_half = 0.5 * (math.log(self.sigma_max) - math.log(self.sigma_min)) \
            or 1.0
        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork), torch_threads(self.n_threads):
            torch.manual_seed(seed)
            gen = torch.Generator(device=device).manual_seed(seed)
            n_in = X.shape[1] + (self.objective == "dsm_multi")
            net = _EnergyNet(n_in, p["hidden"], p["n_basis"], activation(self.activation))
            net = net.to(device=device, dtype=torch.float64)
            self._init_linear(net, Xs[tr], z[tr])
            self.network_ = net
            self._train(net, Xs, z, tr, val, p, gen, device)
            net.eval()
            with torch.no_grad():
                Xt = torch.as_tensor(Xs, dtype=torch.float64, device=device)
                lz_full = self._log_z(net, Xt, p["quad"])
                lz_half = self._log_z(net, Xt, p["quad"] // 2)
        self.quadrature_error_ = float((lz_full - lz_half).abs().max())
        if self.quadrature_error_ > 1e-4:
            warnings.warn(f"the quadrature of the normalising constant changes by "
                          f"{self.quadrature_error_:.2g} when halving its nodes: raise "
                          "quad_points", RuntimeWarning, stacklevel=3)
        self.random_seed_ = seed
        self.device_ = str(device)

    def _init_linear(self, net, Xs, z) -> None:
        """Start at the normal GPS: least-squares mean, residual SD."""
        A = np.column_stack([np.ones(len(z)), Xs])
        beta, *_ = np.linalg.lstsq(A, z, rcond=None)
        sd = float(np.std(z - A @ beta)) or 1.0
        k = Xs.shape[1]
        with torch.no_grad():
            w = torch.zeros_like(net.linear.weight)
            w[0, :k] = torch.as_tensor(beta[1:])
            net.linear.weight.copy_(w)
            b0 = math.log(math.expm1(max(sd - 1e-3, 1e-3)))      # softplus^{-1}
            net.linear.bias.copy_(torch.tensor([beta[0], b0], dtype=torch.float64))

    def _energy_parts(self, net, x, z, sigma=None):
        a, b, c = net(self._net_input(x, sigma))
        u = (z - a) / b
        corr = _correction(u, c, self._centres, self._width, float(self.correction_bound))
        return 0.5 * u * u + torch.log(b) + corr

    def _loss(self, net, x, z, gen):
        obj = self.objective
        if obj in ("exact", "sliced"):
            z = z.clone().requires_grad_(True)
            e = self._energy_parts(net, x, z)
            (de,) = torch.autograd.grad(e.sum(), z, create_graph=True)
            (d2e,) = torch.autograd.grad(de.sum(), z, create_graph=True)
            per = 0.5 * de * de - d2e                  # s^2/2 + ds/dz with s = -dE/dz
            if obj == "sliced":
                v = torch.randn(z.shape, generator=gen, device=z.device, dtype=z.dtype)
                per = v * v * per
            return per.mean()
        if obj == "dsm":
            sigma = torch.full_like(z, float(self.sigma))
        else:
            levels = torch.exp(torch.linspace(math.log(self.sigma_max), math.log(self.sigma_min),
                                              int(self.n_noise), dtype=z.dtype,
                                              device=z.device))
            pick = torch.randint(0, levels.numel(), z.shape, generator=gen, device=z.device)
            sigma = levels[pick]
        eps = torch.randn(z.shape, generator=gen, device=z.device, dtype=z.dtype)
        zt = (z + sigma * eps).requires_grad_(True)
        e = self._energy_parts(net, x, zt, sigma if obj == "dsm_multi" else None)
        (de,) = torch.autograd.grad(e.sum(), zt, create_graph=True)
        return (0.5 * (eps - sigma * de) ** 2).mean()      # (sigma s + eps)^2 / 2

    def _train(self, net, Xs, z, tr, val, p, gen, device):
        opt = torch.optim.Adam(net.parameters(), lr=float(self.learning_rate),
                               weight_decay=float(self.weight_decay))
        Xt = torch.as_tensor(Xs[tr], dtype=torch.float64, device=device)
        zt = torch.as_tensor(z[tr], dtype=torch.float64, device=device)
        Xv = torch.as_tensor(Xs[val], dtype=torch.float64, device=device)
        zv = torch.as_tensor(z[val], dtype=torch.float64, device=device)
        n, bs = zt.numel(), p["batch_size"]
        history = {"loss": [], "val_loglik": []}
        best, best_epoch, best_state, wait = -np.inf, 0, None, 0
        quad = max(64, p["quad"] // 4)        # enough to rank epochs; the final log Z uses all
        for epoch in range(1, p["epochs"] + 1):
            net.train()
            perm = torch.randperm(n, generator=gen, device=device)
            total = 0.0
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                loss = self._loss(net, Xt[idx], zt[idx], gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
            history["loss"].append(total / n)
            if not np.isfinite(history["loss"][-1]):
                raise InputError(f"the score-matching loss became {history['loss'][-1]} at "
                                 f"epoch {epoch}: lower learning_rate")
            net.eval()
            with torch.no_grad():
                ll = float(self._log_lik(net, Xv, zv, quad).mean())
            history["val_loglik"].append(ll)
            if ll > best + 1e-6:
                best, best_epoch, wait = ll, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                wait += 1
                if wait > p["patience"]:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history["loss"])

    # ------------------------------------------------------------ evaluation
    def _sigma_eval(self, x):
        return torch.full((x.shape[0],), float(self.sigma_min), dtype=x.dtype, device=x.device) \
            if self.objective == "dsm_multi" else None

    def _log_z(self, net, x, quad: int, c=None):
        """log of the integral over u of exp(-u^2/2 - correction), per row: the trapezoid
        rule, with the bumps at the nodes computed once (``g = c @ phi(nodes)``)."""
        span = float(self.quad_span)
        u = torch.linspace(-span, span, quad, dtype=x.dtype, device=x.device)
        phi = torch.exp(-0.5 * ((u[:, None] - self._centres) / self._width) ** 2)   # (G, K)
        end = torch.zeros(quad, dtype=x.dtype, device=x.device)
        end[[0, -1]] = math.log(2)
        bound = float(self.correction_bound)
        if c is None:
            c = net(self._net_input(x, self._sigma_eval(x)))[2]
        out = []
        step = max(1, (1 << 22) // quad)
        for s in range(0, c.shape[0], step):
            logf = -0.5 * u * u - end - bound * torch.tanh((c[s:s + step] @ phi.T) / bound)
            out.append(torch.logsumexp(logf, dim=1))
        return torch.cat(out) + torch.log(u[1] - u[0])

    def _log_density(self, w, a, b, c, log_z):
        """log r(w | x) from the network outputs (torch; ``w`` (n,) or (n, L))."""
        t, log_jac = self._to_latent(w)
        z = (t - self.w_mean_) / self.w_scale_
        u = (z - a) / b
        corr = _correction(u, c, self._centres, self._width, float(self.correction_bound))
        return -0.5 * u * u - torch.log(b) - corr - log_z - math.log(self.w_scale_) + log_jac

    def _log_lik(self, net, x, z, quad):
        """Mean-able log p(z | x) in standardised units."""
        a, b, c = net(self._net_input(x, self._sigma_eval(x)))
        u = (z - a) / b
        corr = _correction(u, c, self._centres, self._width, float(self.correction_bound))
        return -0.5 * u * u - torch.log(b) - corr - self._log_z(net, x, quad, c=c)

    def _outputs(self, X: np.ndarray):
        net = self.network_
        Xs = (X - self.x_mean_) / self.x_scale_
        with torch.no_grad(), torch_threads(self.n_threads):
            x = torch.as_tensor(Xs, dtype=torch.float64, device=self._device)
            a, b, c = net(self._net_input(x, self._sigma_eval(x)))
            log_z = self._log_z(net, x, check_int(self.quad_points, "quad_points", minimum=16),
                                c=c)
        return a, b, c, log_z

    def _rows(self, X):
        return _SMRows(self, X)
