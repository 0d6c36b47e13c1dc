"""Great Expectations suites, one module per landing entity.

``build_suite(entity, rules, cfg)`` returns a ``gx.ExpectationSuite`` named after
the entity. Thresholds and allowed values come from crm.yml (``ingest`` and
``quality.gx.thresholds``), so the suites follow the configuration.
"""

from __future__ import annotations

import importlib
from typing import Any

_CONTEXT: dict[str, Any] = {}


def gx_context() -> dict[str, Any]:
    """The process-wide ephemeral GX context with one pandas dataframe asset
    (``gx``, ``context``, ``batch_definition``); created on first use."""
    if not _CONTEXT:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                progress_bars=ProgressBarsConfig(globally=False),
                analytics_enabled=False,
            ),
        )
        source = context.data_sources.add_pandas("landing")
        batch_definition = source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe(
            "whole_batch"
        )
        _CONTEXT.update(gx=gx, context=context, batch_definition=batch_definition)
    return _CONTEXT


def expectations(entity: str, rules, cfg) -> list:
    module = importlib.import_module(f"pipelines.quality.suites.{entity}")
    return module.expectations(rules, cfg)


def build_suite(entity: str, rules, cfg):
    gx = gx_context()["gx"]
    suite = gx.ExpectationSuite(name=entity)
    for expectation in expectations(entity, rules, cfg):
        suite.add_expectation(expectation)
    return suite
