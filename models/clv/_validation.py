"""Input coercion and validation shared by the CLV models.

Every public entry point of :mod:`models.clv` goes through these helpers, so that bad
inputs fail early with a :class:`ValueError` that names the offending column and gives
the number of bad rows and the first bad position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def as_float_array(name: str, values: Any) -> FloatArray:
    """Convert ``values`` (scalar, list, numpy array, pandas/polars Series) to float64.

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    values : array_like
        Numeric values. Missing values (``None``, ``NaN``, pandas ``NA``, polars null) are
        rejected.

    Returns
    -------
    numpy.ndarray
        A float64 array with at most one dimension.

    Raises
    ------
    ValueError
        If the values are not numeric, not one-dimensional, or not finite.
    """
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        # pandas / polars Series: nulls become NaN (polars) or NA objects (pandas nullable).
        try:
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except TypeError:
            values = values.to_numpy()
    raw = np.asarray(values)
    if raw.dtype.kind in "USMm":
        raise ValueError(f"{name} must be numeric, got dtype {raw.dtype}")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; could not convert it to float: {exc}") from exc
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} missing or non-finite value(s) "
            f"(first at position {_first(bad)})"
        )
    return arr


def _first(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(np.atleast_1d(mask))[0])


def coerce_columns(columns: Mapping[str, Any], *, allow_scalars: bool) -> list[FloatArray]:
    """Coerce several columns and check that their lengths agree.

    Parameters
    ----------
    columns : mapping of str to array_like
        Column name to values, in the order they should be returned.
    allow_scalars : bool
        If True, scalars are broadcast against the array columns (prediction use). If
        False, every column must be a one-dimensional array of the same non-zero length
        (fitting use).

    Returns
    -------
    list of numpy.ndarray
        The coerced columns, broadcast to a common shape.

    Raises
    ------
    ValueError
        On non-numeric or non-finite values, mismatched lengths, or empty input.
    """
    arrays = {name: as_float_array(name, values) for name, values in columns.items()}
    lengths = {name: a.shape[0] for name, a in arrays.items() if a.ndim == 1}
    if not allow_scalars:
        scalars = [name for name, a in arrays.items() if a.ndim == 0]
        if scalars:
            raise ValueError(f"{', '.join(scalars)} must be arrays, not scalars")
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(f"length mismatch: {detail}")
    if lengths and next(iter(lengths.values())) == 0:
        raise ValueError(f"empty input: {', '.join(lengths)} have length 0")
    return list(np.broadcast_arrays(*arrays.values()))


def check_frequency(frequency: FloatArray, name: str = "frequency") -> None:
    """Frequency (number of repeat purchases) must be a non-negative integer."""
    neg = frequency < 0
    if neg.any():
        raise ValueError(
            f"{name} must be >= 0; {int(neg.sum())} negative value(s) (first at position "
            f"{_first(neg)})"
        )
    frac = frequency != np.floor(frequency)
    if frac.any():
        raise ValueError(
            f"{name} must hold whole numbers of repeat purchases; {int(frac.sum())} "
            f"non-integer value(s) (first at position {_first(frac)})"
        )


def check_rfm(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> None:
    """Validate a (frequency, recency, T) summary for the BG/NBD model.

    Raises
    ------
    ValueError
        If frequency is negative or fractional, recency or T is negative, recency > T, or
        recency > 0 for a customer without repeat purchases.
    """
    check_frequency(frequency)
    for name, arr in (("recency", recency), ("T", T)):
        neg = arr < 0
        if neg.any():
            raise ValueError(
                f"{name} must be >= 0; {int(neg.sum())} negative value(s) (first at position "
                f"{_first(neg)})"
            )
    late = recency > T
    if late.any():
        raise ValueError(
            f"recency must not exceed T (customer age); {int(late.sum())} row(s) with "
            f"recency > T (first at position {_first(late)})"
        )
    orphan = (frequency == 0) & (recency != 0)
    if orphan.any():
        raise ValueError(
            f"recency must be 0 when frequency is 0 (recency is the age at the last repeat "
            f"purchase); {int(orphan.sum())} row(s) violate this (first at position "
            f"{_first(orphan)})"
        )


def check_spend(frequency: FloatArray, monetary_value: FloatArray, *, allow_zero_frequency: bool):
    """Validate a (frequency, monetary_value) summary for the Gamma-Gamma model.

    Parameters
    ----------
    frequency, monetary_value : numpy.ndarray
        Repeat purchase count and mean value of the repeat purchases.
    allow_zero_frequency : bool
        False when fitting: customers without repeat purchases carry no spend information
        and must be filtered out by the caller. True when predicting: such customers get
        the population mean and their ``monetary_value`` is ignored.

    Raises
    ------
    ValueError
        If frequency is invalid, zero where not allowed, or monetary_value <= 0 where
        frequency > 0.
    """
    check_frequency(frequency)
    if not allow_zero_frequency:
        zero = frequency == 0
        if zero.any():
            raise ValueError(
                f"Gamma-Gamma is fitted on repeat customers only; {int(zero.sum())} row(s) "
                f"have frequency 0 (first at position {_first(zero)}). Filter them out "
                "explicitly (e.g. frequency > 0) before fitting."
            )
    nonpos = (monetary_value <= 0) & (frequency > 0)
    if nonpos.any():
        raise ValueError(
            f"monetary_value must be > 0 for customers with repeat purchases; "
            f"{int(nonpos.sum())} row(s) with monetary_value <= 0 (first at position "
            f"{_first(nonpos)}). Handle refunds/zero spend explicitly before calling."
        )


def check_horizon(name: str, t: FloatArray) -> None:
    """A prediction horizon must be >= 0."""
    neg = t < 0
    if neg.any():
        raise ValueError(f"{name} must be >= 0; got {int(neg.sum())} negative value(s)")


def check_positive_params(params: Mapping[str, float], names: tuple[str, ...]) -> None:
    """Check user-supplied initial/fixed parameters: all present, finite and > 0."""
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"missing parameter(s): {', '.join(missing)}; expected {names}")
    extra = [n for n in params if n not in names]
    if extra:
        raise ValueError(f"unknown parameter(s): {', '.join(extra)}; expected {names}")
    bad = [n for n in names if not (np.isfinite(params[n]) and params[n] > 0)]
    if bad:
        raise ValueError(f"parameter(s) {', '.join(bad)} must be finite and > 0")


def coerce_weights(weights: Any, n: int) -> FloatArray:
    """Optional per-row weights (e.g. customer counts of pre-aggregated rows): finite, >= 0."""
    w = as_float_array("weights", weights)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"length mismatch: weights has shape {w.shape}, expected ({n},)")
    neg = w < 0
    if neg.any():
        raise ValueError(f"weights must be >= 0; {int(neg.sum())} negative value(s)")
    if not w.sum() > 0:
        raise ValueError("weights sum to zero")
    return w


def dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    ``np.einsum`` runs a single-threaded SIMD loop; OpenBLAS' threaded ``ddot`` can be
    10x slower on a busy machine with few cores.
    """
    return float(np.einsum("i,i->", a, b))
