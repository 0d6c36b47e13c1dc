"""Great Expectations suites, one module per landing entity.

``build_suite(entity, rules, cfg)`` returns a ``gx.ExpectationSuite`` named after
the entity. Thresholds and allowed values come from crm.yml (``ingest`` and
``quality.gx.thresholds``), so the suites follow the configuration.
"""

from __future__ import annotations

import importlib


def expectations(entity: str, rules, cfg) -> list:
    module = importlib.import_module(f"pipelines.quality.suites.{entity}")
    return module.expectations(rules, cfg)


def build_suite(entity: str, rules, cfg):
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=entity)
    for expectation in expectations(entity, rules, cfg):
        suite.add_expectation(expectation)
    return suite
