"""Expected value, control-group hash and the budget/size cut.

Economics of one candidate i of list L (documented in docs/targeting.md):

* ``s_i``  = the list's response score (``response_score``, default
  ``customer_scores.expected_purchases_next_12m``); null counts as the mean, negatives as 0.
* ``P_i``  = min(p_max, base_rate_L * s_i / mean(s over L's candidates that passed
  suppression)). Scores only redistribute the base rate between customers: the mean
  P(response) of the passed candidates equals the list's expected_response_rate
  (unless capped at p_max).
* ``M_i``  = expected margin of a response: the list's ``expected_margin`` expression, or
  expected_order_value_i x (margin_rate - discount_rate_L). Unknown = 0.
* ``EV_i`` = P_i x M_i - cost_per_contact_L. Candidates with EV < 0 are cut.

Control group: u_i = int(first 13 hex digits of sha256("<seed>:<list>:<customer_key>"), 16)
/ 16**13, uniform on [0, 1). A candidate is control when u_i < control_share. The rule
uses only sha256, string concatenation and a hex prefix, so any engine reproduces it
(Spark: ``conv(substr(sha2(concat_ws(':', seed, list, key), 256), 1, 13), 16, 10)``).

Budget and size: candidates are ranked by the list's ranking (ties: customer_key); walking
down the ranking, each candidate takes its hash-assigned group until the treated count
reaches max_treated = min(max_size, floor(budget / cost_per_contact)). Control is thus
drawn from the same ranked prefix as the treated group, so the two are comparable.
"""

from __future__ import annotations

import hashlib

HASH_HEX_DIGITS = 13  # 52 bits: exact in a double, portable as BIGINT


def control_hash(seed: str, list_name: str, customer_key: int) -> float:
    """Uniform [0, 1) number of one customer in one list (Python reference)."""
    digest = hashlib.sha256(f"{seed}:{list_name}:{customer_key}".encode()).hexdigest()
    return int(digest[:HASH_HEX_DIGITS], 16) / 16**HASH_HEX_DIGITS


def control_hash_sql(seed: str, list_name: str, key_expr: str) -> str:
    """The same number in DuckDB SQL."""
    prefix = f"{seed}:{list_name}:".replace("'", "''")
    return (
        f"(cast(('0x' || substr(sha256('{prefix}' || cast({key_expr} as varchar)), 1, "
        f"{HASH_HEX_DIGITS})) as bigint) / {float(16**HASH_HEX_DIGITS)!r})"
    )


def p_response_sql(base_rate: float, p_max: float, score: str, mean_score: str) -> str:
    """P(response) from the base rate and the customer's score relative to the mean."""
    ratio = (
        f"case when coalesce({mean_score}, 0) > 0 "
        f"then greatest(coalesce({score}, {mean_score}), 0) / {mean_score} else 1.0 end"
    )
    return f"least({float(p_max)!r}, {float(base_rate)!r} * {ratio})"


def two_proportion_ztest(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of p1 = p2; returns (z, two-sided p-value).

    ``None`` when a group is empty or the pooled rate is 0 or 1 (no variance).
    """
    import math

    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def uplift_confidence_interval(
    x1: int, n1: int, x2: int, n2: int, z_crit: float = 1.959963984540054
) -> tuple[float | None, float | None]:
    """Wald interval of p1 - p2 (unpooled standard error), 95% by default."""
    import math

    if n1 <= 0 or n2 <= 0:
        return None, None
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - z_crit * se, p1 - p2 + z_crit * se
