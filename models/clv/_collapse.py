"""Collapse identical customer summaries into weighted unique rows.

The BG/NBD and Gamma-Gamma likelihoods are sums of per-customer terms that depend only on
the customer's summary, so customers with identical summaries contribute identical terms.
Collapsing them (``n`` customers -> ``k`` distinct rows with summed weights) makes every
likelihood and gradient evaluation cost O(k) instead of O(n).

Implementation: each column is factorised into integer codes (``np.unique``; integer
columns with a small range skip the sort), the codes are combined into one mixed-radix
int64 key, and the key is factorised again (by a dense ``bincount`` when the key range is
small, by ``np.unique`` otherwise). Output order is the lexicographic order of the
columns, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_MAX_KEY = 2**62
_DENSE_FACTOR = 4  # use bincount factorisation if key range <= _DENSE_FACTOR * n


@dataclass(frozen=True)
class Collapsed:
    """Distinct rows of several equally long columns.

    Attributes
    ----------
    columns : tuple of numpy.ndarray
        The distinct rows, one array per input column, in lexicographic order.
    weights : numpy.ndarray
        Sum of the input weights of the rows mapped to each distinct row (the row count
        when no weights were given).
    inverse : numpy.ndarray
        For each input row, the index of its distinct row: ``columns[j][inverse]``
        reproduces input column ``j``.
    levels : tuple of numpy.ndarray
        Sorted distinct values of each input column.
    codes : tuple of numpy.ndarray
        For each distinct row, the index of its value in ``levels[j]``.
    """

    columns: tuple[NDArray[np.float64], ...]
    weights: NDArray[np.float64]
    inverse: NDArray[np.intp]
    levels: tuple[NDArray[np.float64], ...]
    codes: tuple[NDArray[np.intp], ...]

    @property
    def n_unique(self) -> int:
        return int(self.weights.shape[0])


def factorize(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Sorted distinct values and the code of every element (``np.unique`` semantics)."""
    if values.size and np.all(values == np.floor(values)):
        lo, hi = float(values.min()), float(values.max())
        if hi - lo <= _DENSE_FACTOR * values.size + 1024:
            shifted = (values - lo).astype(np.intp)
            present = np.bincount(shifted) > 0
            remap = np.cumsum(present) - 1
            return np.flatnonzero(present) + lo, remap[shifted]
    levels, codes = np.unique(values, return_inverse=True)
    return levels, codes.astype(np.intp, copy=False)


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
        Distinct rows in lexicographic order, their summed weights, the row-to-group
        mapping and the per-column factorisation.
    """
    factors = [factorize(c) for c in columns]
    cards = [lv.shape[0] for lv, _ in factors]
    if float(np.prod(np.array(cards, dtype=np.float64))) < _MAX_KEY:
        key = np.zeros(columns[0].shape[0], dtype=np.int64)
        for (_, code), card in zip(factors, cards, strict=True):
            key *= card
            key += code
        ukeys, inverse = factorize_int(key)
        codes = []
        rest = ukeys
        for card in reversed(cards):
            codes.append((rest % card).astype(np.intp))
            rest = rest // card
        codes.reverse()
    else:  # astronomically many combinations: fall back to a lexicographic sort
        order = np.lexsort([code for _, code in factors][::-1])
        sorted_codes = [code[order] for _, code in factors]
        new = np.zeros(order.shape[0], dtype=bool)
        new[0] = True
        for c in sorted_codes:
            new[1:] |= c[1:] != c[:-1]
        group = np.cumsum(new) - 1
        inverse = np.empty_like(group)
        inverse[order] = group
        codes = [c[new] for c in sorted_codes]
    n_groups = codes[0].shape[0]
    counts = np.bincount(inverse, weights=weights, minlength=n_groups).astype(np.float64)
    levels = tuple(lv for lv, _ in factors)
    return Collapsed(
        columns=tuple(lv[c] for lv, c in zip(levels, codes, strict=True)),
        weights=counts,
        inverse=inverse.astype(np.intp, copy=False),
        levels=levels,
        codes=tuple(codes),
    )


def factorize_int(key: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Sorted distinct non-negative integer keys and each element's group index."""
    hi = int(key.max()) if key.size else 0
    if hi <= _DENSE_FACTOR * key.size + 1024:
        present = np.bincount(key, minlength=hi + 1) > 0
        remap = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(np.int64), remap[key]
    ukeys, inverse = np.unique(key, return_inverse=True)
    return ukeys, inverse.astype(np.intp, copy=False)
