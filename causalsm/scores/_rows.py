"""Covariates that are not in memory: rows of a numpy memmap or a Parquet file, read
(and scaled) batch by batch while :class:`~causalsm.NeuralBalancingScore` trains."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import InputError

__all__ = ["RowSource", "open_stream"]

_STREAM_BYTES = 1 << 25          # about 32 MB of rows per chunk when scanning a file


def open_stream(X):
    """A :class:`RowSource` for a numpy memmap or a Parquet path; anything else as is."""
    if isinstance(X, RowSource):
        return X
    if isinstance(X, np.memmap):
        return RowSource(X)
    if isinstance(X, (str, bytes)) or hasattr(X, "__fspath__"):
        import os
        path = os.fspath(X)
        path = path.decode() if isinstance(path, bytes) else path
        if str(path).endswith((".parquet", ".pq")):
            return RowSource(parquet_to_memmap(path))
        raise InputError(f"X is a path ({path!r}); only Parquet files (.parquet) can be "
                         "read: load other files yourself or pass a numpy memmap")
    return X


def parquet_to_memmap(path: str) -> np.memmap:
    """Copy a Parquet file's numeric columns, batch by batch, into a temporary memmap."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from None
    import tempfile
    f = pq.ParquetFile(path)
    n, d = f.metadata.num_rows, f.schema_arrow.__len__()
    tmp = tempfile.TemporaryFile()           # removed when the memmap is collected
    out = np.memmap(tmp, dtype=np.float64, mode="w+", shape=(n, d))
    a = 0
    for batch in f.iter_batches(batch_size=max(1, _STREAM_BYTES // (8 * max(d, 1)))):
        try:
            block = np.column_stack([np.asarray(c.to_numpy(zero_copy_only=False),
                                                dtype=np.float64) for c in batch.columns])
        except (TypeError, ValueError) as err:
            raise InputError(f"the Parquet file {path!r} has a non-numeric column: "
                             f"{err}") from None
        out[a:a + block.shape[0]] = block
        a += block.shape[0]
    out.flush()
    return out


class RowSource:
    """Rows of a memmap, scaled on the fly: what training streams batch by batch.

    Values are the same as the in-memory path gives: float64 rows, ``(x - mean_) /
    scale_``, then float32.
    """

    def __init__(self, data: np.ndarray, rows: np.ndarray | None = None, mean=None,
                 scale=None):
        self.data, self.rows, self.mean, self.scale = data, rows, mean, scale

    @property
    def shape(self) -> tuple:
        n = self.data.shape[0] if self.rows is None else self.rows.size
        return (n,) + tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def scaled(self, mean, scale) -> "RowSource":
        return RowSource(self.data, self.rows, mean, scale)

    def subset(self, rows: np.ndarray) -> "RowSource":
        rows = np.asarray(rows, dtype=np.int64)
        return RowSource(self.data, rows if self.rows is None else self.rows[rows],
                          self.mean, self.scale)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        src = rows if self.rows is None else self.rows[rows]
        return np.asarray(self.data[src], dtype=np.float64).reshape(rows.size, -1)

    def take(self, rows: np.ndarray) -> torch.Tensor:
        x = self._read(rows)
        if self.scale is not None:
            x = (x - self.mean) / self.scale
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def chunks(self):
        """``(start, rows)`` blocks of about 32 MB, unscaled float64, in row order."""
        n = self.shape[0]
        step = max(1, _STREAM_BYTES // (8 * max(int(np.prod(self.shape[1:])), 1)))
        for a in range(0, n, step):
            yield a, self._read(np.arange(a, min(a + step, n)))

    def column_stats(self, weights=None):
        """Mean, SD (ddof 0) and 0/1 flag of each column, as the in-memory path.

        Unweighted sums accumulate row after row, the order numpy uses for a column
        reduction of a 2-d array, so the values are bitwise those of ``X.mean(0)`` and
        ``X.std(0)`` (a single column, which numpy sums pairwise, is read whole).
        """
        d = self.shape[1]
        if d == 1 or weights is not None:
            if d == 1:
                X = self._read(np.arange(self.shape[0]))
            else:                        # weighted: chunked sums (equal up to rounding)
                w = weights / weights.sum()
                mean = sum(w[a:a + c.shape[0]] @ c for a, c in self.chunks())
                var = sum(w[a:a + c.shape[0]] @ (c - mean) ** 2 for a, c in self.chunks())
                binary = np.all([np.all((c == 0) | (c == 1), axis=0)
                                 for _, c in self.chunks()], axis=0)
                return mean, np.sqrt(np.maximum(var, 0.0)), binary
            if weights is None:
                mean, sd = X.mean(axis=0), X.std(axis=0)
            else:
                w = weights / weights.sum()
                mean = w @ X
                sd = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
            return mean, sd, np.all((X == 0) | (X == 1), axis=0)
        n = self.shape[0]
        total, binary = np.zeros(d), np.ones(d, dtype=bool)
        for _, c in self.chunks():
            total = np.add.reduce(np.vstack([total[None], c]), axis=0)
            binary &= np.all((c == 0) | (c == 1), axis=0)
        mean = total / n
        sq = np.zeros(d)
        for _, c in self.chunks():
            sq = np.add.reduce(np.vstack([sq[None], (c - mean) ** 2]), axis=0)
        return mean, np.sqrt(sq / n), binary

    def loader(self, order: np.ndarray, batch_size: int):
        """A DataLoader yielding the rows ``order[i:i + batch_size]`` as float32 batches."""
        from torch.utils.data import DataLoader, Dataset

        source = self

        class _Batches(Dataset):
            def __len__(self):
                return -(-order.size // batch_size)

            def __getitem__(self, i):
                return source.take(order[i * batch_size:(i + 1) * batch_size])

        # Its own generator: a DataLoader draws a seed when iterated, which must not
        # consume the global torch RNG (dropout) of the in-memory path.
        return DataLoader(_Batches(), batch_size=None, shuffle=False, num_workers=0,
                          generator=torch.Generator().manual_seed(0))

