from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.generator import GeneratorConfig, generate
from pipelines.settings import Settings
from tests.generator.gen_helpers import END


def test_generator_section_of_crm_yml_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "crm.yml").write_text(
        "generator:\n  n_campaigns: 5\n  dirty_transaction_rate: 0.0\n"
        "  lines_per_order_weights: [1.0]\n",
        encoding="utf-8",
    )
    settings = Settings.load(tmp_path)
    cfg = GeneratorConfig.from_settings(settings, workers=1)
    assert cfg.n_campaigns == 5 and cfg.lines_per_order_weights == (1.0,)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == GeneratorConfig.from_settings(settings)
    result = generate(settings, customers=300, seed=2, end_date=END)  # config from settings
    summary = json.loads(result.summary_path.read_text())
    assert summary["counts"]["campaigns"]["rows"] == 5
    assert summary["parameters"]["n_campaigns"] == 5
    # one line per order: every transaction id appears once
    assert summary["counts"]["transactions"]["orders"] == summary["counts"]["transactions"][
        "clean_rows"]  # fmt: skip
    with pytest.raises(ValueError):
        GeneratorConfig.from_settings(settings, no_such_knob=1)
