"""Asset checks on the identity resolution."""

import dagster as dg

from pipelines.check_steps import Check, one_step
from pipelines.identity.assets import RESOLVED_RECORDS
from pipelines.identity.config import IdentityConfig
from pipelines.resources import CrmResource
from pipelines.warehouse import connect


def identity_cluster_size(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    settings = crm.settings
    limit = IdentityConfig.from_settings(settings).max_cluster_size
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "select customer_key, count(*) as n from identity.resolved_records "
            "group by 1 having count(*) > ? order by n desc, customer_key limit 20",
            [limit],
        ).fetchall()
        largest = con.execute(
            "select coalesce(max(customer_records), 0) from identity.resolved_records"
        ).fetchall()[0][0]
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "limit": limit,
            "largest_customer_records": int(largest),
            "oversized": dg.MetadataValue.json(
                [{"customer_key": k, "records": n} for k, n in rows]
            ),
        },
    )


def identity_retired_keys_unused(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    con = connect(crm.settings, read_only=True)
    try:
        reused, duplicated = con.execute(
            """
            select
                (select count(*) from identity.resolved_records
                 where customer_key in (select old_customer_key from identity.key_history
                                        where change_type = 'merge')),
                (select count(*) from (
                    select source_system, source_customer_id from identity.resolved_records
                    group by 1, 2 having count(*) > 1))
            """
        ).fetchall()[0]
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=reused == 0 and duplicated == 0,
        metadata={"records_on_retired_keys": int(reused), "records_with_two_keys": int(duplicated)},
    )


identity_checks: list[dg.AssetChecksDefinition] = [
    one_step(
        "identity_checks",
        [
            Check(
                "identity_cluster_size",
                RESOLVED_RECORDS,
                "No customer gathers more source records than identity.max_cluster_size "
                "(a larger one is a sign of over-merging; warning).",
                identity_cluster_size,
                blocking=False,
            ),
            Check(
                "identity_retired_keys_unused",
                RESOLVED_RECORDS,
                "A key retired by a merge is never in use again, and every record has "
                "exactly one key.",
                identity_retired_keys_unused,
            ),
        ],
    )
]
