"""Synthetic rows in chunks: datasets too big to generate in one piece.

`make_classification` draws every row from one random stream, so its rows cannot be made a
piece at a time. Above `ONE_PIECE_ROWS` rows the platform uses the same model instead (class
clusters on hypercube vertices, a random covariance per cluster, redundant, repeated and
useless features, flipped labels, shift, scale, shuffled features) with the structure drawn
once from the seed and each chunk's rows from a stream of its own (seed, chunk number). Any
chunk can be made alone, in any order, in bounded memory, and the same seed gives the same
rows on both execution paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_data_platform.catalog import SyntheticSource

ONE_PIECE_ROWS = 1_000_000  # up to here: make_classification itself, as always
CHUNK_ROWS = 262_144  # rows per chunk above it (a chunk of 20 features is ~40 MB)


@dataclass(frozen=True)
class Structure:
    centroids: np.ndarray  # clusters x informative
    covariances: np.ndarray  # clusters x informative x informative
    cluster_shares: np.ndarray  # chance of each cluster (class weight / clusters per class)
    redundant: np.ndarray  # informative x redundant
    repeated: np.ndarray  # indices of the repeated columns
    order: np.ndarray  # output column order (identity unless shuffled)


def _vertices(rng: np.random.Generator, count: int, dims: int) -> np.ndarray:
    """`count` distinct vertices of the `dims`-dimensional unit hypercube, as 0/1 rows."""
    chosen: dict[bytes, np.ndarray] = {}
    while len(chosen) < count:
        vertex = rng.integers(0, 2, dims).astype(np.float64)
        chosen.setdefault(vertex.tobytes(), vertex)
    return np.array(list(chosen.values()))


def structure(source: SyntheticSource, seed: int) -> Structure:
    rng = np.random.default_rng([seed, 0xC1A55])
    n_inf, classes, per_class = source.n_informative, source.n_classes, source.n_clusters_per_class
    clusters = classes * per_class
    weights = list(source.weights) if source.weights is not None else [1.0 / classes] * classes
    if len(weights) == classes - 1:
        weights.append(1.0 - sum(weights))
    centroids = _vertices(rng, clusters, n_inf) * 2 * source.class_sep - source.class_sep
    if not source.hypercube:
        centroids *= rng.uniform(size=(clusters, 1))
        centroids *= rng.uniform(size=(1, n_inf))
    shares = np.array([weights[k % classes] / per_class for k in range(clusters)])
    used = n_inf + source.n_redundant
    return Structure(
        centroids=centroids,
        covariances=2 * rng.uniform(size=(clusters, n_inf, n_inf)) - 1,
        cluster_shares=shares / shares.sum(),
        redundant=2 * rng.uniform(size=(n_inf, source.n_redundant)) - 1,
        repeated=((used - 1) * rng.uniform(size=source.n_repeated) + 0.5).astype(np.intp),
        order=rng.permutation(source.n_features) if source.shuffle else np.arange(source.n_features),
    )


def chunk(source: SyntheticSource, seed: int, shape: Structure, number: int, rows: int):
    """Chunk `number`: (features as a column-major rows x n_features array, int64 labels)."""
    rng = np.random.default_rng([seed, number])
    n_inf, classes = source.n_informative, source.n_classes
    cluster = rng.choice(len(shape.cluster_shares), size=rows, p=shape.cluster_shares)
    X = np.empty((rows, source.n_features), dtype=np.float64, order="F")
    informative = rng.standard_normal(size=(rows, n_inf))
    for k in range(len(shape.centroids)):
        members = cluster == k
        informative[members] = informative[members] @ shape.covariances[k] + shape.centroids[k]
    X[:, :n_inf] = informative
    used = n_inf + source.n_redundant
    if source.n_redundant:
        X[:, n_inf:used] = informative @ shape.redundant
    if source.n_repeated:
        X[:, used : used + source.n_repeated] = X[:, shape.repeated]
    useless = source.n_features - used - source.n_repeated
    if useless:
        X[:, source.n_features - useless :] = rng.standard_normal(size=(rows, useless))
    y = (cluster % classes).astype(np.int64)
    flipped = rng.uniform(size=rows) < source.flip_y
    y[flipped] = rng.integers(classes, size=int(flipped.sum()))
    X += source.shift
    X *= source.scale
    return np.asfortranarray(X[:, shape.order]), y


def chunks(source: SyntheticSource, seed: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first row's position, features, labels) per chunk, in order."""
    shape = structure(source, seed)
    for number, start in enumerate(range(0, source.n_samples, CHUNK_ROWS)):
        rows = min(CHUNK_ROWS, source.n_samples - start)
        X, y = chunk(source, seed, shape, number, rows)
        yield start, X, y


def frames(spec) -> Iterator[pd.DataFrame]:
    """The dataset's synthetic rows as frames of features and target, in row order: one
    make_classification frame up to ONE_PIECE_ROWS rows, else one frame per chunk."""
    source: SyntheticSource = spec.source
    names = spec.feature_columns or [f"feature_{i}" for i in range(source.n_features)]
    if source.n_samples <= ONE_PIECE_ROWS:
        yield _one_piece(spec, names)
        return
    for _, X, y in chunks(source, spec.seed):
        frame = pd.DataFrame(X, columns=names, copy=False)
        frame[spec.target] = y
        yield frame


def _one_piece(spec, names: list[str]) -> pd.DataFrame:
    from sklearn.datasets import make_classification  # lazily: ~1 s of imports a CLI call rarely needs

    source = spec.source
    X, y = make_classification(
        n_samples=source.n_samples,
        n_features=source.n_features,
        n_informative=source.n_informative,
        n_redundant=source.n_redundant,
        n_repeated=source.n_repeated,
        n_classes=source.n_classes,
        n_clusters_per_class=source.n_clusters_per_class,
        weights=source.weights,
        flip_y=source.flip_y,
        class_sep=source.class_sep,
        hypercube=source.hypercube,
        shift=source.shift,
        scale=source.scale,
        shuffle=source.shuffle,
        random_state=spec.seed,
    )
    # Column-major, so each feature column is contiguous for every later pass.
    frame = pd.DataFrame(np.asfortranarray(X, dtype=np.float64), columns=names)
    frame[spec.target] = y.astype(np.int64, copy=False)
    return frame
