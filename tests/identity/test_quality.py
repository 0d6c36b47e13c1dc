"""Pairwise precision and recall: the formula on a hand example, then on generated data."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import pytest

from pipelines.identity.config import IdentityConfig
from pipelines.identity.report import pairwise_quality, quality_for_home
from pipelines.identity.resolve import resolve_identities
from pipelines.ingest.loader import load_entity
from pipelines.settings import Settings
from pipelines.warehouse import work_db

AS_OF = dt.date(2025, 12, 31)


def _pairs(labels: dict[str, str]) -> set[frozenset[str]]:
    return {
        frozenset((a, b))
        for a, b in itertools.combinations(sorted(labels), 2)
        if labels[a] == labels[b]
    }


def test_pairwise_formula_matches_explicit_pair_sets():
    predicted = {"1": "k1", "2": "k1", "3": "k1", "4": "k2", "5": "k3", "6": "k3"}
    truth = {"1": "p1", "2": "p1", "3": "p2", "4": "p2", "5": "p3", "6": "p3", "7": "p4"}
    con = duckdb.connect()
    con.execute(
        "create table r (source_system varchar, source_customer_id varchar, customer_key varchar)"
    )
    con.execute(
        "create table t (source_system varchar, source_customer_id varchar, person_id varchar)"
    )
    con.executemany("insert into r values ('s', ?, ?)", list(predicted.items()))
    con.executemany("insert into t values ('s', ?, ?)", list(truth.items()))
    q = pairwise_quality(con, "r", "t")
    common = {k: v for k, v in truth.items() if k in predicted}
    p_pairs, t_pairs = _pairs(predicted), _pairs(common)
    assert q.predicted_pairs == len(p_pairs) == 4
    assert q.true_pairs == len(t_pairs) == 3
    assert q.correct_pairs == len(p_pairs & t_pairs) == 2
    assert q.precision == pytest.approx(2 / 4)
    assert q.recall == pytest.approx(2 / 3)
    assert (q.records_only_truth, q.customers_mixing_persons, q.persons_split_over_customers) == (
        1, 1, 1,
    )  # fmt: skip


@pytest.fixture(scope="module")
def generated_home(tmp_path_factory):
    from pipelines.generator import generate

    home = tmp_path_factory.mktemp("identity_quality")
    settings = Settings.load(home)
    settings.ensure_dirs()
    generate(settings, customers=4000, seed=11, end_date=AS_OF)
    with work_db(settings) as con:
        load_entity(con, settings, "customers", AS_OF, "test")
    return settings


def _resolve(settings: Settings, cfg: IdentityConfig):
    with work_db(settings) as con:
        con.execute("drop schema if exists identity cascade")
        resolve_identities(con, cfg, AS_OF, "test")
    return quality_for_home(settings, source="build")


def test_quality_targets_on_generated_data(generated_home):
    q = _resolve(generated_home, IdentityConfig.from_settings(generated_home))
    assert q.records_compared > 5000 and q.records_only_resolved == 0
    assert q.precision >= 0.995
    assert q.recall >= 0.97


def test_guards_are_what_keeps_precision(generated_home):
    base = IdentityConfig.from_settings(generated_home)
    unguarded = IdentityConfig(
        **{**base.__dict__, "blocked_values": {}, "max_records_per_identifier": 10**6,
           "split_on_birth_date_conflict": False}
    )  # fmt: skip
    q = _resolve(generated_home, unguarded)
    assert q.precision < 0.99  # generic addresses and household phones over-merge


def test_probabilistic_matching_raises_recall(generated_home):
    base = IdentityConfig.from_settings(generated_home)
    deterministic = _resolve(generated_home, base)
    prob = _resolve(
        generated_home, IdentityConfig(**{**base.__dict__, "probabilistic_enabled": True})
    )
    assert prob.recall > deterministic.recall
    assert prob.precision >= 0.995
