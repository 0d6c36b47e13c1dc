"""The landing-contract page documents exactly the columns the loader accepts."""

from __future__ import annotations

import re

from pipelines.ingest.contract import CONTRACTS
from pipelines.settings import REPO_ROOT


def test_docs_list_every_contract_column_with_its_required_flag() -> None:
    text = (REPO_ROOT / "docs" / "landing-contract.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    documented = {}
    for section in sections:
        entity = section.splitlines()[0].strip()
        rows = re.findall(r"^\| ([a-z_]+)(\*?) \|", section, flags=re.M)
        documented[entity] = {name: bool(star) for name, star in rows if name != "column"}
    assert set(documented) == set(CONTRACTS)
    for entity, contract in CONTRACTS.items():
        assert documented[entity] == {c.name: c.required for c in contract.columns}, entity
