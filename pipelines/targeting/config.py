"""Target-list definitions (YAML) and the `targeting:` section of crm.yml, validated.

Analysts add a list by adding an entry to the list file; nothing here needs to change.
Every SQL snippet in a list (audience, ranking, ...) is a DuckDB expression over the marts,
referenced by their table names (``dim_customers.orders``, ``customer_rfm.segment``, ...)
and ``run.as_of`` / ``run.margin_rate``. See docs/targeting.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import REPO_ROOT, Settings

# Marts a list may reference, by table name. Order = join order.
SOURCE_TABLES: dict[str, str] = {
    "dim_customers": "marts.dim_customers",
    "customer_rfm": "marts.customer_rfm",
    "customer_scores": "marts.customer_scores",
    "customer_value": "marts.customer_value",
    "customer_contact_summary": "marts.customer_contact_summary",
    "customer_next_best_category": "marts.customer_next_best_category",
}
# Who builds a source (for the error message when it is missing).
SOURCE_OWNERS: dict[str, str] = {
    "dim_customers": "foundation / identity (issue 3)",
    "customer_rfm": "analytical marts (issue 4)",
    "customer_value": "analytical marts (issue 4)",
    "customer_contact_summary": "analytical marts (issue 4)",
    "customer_scores": "CLV scoring (issue 5)",
    "customer_next_best_category": "targeting dbt models (issue 6)",
}

STAGES: tuple[str, ...] = (
    "no_consent",
    "unsubscribed_bounced",
    "unreachable",
    "complaint",
    "frequency_cap",
    "recently_listed",
    "other_list",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class TargetingConfigError(ValueError):
    """A list definition or the targeting config is invalid."""


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    consent_column: str | None
    contactable_column: str | None
    contact_channels: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class TargetList:
    """One list definition from the list file."""

    name: str
    strategy: str
    priority: int
    channel: str
    audience: str
    cost_per_contact: float
    expected_response_rate: float
    control_share: float
    ranking: str = "expected_value"
    max_size: int | None = None
    budget: float | None = None
    offer: str | None = None
    category: str | None = None
    discount_rate: float = 0.0
    response_score: str | None = None
    expected_order_value: str | None = None
    expected_margin: str | None = None
    reason: str | None = None
    description: str = ""
    enabled: bool = True

    def expressions(self) -> list[str]:
        return [
            e
            for e in (
                self.audience,
                self.ranking,
                self.category,
                self.response_score,
                self.expected_order_value,
                self.expected_margin,
                self.reason,
            )
            if e
        ]

    def max_treated(self) -> int | None:
        """The most treated (exported) rows the size cap and budget allow."""
        limits: list[int] = []
        if self.max_size is not None:
            limits.append(int(self.max_size))
        if self.budget is not None and self.cost_per_contact > 0:
            limits.append(int(self.budget // self.cost_per_contact))
        return min(limits) if limits else None


@dataclass(frozen=True)
class TargetingConfig:
    """The `targeting:` section of crm.yml plus the list definitions it points to."""

    lists: tuple[TargetList, ...]
    channels: dict[str, ChannelConfig]
    lists_file: Path
    control_seed: str
    campaign_id_format: str
    attribution_days: int
    complaint_days: int
    complaint_contact_types: tuple[str, ...]
    frequency_cap_days: int
    frequency_cap_contacts: int
    relist_days: int
    unsubscribe_outcomes: tuple[str, ...]
    hard_bounce_outcomes: tuple[str, ...]
    unsubscribe_scope: str
    margin_rate: float
    max_response_probability: float
    default_response_score: str
    default_expected_order_value: str
    contact_points_table: str
    extra: dict[str, Any] = field(default_factory=dict)

    def campaign_id(self, list_name: str, as_of: Any) -> str:
        return self.campaign_id_format.format(list=list_name, as_of=as_of.strftime("%Y%m%d"))

    def enabled_lists(self) -> list[TargetList]:
        """Enabled lists in processing order: priority, then name."""
        return sorted((t for t in self.lists if t.enabled), key=lambda t: (t.priority, t.name))


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] is None:
        raise TargetingConfigError(f"{where}: missing required key {key!r}")
    return mapping[key]


def _fraction(value: Any, where: str, *, upper_open: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise TargetingConfigError(f"{where}: not a number: {value!r}") from exc
    if not 0.0 <= number <= 1.0 or (upper_open and number >= 1.0):
        raise TargetingConfigError(f"{where}: must be between 0 and 1, got {number}")
    return number


_LIST_KEYS = {f for f in TargetList.__dataclass_fields__}


def parse_list(raw: dict[str, Any], channels: dict[str, ChannelConfig]) -> TargetList:
    if not isinstance(raw, dict):
        raise TargetingConfigError(f"list entry must be a mapping, got {raw!r}")
    name = str(_require(raw, "name", "list"))
    where = f"list {name!r}"
    if not _NAME.match(name):
        raise TargetingConfigError(f"{where}: name must be lower_snake_case (a-z, 0-9, _)")
    unknown = set(raw) - _LIST_KEYS
    if unknown:
        raise TargetingConfigError(f"{where}: unknown keys {sorted(unknown)}")
    channel = str(_require(raw, "channel", where))
    if channel not in channels:
        raise TargetingConfigError(
            f"{where}: channel {channel!r} is not configured (crm.yml targeting.channels: "
            f"{sorted(channels)})"
        )
    cost = float(_require(raw, "cost_per_contact", where))
    if cost < 0:
        raise TargetingConfigError(f"{where}: cost_per_contact must be >= 0")
    max_size = raw.get("max_size")
    budget = raw.get("budget")
    if max_size is None and budget is None:
        raise TargetingConfigError(f"{where}: give a size cap (max_size) or a budget, or both")
    if max_size is not None and int(max_size) < 0:
        raise TargetingConfigError(f"{where}: max_size must be >= 0")
    if budget is not None and float(budget) < 0:
        raise TargetingConfigError(f"{where}: budget must be >= 0")
    return TargetList(
        name=name,
        strategy=str(raw.get("strategy") or name),
        priority=int(_require(raw, "priority", where)),
        channel=channel,
        audience=str(_require(raw, "audience", where)).strip(),
        cost_per_contact=cost,
        expected_response_rate=_fraction(
            _require(raw, "expected_response_rate", where), f"{where}.expected_response_rate"
        ),
        control_share=_fraction(
            _require(raw, "control_share", where), f"{where}.control_share", upper_open=True
        ),
        ranking=str(raw.get("ranking") or "expected_value").strip(),
        max_size=int(max_size) if max_size is not None else None,
        budget=float(budget) if budget is not None else None,
        offer=str(raw["offer"]) if raw.get("offer") is not None else None,
        category=str(raw["category"]).strip() if raw.get("category") else None,
        discount_rate=_fraction(raw.get("discount_rate", 0.0), f"{where}.discount_rate"),
        response_score=str(raw["response_score"]).strip() if raw.get("response_score") else None,
        expected_order_value=(
            str(raw["expected_order_value"]).strip() if raw.get("expected_order_value") else None
        ),
        expected_margin=(
            str(raw["expected_margin"]).strip() if raw.get("expected_margin") else None
        ),
        reason=str(raw["reason"]).strip() if raw.get("reason") else None,
        description=str(raw.get("description") or "").strip(),
        enabled=bool(raw.get("enabled", True)),
    )


def _channels(section: dict[str, Any]) -> dict[str, ChannelConfig]:
    raw = section.get("channels") or {}
    if not raw:
        raise TargetingConfigError("crm.yml targeting.channels is empty")
    out: dict[str, ChannelConfig] = {}
    for name, spec in raw.items():
        spec = spec or {}
        out[name] = ChannelConfig(
            name=name,
            consent_column=spec.get("consent"),
            contactable_column=spec.get("contactable"),
            contact_channels=tuple(spec.get("contact_channels") or [name]),
            fields=tuple(spec.get("fields") or []),
        )
    return out


def resolve_lists_file(settings: Settings, section: dict[str, Any]) -> Path:
    raw = section.get("lists_file") or "pipelines/targeting/target_lists.yml"
    path = Path(raw).expanduser()
    if not path.is_absolute():
        home_relative = settings.home / path
        path = home_relative if home_relative.is_file() else REPO_ROOT / path
    return path


def load_lists(path: Path, channels: dict[str, ChannelConfig]) -> tuple[TargetList, ...]:
    if not path.is_file():
        raise TargetingConfigError(f"target list file not found: {path}")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    entries = data.get("lists") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TargetingConfigError(f"{path}: expected a top-level 'lists:' sequence")
    lists = tuple(parse_list(e, channels) for e in entries)
    names = [t.name for t in lists]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TargetingConfigError(f"{path}: duplicate list names {dupes}")
    priorities = [t.priority for t in lists if t.enabled]
    if len(priorities) != len(set(priorities)):
        raise TargetingConfigError(f"{path}: two enabled lists share a priority; make them unique")
    return lists


def load_targeting_config(settings: Settings) -> TargetingConfig:
    section = settings.section("targeting")
    channels = _channels(section)
    lists_file = resolve_lists_file(settings, section)
    supp = section.get("suppression") or {}
    econ = section.get("economics") or {}
    scope = str(supp.get("unsubscribe_scope", "channel"))
    if scope not in ("channel", "any"):
        raise TargetingConfigError("targeting.suppression.unsubscribe_scope: channel or any")
    attribution_days = int(section.get("attribution_days", 14))
    if attribution_days < 1:
        raise TargetingConfigError("targeting.attribution_days must be >= 1")
    relist = supp.get("relist_days")
    return TargetingConfig(
        lists=load_lists(lists_file, channels),
        channels=channels,
        lists_file=lists_file,
        control_seed=str(section.get("control_seed", "crm-targeting-v1")),
        campaign_id_format=str(section.get("campaign_id_format", "TL-{list}-{as_of}")),
        attribution_days=attribution_days,
        complaint_days=int(supp.get("complaint_days", 90)),
        complaint_contact_types=tuple(supp.get("complaint_contact_types") or ["complaint"]),
        frequency_cap_days=int(supp.get("frequency_cap_days", 7)),
        frequency_cap_contacts=int(supp.get("frequency_cap_contacts", 1)),
        relist_days=int(relist) if relist is not None else attribution_days,
        unsubscribe_outcomes=tuple(supp.get("unsubscribe_outcomes") or ["unsubscribed"]),
        hard_bounce_outcomes=tuple(supp.get("hard_bounce_outcomes") or ["bounced"]),
        unsubscribe_scope=scope,
        margin_rate=_fraction(econ.get("margin_rate", 0.3), "targeting.economics.margin_rate"),
        max_response_probability=_fraction(
            econ.get("max_response_probability", 0.95),
            "targeting.economics.max_response_probability",
        ),
        default_response_score=str(econ.get("response_score") or "1"),
        default_expected_order_value=str(
            econ.get("expected_order_value")
            or "dim_customers.net_revenue / nullif(dim_customers.orders, 0)"
        ),
        contact_points_table=str(
            section.get("contact_points_table", "intermediate.int_customer_contact_points")
        ),
    )


def referenced_sources(expressions: list[str]) -> list[str]:
    """Mart names (keys of SOURCE_TABLES) that the SQL snippets reference."""
    text = "\n".join(expressions)
    return [name for name in SOURCE_TABLES if re.search(rf"\b{re.escape(name)}\s*\.", text, re.I)]
