"""List file and targeting config validation."""

from __future__ import annotations

import pytest
import yaml

from pipelines.targeting.config import (
    TargetingConfigError,
    load_targeting_config,
    referenced_sources,
)
from tests.targeting.conftest import make_settings

BASE = {
    "name": "x",
    "priority": 1,
    "channel": "email",
    "audience": "dim_customers.orders > 0",
    "max_size": 10,
    "cost_per_contact": 10,
    "expected_response_rate": 0.1,
    "control_share": 0.1,
}


def _load(home, entries):
    path = home / "lists.yml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"lists": entries}), encoding="utf-8")
    return load_targeting_config(make_settings(home, {"lists_file": str(path)}))


def test_shipped_list_file_is_valid(home):
    cfg = load_targeting_config(make_settings(home))
    names = [t.name for t in cfg.enabled_lists()]
    assert names == [
        "high_value_at_risk", "referral_invite", "new_customer_second_purchase",
        "winback_lapsed", "cross_sell", "up_sell",
    ]  # fmt: skip
    for t in cfg.lists:
        assert t.max_treated() is not None and t.max_treated() > 0
        assert t.offer
    cross = next(t for t in cfg.lists if t.name == "cross_sell")
    assert "customer_next_best_category" in referenced_sources(cross.expressions())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"channel": "pigeon"}, "not configured"),
        ({"control_share": 1.0}, "between 0 and 1"),
        ({"expected_response_rate": 1.5}, "between 0 and 1"),
        ({"max_size": None}, "size cap"),
        ({"name": "Bad Name"}, "lower_snake_case"),
        ({"audiance": "typo"}, "unknown keys"),
        ({"cost_per_contact": -1}, ">= 0"),
    ],
)
def test_invalid_lists_are_rejected(home, change, message):
    entry = {**BASE, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(TargetingConfigError, match=message):
        _load(home, [entry])


def test_duplicate_names_and_priorities(home):
    with pytest.raises(TargetingConfigError, match="duplicate"):
        _load(home, [BASE, {**BASE, "priority": 2}])
    with pytest.raises(TargetingConfigError, match="priority"):
        _load(home, [BASE, {**BASE, "name": "y"}])


def test_budget_and_size_limit(home):
    cfg = _load(home, [{**BASE, "budget": 95, "max_size": 100}])
    assert cfg.lists[0].max_treated() == 9
    cfg = _load(home, [{**{k: v for k, v in BASE.items() if k != "max_size"}, "budget": 1000}])
    assert cfg.lists[0].max_treated() == 100


def test_referenced_sources():
    assert referenced_sources(["customer_rfm.segment = 'x' and customer_scores .p_alive > 0"]) == [
        "customer_rfm",
        "customer_scores",
    ]
    assert referenced_sources(["my_customer_rfm.segment"]) == []
