"""Connected components of the record graph (links are transitive)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cluster id per node 0..n-1: the smallest node id of its connected component.

    ``left``/``right`` are edge end points (any order, duplicates allowed). Using the
    smallest member as the id makes the labelling independent of edge order.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # the first occurrence of a label in node order is the component's smallest node
    unique, first = np.unique(labels, return_index=True)
    smallest = np.empty(int(unique.max()) + 1, dtype=np.int64)
    smallest[unique] = first
    return smallest[labels]
