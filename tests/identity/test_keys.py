"""Stable customer keys across nights: stability, merges, splits, idempotence, crash safety."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.identity.keys import current_key_map
from tests.identity.helpers import add_customers, history, keys, new_db, records, resolve


@pytest.fixture()
def con():
    c = new_db()
    yield c
    c.close()


def _state(con):
    return (
        sorted(
            con.execute(
                "select source_system, source_customer_id, customer_key, first_as_of, changed_as_of from identity.resolved_records"
            ).fetchall()
        ),
        history(con),
        sorted(con.execute("select * from identity.resolved_records").fetchall()),
    )


def test_keys_are_stable_when_records_arrive(con):
    add_customers(con, [
        {"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
        {"source_system": "web", "source_customer_id": "W1", "email": "b@x.com"},
        {"source_system": "web", "source_customer_id": "W2", "email": "a@x.com"},
    ])  # fmt: skip
    resolve(con, "2024-02-01")
    first = keys(con)
    # next night: a new record sorts before all others, and one record gets a new version
    add_customers(con, [
        {"source_system": "app", "source_customer_id": "A0", "email": "c@x.com"},
        {"source_system": "web", "source_customer_id": "W1", "email": "b@x.com", "city": "Seoul"},
    ])  # fmt: skip
    result = resolve(con, "2024-02-02")
    second = keys(con)
    assert {r: second[r] for r in first} == first
    assert result.map_rows_written == 1  # only the new record's row is written
    assert resolve(con, "2024-02-02").map_rows_written == 0  # a quiet rerun writes nothing
    assert second[("app", "A0")] > max(first.values())
    assert (result.new_keys, result.merges, result.splits) == (1, 0, 0)
    assert history(con) == []


def test_merge_keeps_the_older_key_and_records_history(con):
    add_customers(con, [
        {"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
        {"source_system": "web", "source_customer_id": "W1", "phone": "010-1234-0000"},
        {"source_system": "app", "source_customer_id": "A1", "phone": "010-1234-0000"},
    ])  # fmt: skip
    resolve(con, "2024-02-01")
    before = keys(con)
    older, younger = sorted((before[("pos", "1")], before[("web", "W1")]))
    # the web record now also carries the e-mail: both persons are one
    add_customers(con, [{"source_system": "web", "source_customer_id": "W1",
                         "phone": "010-1234-0000", "email": "A@x.com"}])  # fmt: skip
    result = resolve(con, "2024-02-02", run_id="night2")
    after = keys(con)
    assert set(after.values()) == {older}
    assert (result.merges, result.splits, result.new_keys) == (1, 0, 0)
    moved = 1 if younger == before[("pos", "1")] else 2
    assert history(con) == [(younger, older, "merge", dt.date(2024, 2, 2), moved, older)]

    # rerunning the same night changes nothing and writes no second history row
    state = _state(con)
    again = resolve(con, "2024-02-02", run_id="night2-rerun")
    assert (again.merges, again.splits, again.new_keys) == (0, 0, 0)
    assert _state(con)[:2] == state[:2]


def test_split_keeps_the_key_for_the_largest_part(con):
    add_customers(con, [
        {"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
        {"source_system": "web", "source_customer_id": "W1", "email": "a@x.com"},
        {"source_system": "web", "source_customer_id": "W2", "email": "a@x.com"},
        {"source_system": "app", "source_customer_id": "A1", "email": "a@x.com"},
    ])  # fmt: skip
    resolve(con, "2024-02-01")
    (key,) = set(keys(con).values())
    # the app record's e-mail is corrected: it was somebody else
    add_customers(con, [{"source_system": "app", "source_customer_id": "A1", "email": "z@x.com"}])
    result = resolve(con, "2024-02-02")
    after = keys(con)
    assert after[("pos", "1")] == after[("web", "W1")] == after[("web", "W2")] == key
    new_key = after[("app", "A1")]
    assert new_key > key
    assert (result.splits, result.merges, result.new_keys) == (1, 0, 1)
    assert history(con) == [(key, new_key, "split", dt.date(2024, 2, 2), 1, new_key)]
    state = _state(con)
    resolve(con, "2024-02-02")
    assert _state(con)[:2] == state[:2]


def test_merge_and_split_in_one_night(con):
    add_customers(con, [
        {"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
        {"source_system": "pos", "source_customer_id": "2", "email": "a@x.com"},
        {"source_system": "pos", "source_customer_id": "3", "email": "a@x.com"},
        {"source_system": "web", "source_customer_id": "W1", "email": "b@x.com"},
    ])  # fmt: skip
    resolve(con, "2024-02-01")
    k1 = keys(con)
    ka, kb = k1[("pos", "1")], k1[("web", "W1")]
    # pos/2 leaves person a and joins person b
    add_customers(con, [{"source_system": "pos", "source_customer_id": "2", "email": "b@x.com"}])
    resolve(con, "2024-02-02")
    k2 = keys(con)
    assert k2[("pos", "1")] == k2[("pos", "3")] == ka  # a keeps its key (largest part)
    assert k2[("pos", "2")] == k2[("web", "W1")] == kb  # b is home of kb only
    assert history(con) == [(ka, kb, "split", dt.date(2024, 2, 2), 1, kb)]


def test_new_keys_do_not_depend_on_arrival_order():
    """Two databases fed the same records in different batches issue the same keys."""
    rows = [
        {"source_system": s, "source_customer_id": str(i), "email": f"p{i % 7}@x.com"}
        for s in ("pos", "web", "app")
        for i in range(12)
    ]
    results = []
    for order in (rows, rows[::-1]):
        c = new_db()
        add_customers(c, order[:20])
        add_customers(c, order[20:])
        resolve(c, "2024-02-01")
        results.append(keys(c))
        c.close()
    assert results[0] == results[1]


def test_history_follows_chained_merges(con):
    add_customers(con, [
        {"source_system": "a", "source_customer_id": "1", "email": "a@x.com"},
        {"source_system": "b", "source_customer_id": "1", "email": "b@x.com"},
        {"source_system": "c", "source_customer_id": "1", "email": "c@x.com"},
    ])  # fmt: skip
    resolve(con, "2024-02-01")
    k = keys(con)
    ka, kb, kc = k[("a", "1")], k[("b", "1")], k[("c", "1")]
    add_customers(con, [{"source_system": "c", "source_customer_id": "1", "email": "c@x.com",
                         "phone": "010-5555-0000"},
                        {"source_system": "b", "source_customer_id": "1", "email": "b@x.com",
                         "phone": "010-5555-0000"}])  # fmt: skip
    resolve(con, "2024-02-02")
    add_customers(con, [{"source_system": "a", "source_customer_id": "1", "email": "a@x.com",
                         "phone": "010-5555-0000"}])  # fmt: skip
    resolve(con, "2024-02-03")
    bc_old, bc = max(kb, kc), min(kb, kc)  # the older (smaller) key survives
    final_old, final = max(bc, ka), min(bc, ka)
    assert set(keys(con).values()) == {final}
    moved_night3 = 1 if final_old == ka else 2
    assert history(con) == [
        (bc_old, bc, "merge", dt.date(2024, 2, 2), 1, final),
        (final_old, final, "merge", dt.date(2024, 2, 3), moved_night3, final),
    ]


def test_current_key_map():
    assert current_key_map([(5, 3), (3, 1), (9, 7)]) == {5: 1, 3: 1, 9: 7}


def test_a_failed_write_leaves_the_previous_state(con):
    add_customers(con, [{"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
                        {"source_system": "web", "source_customer_id": "W1", "phone": "010-1111-0000"}])  # fmt: skip
    resolve(con, "2024-02-01")
    before = _state(con)
    add_customers(con, [{"source_system": "web", "source_customer_id": "W1", "email": "a@x.com"}])

    def crash(c):
        # everything is written but not committed yet
        assert c.execute("select count(*) from identity.key_history").fetchall()[0][0] == 1
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        resolve(con, "2024-02-02", before_commit=crash)
    assert _state(con) == before
    resolve(con, "2024-02-02")
    assert len(history(con)) == 1
    assert records(con)[("web", "W1")]["customer_key"] == records(con)[("pos", "1")]["customer_key"]


def test_keys_are_never_reissued(con):
    add_customers(con, [{"source_system": "pos", "source_customer_id": "1"},
                        {"source_system": "pos", "source_customer_id": "2"}])  # fmt: skip
    resolve(con, "2024-02-01")
    first = keys(con)
    top = max(first.values())
    purged = next(r for r, k in first.items() if k == top)
    con.execute(  # a source purge
        "delete from raw.customers where source_customer_id = ?", [purged[1]]
    )
    resolve(con, "2024-02-02")
    assert max(keys(con).values()) < top
    add_customers(con, [{"source_system": "pos", "source_customer_id": "3"}])
    resolve(con, "2024-02-03")
    assert keys(con)[("pos", "3")] == top + 1
