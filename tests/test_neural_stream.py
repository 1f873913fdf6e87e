"""NeuralBalancingScore trained from data that is not one in-memory tensor.

A numpy memmap (and a Parquet file when pyarrow is installed) is streamed batch by
batch through a torch DataLoader; with the same seed the fitted score is bitwise the
in-memory one.
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from causalsm import InputError, NeuralBalancingScore  # noqa: E402
from causalsm.scores import _rows  # noqa: E402


def _data(n=800, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1, 2, 3, 1, 1] + [0, 5, -1, 0, 0]
    X[:, 4] = rng.integers(0, 2, n)                  # a 0/1 column stays unscaled
    t = (X[:, 0] - 0.3 * X[:, 1] + rng.normal(size=n) > -1.5).astype(int)
    return X, t


def _memmap(tmp_path, X, name="x.dat"):
    path = tmp_path / name
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    return np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)


@pytest.mark.parametrize("kw", [
    {},
    {"validation_fraction": 0.25, "patience": 2, "restore_best_weights": True},
    {"optimizer": "adam", "batch_size": 64, "dropout": 0.1},
])
def test_memmap_training_equals_in_memory(tmp_path, kw, monkeypatch):
    X, t = _data()
    mm = _memmap(tmp_path, X)
    monkeypatch.setattr(_rows, "_STREAM_BYTES", 8 * 5 * 97)  # many small scan chunks
    a = NeuralBalancingScore(dim=2, epochs=4, random_state=3, **kw).fit(X, t)
    b = NeuralBalancingScore(dim=2, epochs=4, random_state=3, **kw).fit(mm, t)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.scale_, b.scale_)
    assert a.history_ == b.history_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(mm))   # streamed transform
    np.testing.assert_array_equal(a.propensity(X), b.propensity(mm))


def test_memmap_training_streams_batches(tmp_path, monkeypatch):
    X, t = _data(300)
    mm = _memmap(tmp_path, X)
    read = []
    original = _rows.RowSource._read

    def spy(self, rows):
        read.append(np.size(rows))
        return original(self, rows)

    monkeypatch.setattr(_rows.RowSource, "_read", spy)
    NeuralBalancingScore(dim=2, epochs=2, batch_size=50, random_state=0).fit(mm, t)
    assert read and max(read) <= 300
    assert read.count(50) >= 2 * 300 // 50                # one read per training batch


def test_memmap_single_column_and_weights(tmp_path):
    X, t = _data()
    one = _memmap(tmp_path, X[:, :1].copy(), "one.dat")
    a = NeuralBalancingScore(dim=1, epochs=3, random_state=1).fit(X[:, :1], t)
    b = NeuralBalancingScore(dim=1, epochs=3, random_state=1).fit(one, t)
    np.testing.assert_array_equal(a.transform(X[:, :1]), b.transform(one))
    w = np.random.default_rng(2).uniform(0.5, 2, size=t.size)
    mm = _memmap(tmp_path, X)
    c = NeuralBalancingScore(dim=2, epochs=3, random_state=1).fit(X, t, sample_weight=w)
    d = NeuralBalancingScore(dim=2, epochs=3, random_state=1).fit(mm, t, sample_weight=w)
    np.testing.assert_allclose(c.mean_, d.mean_, rtol=1e-12)          # chunked weighted sums
    np.testing.assert_allclose(c.transform(X), d.transform(X), rtol=1e-4, atol=1e-5)


def test_memmap_with_missing_values_is_an_error(tmp_path):
    X, t = _data(200)
    X[57, 2] = np.nan
    mm = _memmap(tmp_path, X)
    with pytest.raises(InputError, match="column 'x2'.*row 57"):
        NeuralBalancingScore(epochs=1).fit(mm, t)


def test_parquet_path(tmp_path):
    pytest.importorskip("pyarrow")
    X, t = _data()
    path = tmp_path / "x.parquet"
    pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])]).to_parquet(path)
    a = NeuralBalancingScore(dim=2, epochs=3, random_state=0).fit(X, t)
    b = NeuralBalancingScore(dim=2, epochs=3, random_state=0).fit(str(path), t)
    np.testing.assert_array_equal(a.transform(X), b.transform(path))
    with pytest.raises(InputError, match="only Parquet"):
        NeuralBalancingScore(epochs=1).fit(str(tmp_path / "x.csv"), t)
