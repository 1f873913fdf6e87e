"""The network of :class:`~causalsm.NeuralBalancingScore` and its training loop.

Several networks ("members") are trained together as one module: every layer after
the input holds the weights of all ``K`` members in one tensor with a leading member
dimension, and a batch goes through all members in one batched matrix product.
Five members then cost about twice one network rather than five times (measured
in ``benchmarks/highdim.py --speed``).  Each member is::

    x -> [encoder] -> Linear(., dim) = b(x) -> act -> Linear(dim, h1) -> act -> ...
      -> Linear(h_L, n_treatment + n_outcome)

the first ``n_treatment`` outputs being the treatment logits (one for a binary
treatment, one per level otherwise) and the last ``n_outcome`` the prognostic
head: the standardised outcome predicted under each treatment level (zero
columns when no outcome is modelled).  Members differ by their initial weights,
their dropout draws and, with cross-fitting, by the units they train on (a
``(K, n)`` mask).  Early stopping and the restoring of the best weights act
member by member.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .._validation import InputError
from ._rows import RowSource

__all__ = ["MemberNetwork", "Batches", "TrainData", "image_encoder", "train_members",
           "predict_members"]

EVAL_ROWS = 8192            # rows per forward pass when predicting or validating


class _Batched(nn.Module):
    """``K`` linear layers applied in parallel: (K, B, in) -> (K, B, out).

    A shared input (B, in) goes through all members in one matrix product.  Each
    member is initialised as ``nn.Linear(in, out)`` would be, member after member,
    so that one member reproduces a plain ``nn.Linear`` drawn from the same seed.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int):
        super().__init__()
        weights, biases = [], []
        for _ in range(n_members):
            ref = nn.Linear(in_features, out_features)
            weights.append(ref.weight.detach().T.clone())
            biases.append(ref.bias.detach().clone()[None, :])
        self.weight = nn.Parameter(torch.stack(weights))          # (K, in, out)
        self.bias = nn.Parameter(torch.stack(biases))             # (K, 1, out)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``members``: indices of the members to run (None: all)."""
        weight, bias = self.weight, self.bias
        if members is not None:
            weight, bias = weight[members], bias[members]
        if x.dim() == 2:                                          # shared input
            k, i, o = weight.shape
            flat = weight.permute(1, 0, 2).reshape(i, k * o)
            out = (x @ flat).reshape(x.shape[0], k, o).permute(1, 0, 2)
            return out + bias
        return torch.baddbmm(bias, x, weight)


