"""The `identity:` section of crm.yml as a typed object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IDENTIFIER_KINDS: tuple[str, ...] = ("loyalty_id", "email", "phone")
"""Strong identifiers, in the order that names a record's link rule (strongest first)."""


@dataclass(frozen=True)
class IdentityConfig:
    """Normalisation rules, over-merge guards and the optional probabilistic matcher."""

    dot_insensitive_domains: tuple[str, ...] = ("gmail.com", "googlemail.com")
    plus_tag_domains: tuple[str, ...] = ("gmail.com", "googlemail.com")
    domain_aliases: dict[str, str] = field(default_factory=lambda: {"googlemail.com": "gmail.com"})
    default_country: str = "KR"
    loyalty_pattern: str = "^[A-Z0-9]{4,40}$"
    max_records_per_identifier: int = 6
    split_on_birth_date_conflict: bool = True
    blocked_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    probabilistic_enabled: bool = False
    probabilistic_threshold: float = 0.99
    max_cluster_size: int = 12

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> IdentityConfig:
        email = section.get("email") or {}
        phone = section.get("phone") or {}
        loyalty = section.get("loyalty_id") or {}
        guards = section.get("guards") or {}
        prob = section.get("probabilistic") or {}
        default = cls()
        blocked = {
            kind: tuple(str(p) for p in (guards.get("blocked_values") or {}).get(kind) or ())
            for kind in IDENTIFIER_KINDS
        }
        unknown = set(guards.get("blocked_values") or {}) - set(IDENTIFIER_KINDS)
        if unknown:
            raise ValueError(f"identity.guards.blocked_values: unknown identifier(s) {unknown}")
        return cls(
            dot_insensitive_domains=tuple(
                d.lower()
                for d in email.get("dot_insensitive_domains", default.dot_insensitive_domains)
            ),
            plus_tag_domains=tuple(
                d.lower() for d in email.get("plus_tag_domains", default.plus_tag_domains)
            ),
            domain_aliases={
                str(k).lower(): str(v).lower()
                for k, v in (email.get("domain_aliases", default.domain_aliases) or {}).items()
            },
            default_country=str(phone.get("default_country", default.default_country)).upper(),
            loyalty_pattern=str(loyalty.get("pattern", default.loyalty_pattern)),
            max_records_per_identifier=int(
                guards.get("max_records_per_identifier", default.max_records_per_identifier)
            ),
            split_on_birth_date_conflict=bool(
                guards.get("split_on_birth_date_conflict", default.split_on_birth_date_conflict)
            ),
            blocked_values=blocked,
            probabilistic_enabled=bool(prob.get("enabled", default.probabilistic_enabled)),
            probabilistic_threshold=float(prob.get("threshold", default.probabilistic_threshold)),
            max_cluster_size=int(section.get("max_cluster_size", default.max_cluster_size)),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> IdentityConfig:
        return cls.from_section(settings.section("identity"))
