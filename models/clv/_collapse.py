"""Collapse identical customer summaries into weighted unique rows.

The BG/NBD and Gamma-Gamma likelihoods are sums of per-customer terms that depend only on
the customer's summary, so customers with identical summaries contribute identical terms.
Collapsing them (``n`` customers -> ``k`` distinct rows with integer counts) makes every
likelihood and gradient evaluation cost O(k) instead of O(n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Collapsed:
    """Distinct rows of several equally long columns.

    Attributes
    ----------
    columns : tuple of numpy.ndarray
        The distinct rows, one array per input column, sorted lexicographically.
    weights : numpy.ndarray
        Sum of the input weights of the rows mapped to each distinct row (the row count
        when no weights were given).
    inverse : numpy.ndarray
        For each input row, the index of its distinct row: ``columns[j][inverse]``
        reproduces input column ``j``.
    """

    columns: tuple[NDArray[np.float64], ...]
    weights: NDArray[np.float64]
    inverse: NDArray[np.intp]

    @property
    def n_unique(self) -> int:
        return int(self.weights.shape[0])


def collapse(
    *columns: NDArray[np.float64], weights: NDArray[np.float64] | None = None
) -> Collapsed:
    """Group identical rows of ``columns`` (exact float equality).

    Parameters
    ----------
    *columns : numpy.ndarray
        One-dimensional arrays of equal length ``n``.
    weights : numpy.ndarray, optional
        Per-row weights to add up within groups; defaults to ones.

    Returns
    -------
    Collapsed
        Distinct rows in lexicographic order (deterministic), their summed weights and the
        row-to-group mapping.
    """
    n = columns[0].shape[0]
    # np.lexsort sorts by the last key first; reverse so columns[0] is the primary key.
    order = np.lexsort(columns[::-1])
    sorted_cols = [c[order] for c in columns]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = False
    for c in sorted_cols:
        new_group[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new_group)
    group_of_sorted = np.cumsum(new_group) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group_of_sorted
    if weights is None:
        counts = np.diff(np.append(starts, n)).astype(np.float64)
    else:
        counts = np.bincount(group_of_sorted, weights=weights[order], minlength=starts.shape[0])
    return Collapsed(
        columns=tuple(c[starts] for c in sorted_cols),
        weights=counts,
        inverse=inverse,
    )