def image_encoder(shape: tuple[int, int, int]) -> nn.Module:
    """The built-in encoder for images of ``shape`` (channels, height, width).

    Each unit's row (flattened pixels, or an image already) is reshaped to ``shape``,
    then two blocks of a 3x3 convolution, ReLU and 2x2 max-pooling (8 and 16
    channels), a cap of 8x8 on the pooled map (adaptive max-pooling, for large
    images), and a dense layer of 32 ReLU units.  On 8x8 images it is the CNN the
    digits design of ``benchmarks/highdim.py`` measured.
    """
    c, h, w = shape
    h, w = h // 4, w // 4
    if min(h, w) < 1:
        raise InputError(f"images of shape {shape} (channels, height, width): the built-in "
                         "CNN needs at least 4x4 pixels; pass your own `encoder` for smaller "
                         "ones")
    cap = (min(h, 8), min(w, 8))
    layers = [nn.Flatten(), nn.Unflatten(1, shape),
              nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    if cap != (h, w):
        layers.append(nn.AdaptiveMaxPool2d(cap))
    layers += [nn.Flatten(), nn.Linear(16 * cap[0] * cap[1], 32), nn.ReLU()]
    return nn.Sequential(*layers)


class MemberNetwork(nn.Module):
    """``K`` members of [encoder] -> bottleneck -> hidden layers -> outputs."""

    def __init__(self, encoders: list[nn.Module] | None, in_features: int, n_members: int,
                 dim: int, hidden: tuple[int, ...], activation, dropout: float,
                 n_treatment: int, n_outcome: int):
        super().__init__()
        self.n_members = n_members
        self.n_treatment = n_treatment
        self.n_outcome = n_outcome
        self.encoders = None if encoders is None else nn.ModuleList(encoders)
        self.bottleneck = _Batched(n_members, in_features, dim)
        layers, width = [], dim
        for h in hidden:
            layers.append(_Batched(n_members, width, h))
            width = h
        self.hidden = nn.ModuleList(layers)
        self.out = _Batched(n_members, width, n_treatment + n_outcome)
        self.act = activation()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def keep_members(self, keep: np.ndarray) -> None:
        """Drop the members whose ``keep`` entry is False (in place)."""
        sel = torch.from_numpy(np.asarray(keep, dtype=bool))
        for layer in (self.bottleneck, *self.hidden, self.out):
            layer.weight = nn.Parameter(layer.weight.detach()[sel.to(layer.weight.device)])
            layer.bias = nn.Parameter(layer.bias.detach()[sel.to(layer.bias.device)])
        if self.encoders is not None:
            self.encoders = nn.ModuleList(e for e, k in zip(self.encoders, keep) if k)
        self.n_members = int(sel.sum())

    def fold_input_basis(self, basis: torch.Tensor) -> None:
        """Members trained on ``x @ basis`` (a fixed ``(p, k)`` basis) take ``x`` itself
        from now on: the bottleneck's weights become ``basis @ W`` (in place)."""
        w = self.bottleneck.weight.detach()
        self.bottleneck.weight = nn.Parameter(
            torch.einsum("pk,mkd->mpd", basis.to(w.device, w.dtype), w).contiguous())

    def features(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Input of the bottleneck: (B, p) shared by all members, or (K, B, p)."""
        if self.encoders is None:
            return x.reshape(x.shape[0], -1)
        encoders = self.encoders if members is None else [self.encoders[int(k)]
                                                          for k in members]
        return torch.stack([enc(x).reshape(x.shape[0], -1) for enc in encoders])

    def score(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """The balancing scores b(x) of the members (all by default), (K, B, dim)."""
        return self.bottleneck(self.features(x, members), members)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and outputs of the members ``members`` (indices; None: all)."""
        b = self.score(x, members)
        h = b
        for layer in self.hidden:
            h = layer(self.drop(self.act(h)), members)
        return b, self.out(self.drop(self.act(h)), members)


def member_keys(net: MemberNetwork) -> dict[str, int | None]:
    """State-dict keys -> the member they belong to (None: batched over members)."""
    out = {}
    for key in net.state_dict():
        if key.startswith("encoders."):
            out[key] = int(key.split(".")[1])
        else:
            out[key] = None
    return out


def copy_members(dst: dict, src: dict, members: np.ndarray, keys: dict) -> None:
    """Copy the weights of the selected members from state ``src`` into ``dst``."""
    sel = torch.from_numpy(np.asarray(members, dtype=bool))
    for key, owner in keys.items():
        if owner is None:
            dst[key][sel.to(dst[key].device)] = src[key][sel.to(src[key].device)].detach()
        elif members[owner]:
            dst[key].copy_(src[key].detach())


# ---------------------------------------------------------------- the data
@dataclass
class TrainData:
    """Units of one set (training or validation) as the loop needs them.

    ``X``: a CPU float32 tensor, a CSR matrix or a :class:`RowSource`; ``codes``:
    treatment levels 0..L-1; ``y``: standardised outcomes or None; ``weights``:
    unit weights or None; ``mask``: a (K, n) 0/1 array of the units each member
    uses (None: all of them).
    """

    X: object
    codes: np.ndarray
    y: np.ndarray | None
    weights: np.ndarray | None
    mask: np.ndarray | None

    @property
    def n(self) -> int:
        return int(self.codes.size)


class Batches:
    """Tensors of a :class:`TrainData` on the device, served batch by batch."""

    def __init__(self, data: TrainData, n_members: int, device: torch.device):
        self.data, self.device = data, device
        X = data.X
        self.sparse = sp.issparse(X)
        self.streamed = isinstance(X, RowSource)
        self.X = X if self.sparse or self.streamed else X.to(device)
        n = data.n
        self.codes = torch.from_numpy(data.codes).to(device)
        self.y = None if data.y is None else torch.from_numpy(
            data.y.astype(np.float32)).to(device)
        w = np.ones(n) if data.weights is None else data.weights
        mask = np.ones((n_members, n)) if data.mask is None else data.mask
        self.wm = torch.from_numpy((mask * w[None, :]).astype(np.float32)).to(device)

    def rows(self, idx: np.ndarray) -> torch.Tensor:
        """Input rows ``idx`` as a dense float32 tensor on the device."""
        X = self.X
        if self.streamed:
            return X.take(idx).to(self.device)
        if self.sparse:
            return torch.from_numpy(X[idx].toarray()).to(self.device)
        return X[torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(self.device)]

    def epoch(self, perm: np.ndarray, batch_size: int):
        """``(x, codes, y, weight x mask)`` batches in the order ``perm``."""
        n = perm.size
        p = torch.from_numpy(perm).to(self.device)
        codes, wm = self.codes[p], self.wm[:, p]
        y = None if self.y is None else self.y[p]
        if self.sparse:                  # one row permutation, then contiguous slices
            Xe = self.X[perm]
        elif self.streamed:
            loader = iter(self.X.loader(perm, batch_size))
        else:
            Xe = self.X[p]
        for a in range(0, n, batch_size):
            b = min(a + batch_size, n)
            if self.streamed:
                xb = next(loader).to(self.device)
            elif self.sparse:
                xb = torch.from_numpy(Xe[a:b].toarray()).to(self.device)
            else:
                xb = Xe[a:b]
            yield xb, codes[a:b], None if y is None else y[a:b], wm[:, a:b]


def unit_losses(out: torch.Tensor, codes: torch.Tensor, y: torch.Tensor | None,
                n_treatment: int, outcome_weight: float) -> torch.Tensor:
    """Loss of every member on every unit, (K, B): cross-entropy of the treatment
    plus ``outcome_weight`` times the squared error of the prognostic head at the
    unit's own level."""
    K, B, _ = out.shape
    logits = out[..., :n_treatment]
    if n_treatment == 1:
        target = codes.to(out.dtype).expand(K, B)
        loss = nn.functional.binary_cross_entropy_with_logits(logits[..., 0], target,
                                                              reduction="none")
    else:
        loss = nn.functional.cross_entropy(logits.reshape(K * B, n_treatment),
                                           codes.repeat(K), reduction="none").reshape(K, B)
    if y is not None and out.shape[-1] > n_treatment:
        heads = out[..., n_treatment:]
        pred = torch.gather(heads, 2, codes.view(1, B, 1).expand(K, B, 1))[..., 0]
        loss = loss + outcome_weight * (pred - y) ** 2
    return loss


def validation_losses(net: MemberNetwork, batches: Batches, outcome_weight: float,
                      members: torch.Tensor | None = None) -> np.ndarray:
    """Weighted mean loss of each member over its validation units, (K,); NaN for
    the members not in ``members`` (indices; None: all)."""
    net.eval()
    k = net.n_members if members is None else members.numel()
    num = torch.zeros(k, dtype=torch.float64, device=batches.device)
    den = torch.zeros_like(num)
    with torch.no_grad():
        for xb, cb, yb, wb in batches.epoch(np.arange(batches.data.n), EVAL_ROWS):
            _, out = net(xb, members)
            loss = unit_losses(out, cb, yb, net.n_treatment, outcome_weight)
            wb = wb if members is None else wb[members]
            num += (loss * wb).sum(dim=1).double()
            den += wb.sum(dim=1).double()
    out = np.full(net.n_members, np.nan)
    out[slice(None) if members is None else members.cpu().numpy()] = (
        num / den.clamp_min(1e-300)).cpu().numpy()
    return out


@dataclass
class Schedule:
    epochs: int
    batch_size: int
    patience: int | None
    min_delta: float
    restore_best_weights: bool
    outcome_weight: float
    input_l1: np.ndarray | float = 0.0   # per member: soft-threshold of the bottleneck's
    #                                      input weights after every step
    input_mask: np.ndarray | None = None  # (K, in) 0/1: the inputs each member may use


def train_members(net: MemberNetwork, optimizer: torch.optim.Optimizer, train: TrainData,
                  val: TrainData | None, schedule: Schedule, gen: torch.Generator,
                  device: torch.device, verbose: bool = False) -> dict:
    """Train all members; return the history (``loss``, ``val_loss``, per-member
    ``best_epoch`` and ``n_epochs``)."""
    K = net.n_members
    tb = Batches(train, K, device)
    vb = None if val is None else Batches(val, K, device)
    keys = member_keys(net)
    wsum = tb.wm.sum(dim=1).double().clamp_min(1e-300)          # per member
    history = {"loss": [], "val_loss": [], "member_val_loss": []}
    best = np.full(K, np.inf)
    best_epoch = np.zeros(K, dtype=np.int64)
    wait = np.zeros(K, dtype=np.int64)
    stopped = np.zeros(K, dtype=bool)
    stop_epoch = np.zeros(K, dtype=np.int64)
    best_state = final_state = None
    if vb is not None and schedule.restore_best_weights:
        best_state = copy.deepcopy(net.state_dict())
    if vb is not None and schedule.patience is not None and not schedule.restore_best_weights:
        final_state = copy.deepcopy(net.state_dict())
    l1 = np.broadcast_to(np.asarray(schedule.input_l1, dtype=np.float64), (K,))
    l1 = torch.tensor(l1, dtype=net.bottleneck.weight.dtype,
                      device=net.bottleneck.weight.device)[:, None, None] \
        if (l1 > 0).any() else None
    mask = None
    if schedule.input_mask is not None:       # the bottleneck's weights of unused inputs: 0
        w = net.bottleneck.weight
        mask = torch.as_tensor(schedule.input_mask, dtype=w.dtype, device=w.device)[..., None]
        with torch.no_grad():
            w.mul_(mask)
    bar = None
    if verbose:
        from tqdm.auto import tqdm
        bar = tqdm(total=schedule.epochs, desc="NeuralBalancingScore", unit="epoch")
    epochs_run = 0
    active = None      # indices of the members still training (None: all); the others
    #                    are left out of the forward and backward passes
    try:
        for epoch in range(1, schedule.epochs + 1):
            net.train()
            perm = torch.randperm(train.n, generator=gen).numpy()
            total = torch.zeros(K, dtype=torch.float64, device=device)
            for xb, cb, yb, wb in tb.epoch(perm, schedule.batch_size):
                _, out = net(xb, active)
                if active is not None:
                    wb = wb[active]
                loss = unit_losses(out, cb, yb, net.n_treatment, schedule.outcome_weight)
                per_member = (loss * wb).sum(dim=1)
                norm = wb.sum(dim=1).clamp_min(1e-12)
                optimizer.zero_grad(set_to_none=True)
                (per_member / norm).sum().backward()
                optimizer.step()
                if l1 is not None:
                    _soft_threshold(net.bottleneck.weight, optimizer, l1)
                if mask is not None:
                    with torch.no_grad():
                        net.bottleneck.weight.mul_(mask)
                if active is None:
                    total += per_member.detach().double()
                else:
                    total.index_add_(0, active, per_member.detach().double())
            epochs_run = epoch
            member_loss = (total / wsum).cpu().numpy()[~stopped]
            history["loss"].append(float(member_loss.mean()))
            if not np.isfinite(member_loss).all():
                raise InputError(f"the training loss became {history['loss'][-1]} at epoch "
                                 f"{epoch}: lower the learning rate or standardize X")
            postfix = {"loss": f"{history['loss'][-1]:.4f}"}
            if vb is not None:
                vloss = validation_losses(net, vb, schedule.outcome_weight, active)
                history["val_loss"].append(float(np.nanmean(vloss)))
                history["member_val_loss"].append(vloss.tolist())
                postfix["val_loss"] = f"{history['val_loss'][-1]:.4f}"
                better = (vloss < best - schedule.min_delta) & ~stopped
                best = np.where(better, vloss, best)
                best_epoch[better] = epoch
                wait = np.where(better, 0, wait + 1)
                if best_state is not None and better.any():
                    copy_members(best_state, net.state_dict(), better, keys)
                if schedule.patience is not None:
                    newly = (wait > schedule.patience) & ~stopped
                    if newly.any():
                        stopped |= newly
                        stop_epoch[newly] = epoch
                        if final_state is not None:
                            copy_members(final_state, net.state_dict(), newly, keys)
                        active = torch.from_numpy(np.flatnonzero(~stopped)).to(device)
            if bar is not None:
                bar.set_postfix(postfix)
                bar.update(1)
            if stopped.all():
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    elif final_state is not None and stopped.any():
        state = net.state_dict()
        copy_members(state, final_state, stopped, keys)
        net.load_state_dict(state)
    stop_epoch[~stopped] = epochs_run
    history["best_epoch"] = best_epoch.tolist() if vb is not None else None
    history["best_val_loss"] = best.tolist() if vb is not None else None
    history["n_epochs"] = stop_epoch.tolist()
    history["epochs_run"] = epochs_run
    return history


def _soft_threshold(weight: torch.Tensor, optimizer, l1: torch.Tensor) -> None:
    """Proximal step of an L1 penalty on ``weight`` (K, in, out): shrink every entry
    towards zero by ``learning rate x l1`` (``l1`` per member, (K, 1, 1)) and set those
    that cross it to zero (a lasso on the inputs)."""
    step = optimizer.param_groups[0]["lr"] * l1
    with torch.no_grad():
        weight.copy_(torch.sign(weight) * torch.clamp(weight.abs() - step, min=0.0))


def predict_members(net: MemberNetwork, X, device: torch.device, n: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Scores (K, n, dim) and outputs (K, n, n_treatment + n_outcome) of all members."""
    net.eval()
    batches = Batches(TrainData(X, np.zeros(n, dtype=np.int64), None, None, None),
                      net.n_members, device)
    scores, outs = [], []
    with torch.no_grad():
        for a in range(0, n, EVAL_ROWS):
            b, out = net(batches.rows(np.arange(a, min(a + EVAL_ROWS, n))))
            scores.append(b.cpu().numpy())
            outs.append(out.cpu().numpy())
    if not scores:
        return (np.zeros((net.n_members, 0, net.bottleneck.weight.shape[2])),
                np.zeros((net.n_members, 0, net.n_treatment + net.n_outcome)))
    return (np.concatenate(scores, axis=1).astype(np.float64),
            np.concatenate(outs, axis=1).astype(np.float64))
