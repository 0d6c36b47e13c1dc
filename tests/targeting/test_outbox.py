"""Outbox properties (consent, one list, no control, manifest = files) and atomic writing."""

from __future__ import annotations

import csv
import hashlib
import json

import duckdb
import pytest

from pipelines.targeting.checks import counts_reconcile, one_list_per_customer, verify_outbox_dir
from pipelines.targeting.config import load_targeting_config
from pipelines.targeting.lists import build_target_lists
from pipelines.targeting.outbox import write_outbox
from pipelines.warehouse import work_db
from tests.targeting.conftest import AS_OF, make_settings
from tests.targeting.synth import build_world

CONSENT = {
    "email": "consent_email",
    "sms": "consent_sms",
    "phone": "consent_phone",
    "direct_mail": "consent_mail",
}


def _read(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_outbox_properties(settings, folder):
    """Independent of the engine: read the files and the tables and check the properties."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == AS_OF.isoformat() and manifest["run_id"]
    con = duckdb.connect(str(settings.work_db_path), read_only=True)
    dim = {
        r[0]: r[1:]
        for r in con.execute(
            "select customer_key, consent_email, consent_sms, consent_phone, consent_mail "
            "from marts.dim_customers"
        ).fetchall()
    }
    control = {
        r[0]
        for r in con.execute(
            "select customer_key from marts.target_list_members "
            "where as_of = ? and treatment_group = 'control'",
            [AS_OF],
        ).fetchall()
    }
    treated_by_list = {}
    for name, key in con.execute(
        "select list_name, customer_key from marts.target_list_members "
        "where as_of = ? and treatment_group = 'treated'",
        [AS_OF],
    ).fetchall():
        treated_by_list.setdefault(name, set()).add(key)
    con.close()
    consent_index = {"email": 0, "sms": 1, "phone": 2, "direct_mail": 3}
    exported: list[int] = []
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f["file"] for f in manifest["files"]] + ["manifest.json"]
    )
    for entry in manifest["files"]:
        path = folder / entry["file"]
        rows = _read(path)
        # manifest counts and hashes equal the files
        assert entry["rows"] == len(rows)
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        keys = [int(r["customer_key"]) for r in rows]
        # no customer without consent for the channel
        assert all(dim[k][consent_index[entry["channel"]]] is True for k in keys), entry["list"]
        # control members never reach the outbox
        assert not set(keys) & control
        # the file is exactly the list's treated group
        assert set(keys) == treated_by_list.get(entry["list"], set())
        exported += keys
    # no customer in two lists
    assert len(exported) == len(set(exported))
    return manifest


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_shipped_lists_properties(home, seed):
    """The six shipped lists on synthetic marts: every property holds, every list selects."""
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=1500, seed=seed)
    cfg = load_targeting_config(settings)
    assert {t.name for t in cfg.lists} == {
        "high_value_at_risk", "winback_lapsed", "cross_sell", "up_sell", "referral_invite",
        "new_customer_second_purchase",
    }  # fmt: skip
    with work_db(settings) as con:
        runs = build_target_lists(con, cfg, AS_OF)
        folder = write_outbox(con, cfg, settings.outbox_dir, AS_OF, f"run-{seed}")
        assert one_list_per_customer(con, AS_OF) == []
        assert counts_reconcile(con, AS_OF) == []
        members = con.execute(
            "select count(*), count(distinct customer_key) from marts.target_list_members"
        ).fetchone()
    assert members[0] == members[1] > 0
    assert all(r.treated > 0 for r in runs), [(r.list_name, r.treated) for r in runs]
    manifest = _assert_outbox_properties(settings, folder)
    assert len(manifest["files"]) == 6
    # channel fields only: an email file has customer_key + email (+ offer)
    cols = {f["list"]: f["columns"] for f in manifest["files"]}
    assert cols["winback_lapsed"] == ["customer_key", "email", "offer"]
    assert cols["high_value_at_risk"] == ["customer_key", "phone", "offer"]
    assert cols["cross_sell"] == ["customer_key", "email", "offer", "category"]


def test_fallback_contact_points_from_staging(home):
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=600, seed=9, contact_points="staging")
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        folder = write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-x")
    manifest = _assert_outbox_properties(settings, folder)
    assert "fallback" in manifest["contact_points"]
    emails = [r["email"] for r in _read(folder / "winback_lapsed.csv")]
    assert emails and all(e == e.lower() and "@" in e for e in emails)


def test_crash_mid_write_leaves_previous_outbox(home):
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=600, seed=1)
    cfg = load_targeting_config(settings)
    final = settings.outbox_dir / AS_OF.isoformat()

    def crash(path):
        raise KeyboardInterrupt(f"simulated crash after {path.name}")

    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        # first night crashes: nothing visible at outbox/<as_of>
        with pytest.raises(KeyboardInterrupt):
            write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-a", after_file=crash)
        assert not final.exists()
        assert all(p.name.startswith(".") for p in settings.outbox_dir.iterdir())
        # a good run publishes a complete directory
        write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-a")
        before = {p.name: p.read_bytes() for p in final.iterdir()}
        # a rerun that crashes leaves the previous complete directory untouched
        with pytest.raises(KeyboardInterrupt):
            write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-b", after_file=crash)
        assert {p.name: p.read_bytes() for p in final.iterdir()} == before
        assert verify_outbox_dir(con, cfg, final, AS_OF) == []
        # the next successful run cleans the leftovers of the crashed one; the same content
        # is not delivered again (manifest and run id unchanged)
        write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-c")
        assert [p.name for p in settings.outbox_dir.iterdir()] == [AS_OF.isoformat()]
        assert {p.name: p.read_bytes() for p in final.iterdir()} == before
        assert json.loads((final / "manifest.json").read_text())["run_id"] == "run-a"
        # changed lists replace the directory
        con.execute(
            "delete from marts.target_list_members where list_name = 'winback_lapsed' "
            "and treatment_group = 'treated' and rank = (select min(rank) "
            "from marts.target_list_members where list_name = 'winback_lapsed' "
            "and treatment_group = 'treated')"
        )
        write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-d")
        manifest = json.loads((final / "manifest.json").read_text())
        assert manifest["run_id"] == "run-d"
        assert [p.name for p in settings.outbox_dir.iterdir()] == [AS_OF.isoformat()]


def test_verification_rejects_tampered_outbox(home):
    """The checks catch a control member, a consent violation and a wrong row count."""
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=800, seed=2)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        folder = write_outbox(con, cfg, settings.outbox_dir, AS_OF, "run-a")
        control_key, list_name = con.execute(
            "select customer_key, list_name from marts.target_list_members "
            "where treatment_group = 'control' and list_name = 'winback_lapsed' limit 1"
        ).fetchone()
        no_consent = con.execute(
            "select customer_key from marts.dim_customers where not consent_email limit 1"
        ).fetchone()[0]
        path = folder / f"{list_name}.csv"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{control_key},x@example.com,offer\n{no_consent},y@example.com,offer\n")
        problems = " | ".join(verify_outbox_dir(con, cfg, folder, AS_OF))
    assert "manifest rows" in problems
    assert "sha256" in problems
    assert "control members exported" in problems
    assert "without email consent" in problems
