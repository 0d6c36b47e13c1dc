"""Simulate customer summaries from the BG/NBD + Gamma-Gamma generative process.

Used by the benchmark and the parameter-recovery tests. Seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray


def simulate_summaries(
    n_customers: int,
    bg_params: Mapping[str, float],
    gg_params: Mapping[str, float],
    *,
    max_age_days: int,
    time_unit_days: float,
    seed: int,
) -> dict[str, NDArray[np.float64]]:
    """Draw ``(frequency, recency, T, monetary_value)`` summaries of simulated customers.

    Each customer's first purchase is on a whole day, uniformly between 1 and
    ``max_age_days`` days before the end of the window. Purchases then follow the BG/NBD
    story (FHL 2005a section 3): Poisson rate ``lambda ~ Gamma(r, alpha)`` per time unit,
    drop-out probability ``p ~ Beta(a, b)`` after each purchase. Purchase times are mapped
    to calendar days and, as in the warehouse, *frequency counts distinct purchase days*
    after the first-purchase day; recency is the last purchase day. Each repeat
    transaction's value is ``Gamma(shape=p, rate=nu)`` with ``nu ~ Gamma(q, gamma)``
    (FHL 2005b), and ``monetary_value`` is the mean over the repeat transactions (0 for
    customers without repeat purchases).

    Parameters
    ----------
    n_customers : int
        Number of customers.
    bg_params : mapping
        ``{r, alpha, a, b}`` with alpha in ``time_unit_days`` units.
    gg_params : mapping
        ``{p, q, gamma}``.
    max_age_days : int
        Longest customer age in days.
    time_unit_days : float
        Length of the output time unit in days (7 = weeks).
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    dict of numpy.ndarray
        ``frequency``, ``recency``, ``T`` (time unit), ``monetary_value``.
    """
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    r, alpha, a, b = (bg_params[k] for k in ("r", "alpha", "a", "b"))
    age_days = rng.integers(1, int(max_age_days) + 1, size=n)
    T = age_days / time_unit_days
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p_drop = rng.beta(a, b, size=n)

    freq = np.zeros(n, dtype=np.int64)
    last_day = np.zeros(n, dtype=np.int64)
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0, size=active.size) / lam[active]
        in_window = t[active] <= T[active]
        active = active[in_window]
        day = np.floor(t[active] * time_unit_days).astype(np.int64)
        new_day = day > last_day[active]
        freq[active[new_day]] += 1
        last_day[active[new_day]] = day[new_day]
        # Drop out right after the purchase with probability p.
        survives = rng.random(active.size) >= p_drop[active]
        active = active[survives]

    p, q, gamma = (gg_params[k] for k in ("p", "q", "gamma"))
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=n)
    rep = freq > 0
    monetary = np.zeros(n)
    # Mean of x Gamma(p, nu) draws is Gamma(p x, rate nu x).
    monetary[rep] = rng.gamma(shape=p * freq[rep], scale=1.0 / (nu[rep] * freq[rep]))
    return {
        "frequency": freq.astype(np.float64),
        "recency": last_day / time_unit_days,
        "T": T,
        "monetary_value": monetary,
    }
