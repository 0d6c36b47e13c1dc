"""The properties target lists must always satisfy, as plain functions.

Used three ways: by the outbox writer before it publishes a directory, by the blocking
Dagster asset checks, and by the tests. Each returns a list of problems (empty = OK).
Every check recomputes from the stored tables or the written files, independently of the
SQL that built the lists.
"""

import datetime as dt
import json
from pathlib import Path

import duckdb

from pipelines.targeting.config import STAGES, TargetingConfig
from pipelines.targeting.lists import LISTS_TABLE, MEMBERS_TABLE

MAX_EXAMPLES = 5


def _consent_expr(con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, channel: str) -> str:
    from pipelines.targeting.sources import columns

    column = cfg.channels[channel].consent_column
    if column and column in columns(con, "marts.dim_customers"):
        return f"coalesce(d.{column}, false)"
    return "false"


def one_list_per_customer(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[str]:
    rows = con.execute(
        f"select customer_key, count(*), string_agg(list_name, ',' order by list_name) "
        f"from {MEMBERS_TABLE} where as_of = ? group by customer_key having count(*) > 1 "
        f"order by customer_key limit {MAX_EXAMPLES}",
        [as_of],
    ).fetchall()
    return [f"customer {k} is in {n} lists ({names})" for k, n, names in rows]


def treated_have_consent(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date
) -> list[str]:
    problems: list[str] = []
    for list_name, channel in con.execute(
        f"select list_name, channel from {LISTS_TABLE} where as_of = ? order by list_name",
        [as_of],
    ).fetchall():
        bad = con.execute(
            f"select count(*), min(m.customer_key) from {MEMBERS_TABLE} m "
            "left join marts.dim_customers d on d.customer_key = m.customer_key "
            f"where m.as_of = ? and m.list_name = ? and m.treatment_group = 'treated' "
            f"and not {_consent_expr(con, cfg, channel)}",
            [as_of, list_name],
        ).fetchone()
        if bad[0]:
            problems.append(
                f"{list_name}: {bad[0]} treated members without {channel} consent "
                f"(e.g. customer {bad[1]})"
            )
    return problems


def counts_reconcile(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[str]:
    stage_sum = " + ".join(f"l.suppressed_{s}" for s in STAGES)
    rows = con.execute(
        f"""
        select l.list_name, l.audience, {stage_sum} + l.eligible,
               l.eligible, l.cut_negative_ev + l.cut_budget + l.selected,
               l.selected, l.treated + l.control,
               l.treated, coalesce(m.treated, 0), l.control, coalesce(m.control, 0)
        from {LISTS_TABLE} l
        left join (
            select list_name,
                   count(*) filter (where treatment_group = 'treated') as treated,
                   count(*) filter (where treatment_group = 'control') as control
            from {MEMBERS_TABLE} where as_of = ? group by list_name
        ) m on m.list_name = l.list_name
        where l.as_of = ?
        order by l.list_name
        """,
        [as_of, as_of],
    ).fetchall()
    problems = []
    for name, aud, aud2, elig, elig2, sel, sel2, t, mt, c, mc in rows:
        if aud != aud2:
            problems.append(f"{name}: audience {aud} != suppressed + eligible {aud2}")
        if elig != elig2:
            problems.append(f"{name}: eligible {elig} != cuts + selected {elig2}")
        if sel != sel2:
            problems.append(f"{name}: selected {sel} != treated + control {sel2}")
        if (t, c) != (mt, mc):
            problems.append(f"{name}: counts treated/control {t}/{c} != members {mt}/{mc}")
    return problems


def verify_outbox_dir(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, folder: Path, as_of: dt.date
) -> list[str]:
    """Check a written outbox directory the way a campaign tool would read it."""
    from pipelines.ingest.filehash import file_sha256
    from pipelines.targeting.outbox import MANIFEST, file_columns, read_outbox_file

    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path} missing"]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    if manifest.get("as_of") != as_of.isoformat():
        problems.append(f"manifest as_of {manifest.get('as_of')} != {as_of}")
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {p.name for p in folder.glob("*.csv")}
    if listed != on_disk:
        problems.append(f"files on disk {sorted(on_disk)} != manifest {sorted(listed)}")
    control = {
        r[0]
        for r in con.execute(
            f"select customer_key from {MEMBERS_TABLE} "
            "where as_of = ? and treatment_group = 'control'",
            [as_of],
        ).fetchall()
    }
    seen: dict[int, str] = {}
    lists_by_name = {t.name: t for t in cfg.lists}
    for entry in manifest["files"]:
        path = folder / entry["file"]
        if not path.is_file():
            continue
        rows = read_outbox_file(path)
        if len(rows) != entry["rows"]:
            problems.append(
                f"{entry['file']}: manifest rows {entry['rows']} != file rows {len(rows)}"
            )
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 differs from manifest")
        channel = entry["channel"]
        target = lists_by_name.get(entry["list"])
        header = (
            list(rows[0].keys())
            if rows
            else path.read_text(encoding="utf-8").splitlines()[0].split(",")
        )
        allowed = set(file_columns(cfg, channel, True, bool(target and target.category)))
        if not set(header) <= allowed:
            problems.append(
                f"{entry['file']}: columns {header} beyond channel fields {sorted(allowed)}"
            )
        keys = [int(r["customer_key"]) for r in rows]
        leaked = sorted(set(keys) & control)
        if leaked:
            problems.append(
                f"{entry['file']}: {len(leaked)} control members exported (e.g. {leaked[:MAX_EXAMPLES]})"
            )
        for k in keys:
            if k in seen:
                problems.append(f"customer {k} exported in {seen[k]} and {entry['file']}")
            seen[k] = entry["file"]
        if keys:
            quoted = str(path).replace("'", "''")
            missing_consent = con.execute(
                "select count(*), min(k.customer_key) from ("
                "select cast(customer_key as bigint) as customer_key "
                f"from read_csv('{quoted}', header = true, all_varchar = true)) k "
                "left join marts.dim_customers d on d.customer_key = k.customer_key "
                f"where not {_consent_expr(con, cfg, channel)}"
            ).fetchone()
            if missing_consent[0]:
                problems.append(
                    f"{entry['file']}: {missing_consent[0]} customers without {channel} consent "
                    f"(e.g. {missing_consent[1]})"
                )
    return problems[: MAX_EXAMPLES * 4]


# ---- Dagster asset checks ----------------------------------------------------------
def build_asset_checks() -> list:
    """Blocking checks on the members table (gate the outbox) and on the outbox."""
    import dagster as dg

    from pipelines.check_steps import Check, one_step
    from pipelines.resources import CrmResource
    from pipelines.targeting.assets import MEMBERS_KEY, OUTBOX_KEY, TARGET_LISTS_KEY
    from pipelines.targeting.config import load_targeting_config
    from pipelines.warehouse import work_db

    def _result(problems: list[str]) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={"problems": dg.MetadataValue.json(problems)},
        )

    def one_list_per_customer_check(context: dg.AssetCheckExecutionContext, crm: CrmResource):
        with work_db(crm.settings) as con:
            return _result(one_list_per_customer(con, crm.as_of(context)))

    def treated_consent_check(context: dg.AssetCheckExecutionContext, crm: CrmResource):
        settings = crm.settings
        cfg = load_targeting_config(settings)
        with work_db(settings) as con:
            return _result(treated_have_consent(con, cfg, crm.as_of(context)))

    def counts_reconcile_check(context: dg.AssetCheckExecutionContext, crm: CrmResource):
        with work_db(crm.settings) as con:
            return _result(counts_reconcile(con, crm.as_of(context)))

    # the three checks that gate the outbox, in one step
    list_checks = one_step(
        "target_list_checks",
        [
            Check(
                "one_list_per_customer_check",
                MEMBERS_KEY,
                "No customer in two lists in one run.",
                one_list_per_customer_check,
            ),
            Check(
                "treated_consent_check",
                MEMBERS_KEY,
                "Every treated member has consent for the list's channel.",
                treated_consent_check,
            ),
            Check(
                "counts_reconcile_check",
                TARGET_LISTS_KEY,
                "Stage counts add up to the audience; treated/control match the members.",
                counts_reconcile_check,
            ),
        ],
    )

    @dg.asset_check(
        asset=OUTBOX_KEY,
        blocking=True,
        description="Manifest rows and sha256 match the files; no control member and no "
        "customer without consent in any file; channel fields only.",
    )
    def outbox_check(context: dg.AssetCheckExecutionContext, crm: CrmResource):
        settings = crm.settings
        as_of = crm.as_of(context)
        cfg = load_targeting_config(settings)
        with work_db(settings) as con:
            return _result(
                verify_outbox_dir(con, cfg, settings.outbox_dir / as_of.isoformat(), as_of)
            )

    return [list_checks, outbox_check]
