"""Collapse identical customer summaries into weighted unique rows.

The BG/NBD and Gamma-Gamma likelihoods are sums of per-customer terms that depend only on
the customer's summary, so customers with identical summaries contribute identical terms.
Collapsing them (``n`` customers -> ``k`` distinct rows with summed weights) makes every
likelihood and gradient evaluation cost O(k) instead of O(n).

Implementation: each column is factorised into integer codes (values on a regular grid,
such as whole numbers or days / 7, by arithmetic; others by an argsort), the codes are
combined into one mixed-radix int64 key, and the key is factorised again (by a dense
``bincount`` when the key range is small, by sorting otherwise). Output order is the
lexicographic order of the columns, so results are deterministic.
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
        reproduces input column ``j``; None when not requested.
    levels : tuple of numpy.ndarray
        Sorted distinct values of each input column.
    codes : tuple of numpy.ndarray
        For each distinct row, the index of its value in ``levels[j]``.
    """

    columns: tuple[NDArray[np.float64], ...]
    weights: NDArray[np.float64]
    inverse: NDArray[np.intp] | None
    levels: tuple[NDArray[np.float64], ...]
    codes: tuple[NDArray[np.intp], ...]

    @property
    def n_unique(self) -> int:
        return int(self.weights.shape[0])


def factorize(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Sorted distinct values and the code of every element (``np.unique`` semantics).

    Values on a regular grid (whole numbers, days / 7, cents, ...) are coded by arithmetic
    and a lookup table, verified exactly; anything else falls back to an argsort.
    """
    ordered = np.sort(values)
    distinct = np.empty(ordered.shape[0], dtype=bool)
    distinct[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=distinct[1:])
    levels = ordered[distinct]
    if levels.shape[0] == 1:
        return levels, np.zeros(values.shape[0], dtype=np.intp)
    lo = levels[0]
    step = float(np.min(np.diff(levels)))
    span = (float(levels[-1]) - lo) / step
    if np.isfinite(span) and span <= _DENSE_FACTOR * values.shape[0] + 1024:
        k_levels = np.rint((levels - lo) / step).astype(np.intp)
        table = np.full(int(k_levels[-1]) + 1, -1, dtype=np.intp)
        table[k_levels] = np.arange(levels.shape[0])
        k_values = np.clip(np.rint((values - lo) / step), 0, table.shape[0] - 1).astype(np.intp)
        codes = table[k_values]
        if np.all(codes >= 0) and np.array_equal(levels[codes], values):
            return levels, codes
    # Off-grid values: an argsort beats a binary search of unsorted queries (cache misses).
    order = np.argsort(values, kind="stable")
    step_up = np.empty(values.shape[0], dtype=bool)
    step_up[:1] = False
    sorted_values = values[order]
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=step_up[1:])
    codes = np.empty(values.shape[0], dtype=np.intp)
    codes[order] = np.cumsum(step_up)
    return levels, codes


def collapse(
    *columns: NDArray[np.float64],
    weights: NDArray[np.float64] | None = None,
    need_inverse: bool = True,
) -> Collapsed:
    """Group identical rows of ``columns`` (exact float equality).

    Parameters
    ----------
    *columns : numpy.ndarray
        One-dimensional arrays of equal length ``n``.
    weights : numpy.ndarray, optional
        Per-row weights to add up within groups; defaults to ones.
    need_inverse : bool, default True
        Whether to compute the row-to-group mapping (fitting only needs the counts,
        which is cheaper to get without it).

    Returns
    -------
    Collapsed
        Distinct rows in lexicographic order, their summed weights, the row-to-group
        mapping (None if not requested) and the per-column factorisation.
    """
    factors = [factorize(c) for c in columns]
    cards = [lv.shape[0] for lv, _ in factors]
    inverse: NDArray[np.intp] | None
    if float(np.prod(np.array(cards, dtype=np.float64))) < _MAX_KEY:
        key = np.zeros(columns[0].shape[0], dtype=np.int64)
        for (_, code), card in zip(factors, cards, strict=True):
            key *= card
            key += code
        if need_inverse or weights is not None:
            ukeys, inverse = factorize_int(key)
            counts = np.bincount(inverse, weights=weights, minlength=ukeys.shape[0])
        else:
            ukeys, int_counts = np.unique(key, return_counts=True)
            counts, inverse = int_counts.astype(np.float64), None
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
        counts = np.bincount(inverse, weights=weights, minlength=codes[0].shape[0])
    levels = tuple(lv for lv, _ in factors)
    return Collapsed(
        columns=tuple(lv[c] for lv, c in zip(levels, codes, strict=True)),
        weights=counts.astype(np.float64, copy=False),
        inverse=None if inverse is None else inverse.astype(np.intp, copy=False),
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
