"""`crm`: generate sample data, run the nightly job, query the published warehouse."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from pipelines.settings import REPO_ROOT, Settings


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load(args.home)
    os.environ["CRM_HOME"] = str(settings.home)
    return settings


# ---- generate -------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.ensure_dirs()
    started = time.monotonic()
    if args.next_night:
        from pipelines.generator import generate_next_night

        night = generate_next_night(
            settings, seed=args.seed, day=args.next_night, new_line_fraction=args.new_lines
        )
        print(
            f"wrote the delivery of night {args.next_night} in "
            f"{time.monotonic() - started:.1f}s: {night}"
        )
        return 0
    from pipelines.generator import generate

    end_date = args.end_date or _default_end_date(settings)
    result = generate(settings, customers=args.customers, seed=args.seed, end_date=end_date)
    print(
        f"generated sample for {args.customers} customers (seed {args.seed}, "
        f"end date {end_date}) in {time.monotonic() - started:.1f}s into {settings.landing_dir}"
    )
    print(f"rows: {result.rows}; of which planted dirty rows: {result.dirty_rows}")
    return 0


def _default_end_date(settings: Settings) -> dt.date:
    from pipelines.resources import default_as_of

    return default_as_of(settings)


# ---- run ------------------------------------------------------------------------
def _instance(settings: Settings):
    """A persistent Dagster instance in state/dagster: the repo's dagster.yaml + pooled event log."""
    from dagster import DagsterInstance
    from dagster._core.storage.sqlite_storage import _event_logs_directory

    from pipelines.event_log import instance_yaml

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    source = REPO_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    wanted = instance_yaml(source.read_text(encoding="utf-8"), _event_logs_directory(str(home)))
    if not target.exists() or target.read_text(encoding="utf-8") != wanted:
        target.write_text(wanted, encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def _run_summary(settings: Settings, run_id: str, as_of: dt.date, success: bool) -> dict[str, Any]:
    from pipelines.scoring.report import read_state, summary_lines
    from pipelines.warehouse import connect, table_exists

    summary: dict[str, Any] = {"run_id": run_id, "as_of": as_of.isoformat(), "success": success}
    scoring = read_state(settings, run_id)
    if scoring is not None:
        summary["scoring"] = scoring
        summary["extra_lines"] = [*summary.get("extra_lines", []), *summary_lines(scoring)]
    con = connect(settings)
    try:
        if table_exists(con, "raw", "_batches"):
            rows = con.execute(
                "select entity, status, count(*), coalesce(sum(rows_loaded), 0), "
                "coalesce(sum(rows_quarantined), 0) from raw._batches where run_id = ? "
                "group by 1, 2 order by 1, 2",
                [run_id],
            ).fetchall()
            summary["files"] = [
                {
                    "entity": e,
                    "status": s,
                    "files": n,
                    "rows_loaded": int(rl),
                    "rows_quarantined": int(rq),
                }
                for e, s, n, rl, rq in rows
            ]
            summary["rows_loaded"] = sum(int(r[3]) for r in rows)
            summary["rows_quarantined"] = sum(int(r[4]) for r in rows)
            summary["files_rejected"] = sum(int(r[2]) for r in rows if r[1] == "rejected")
        from pipelines.quality.summary import quality_summary

        quality = quality_summary(con, run_id)
        lines = [*summary.get("extra_lines", []), *quality.pop("extra_lines", [])]
        summary.update(quality, extra_lines=lines)  # keep the scoring lines
    finally:
        con.close()
    if success and settings.warehouse_path.exists():
        pub = _read_only(settings)
        try:
            customers, revenue = pub.execute(
                "select (select count(*) from marts.dim_customers), "
                "(select coalesce(sum(net_amount), 0) from marts.fct_orders)"
            ).fetchone()
            summary["customers"] = int(customers)
            summary["net_revenue"] = float(revenue)
        finally:
            pub.close()
        summary["published"] = str(settings.warehouse_path)
    return summary


def _read_only(settings: Settings):
    from pipelines.warehouse import connect

    if not settings.warehouse_path.exists():
        raise SystemExit(
            f"no published warehouse at {settings.warehouse_path}: run `crm run` first"
        )
    return connect(settings, settings.warehouse_path, read_only=True)


# What the job's definitions import (all but the dbt assets, which need the manifest).
_WARM_UP_MODULES = (
    "dagster",
    "dagster_dbt",
    "pipelines.ingest.assets",
    "pipelines.identity.assets",
    "pipelines.identity.checks",
    "pipelines.quality.assets",
    "pipelines.scoring.assets",
    "pipelines.scoring.checks",
    "pipelines.targeting.assets",
    "pipelines.targeting.checks",
    "pipelines.publish.assets",
)


def _has_landing_files(settings: Settings) -> bool:
    return any(p.is_file() for p in settings.landing_dir.rglob("*") if "_rejected" not in p.parts)


def _start_gx(settings: Settings) -> bool:
    """Start the GX worker when the ingest will validate files (it imports GX meanwhile)."""
    from pipelines.quality.config import QualityConfig

    if not (
        QualityConfig.from_settings(settings).gx.worker_process and _has_landing_files(settings)
    ):
        return False
    from pipelines.ingest import gx_worker

    gx_worker.start()
    return True


def _warm_up(settings: Settings, gx_in_worker: bool) -> None:
    """Import what the run needs while `dbt parse` runs in its own process.

    Pure latency hiding: the same imports happen anyway, later, on the critical path.
    GX (seconds to import) only when landing/ has files for the ingest to validate and
    no GX worker validates them.
    """
    import importlib

    for module in _WARM_UP_MODULES:
        importlib.import_module(module)
    if not gx_in_worker and _has_landing_files(settings):
        from pipelines.quality.suites import gx_context

        gx_context()


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    gx_in_worker = _start_gx(settings)  # first: its import of GX overlaps everything below
    try:
        return _run(args, settings, gx_in_worker)
    finally:
        if gx_in_worker:
            from pipelines.ingest import gx_worker

            gx_worker.stop()


def _run(args: argparse.Namespace, settings: Settings, gx_in_worker: bool) -> int:
    from pipelines.progress import report
    from pipelines.publish.publisher import recover_interrupted_publish
    from pipelines.resources import AS_OF_TAG, FULL_REFRESH_TAG, WRITER_TAG, default_as_of

    recover_interrupted_publish(settings)  # after a killed run: leftovers of its publish
    settings.ensure_dirs()
    as_of = args.as_of or default_as_of(settings)
    started = time.monotonic()
    report("run", f"home {settings.home}, as_of {as_of}")
    from pipelines.transform.project import start_build_parse, start_manifest_prepare

    prepare = start_manifest_prepare(settings)
    start_build_parse(settings)  # a new home or project version only; the dbt step waits
    if prepare is not None:
        _warm_up(settings, gx_in_worker)  # on the other core while dbt parses
        prepare.wait()
        report("run", "dbt manifest prepared (once per project version)")

    from pipelines.definitions import defs
    from pipelines.run_report import (
        ProcessSampler,
        as_dicts,
        ingest_figures,
        publish_figures,
        step_figures,
    )

    job = defs.resolve_job_def("nightly")
    instance = _instance(settings)
    with ProcessSampler() as sampler:
        result = job.execute_in_process(
            instance=instance,
            tags={
                AS_OF_TAG: as_of.isoformat(),
                FULL_REFRESH_TAG: str(bool(args.full_refresh)).lower(),
                WRITER_TAG: "true",
            },
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
    summary = _run_summary(settings, result.run_id, as_of, result.success)
    summary["stages"] = as_dicts(step_figures(instance, result.run_id, sampler))
    summary["ingest_parts"] = as_dicts(ingest_figures(instance, result.run_id))
    summary["publish_parts"] = as_dicts(publish_figures(instance, result.run_id))
    summary["dbt_layers"] = [
        layer
        for path in sorted(settings.dbt_target_dir.glob("*/layer_seconds.json"))
        for layer in json.loads(path.read_text(encoding="utf-8"))
    ]
    summary["peak_rss_mb"] = sampler.peak_mb(0, float("inf"))
    summary["seconds"] = round(time.monotonic() - started, 1)
    if not result.success:
        # on one line: a failed check's name comes on the message's second line
        failed = [
            f"{e.step_key}: " + " ".join(e.event_specific_data.error.message.split())
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data and e.event_specific_data.error
        ]
        summary["failures"] = failed
    settings.run_summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _print_summary(summary, settings)
    return 0 if result.success else 1


def _print_summary(summary: dict[str, Any], settings: Settings) -> None:
    print()
    print(f"== CRM nightly run {summary['run_id']} (as_of {summary['as_of']}) ==")
    print(f"status:            {'OK' if summary['success'] else 'FAILED'} in {summary['seconds']}s")
    print(f"rows loaded:       {summary.get('rows_loaded', 0)}")
    print(f"rows quarantined:  {summary.get('rows_quarantined', 0)}")
    print(f"files rejected:    {summary.get('files_rejected', 0)}")
    if summary.get("peak_rss_mb"):
        print(f"peak memory:       {summary['peak_rss_mb']:,.0f} MB (job + dbt)")
    for extra in summary.get("extra_lines", []):
        print(extra)
    if summary["success"]:
        print(f"customers:         {summary.get('customers', 0)}")
        print(f"net revenue:       {summary.get('net_revenue', 0):,.0f} {settings.currency}")
        print(f"published:         {summary.get('published')}")
        print(
            f"query it:          crm sql --home {settings.home} "
            '"select * from marts.dim_customers limit 10"'
        )
    else:
        print("published:         unchanged (a blocking step or check failed)")
        for failure in summary.get("failures", []):
            print(f"  failed: {failure}")


# ---- sql ------------------------------------------------------------------------
def cmd_sql(args: argparse.Namespace) -> int:
    settings = _settings(args)
    con = _read_only(settings)
    try:
        cursor = con.execute(args.query)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows = cursor.fetchall() if columns else []
    finally:
        con.close()
    out = sys.stdout
    if args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n")
    else:
        cells = [[("" if v is None else str(v)) for v in row] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        out.write(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + "\n")
        out.write("-+-".join("-" * w for w in widths) + "\n")
        for r in cells:
            out.write(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + "\n")
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
    return 0


# ---- prepare --------------------------------------------------------------------
def cmd_prepare(args: argparse.Namespace) -> int:
    from pipelines.transform.project import prepare_manifest, start_build_parse

    settings = _settings(args)
    settings.ensure_dirs()
    started = time.monotonic()
    path = prepare_manifest(settings)
    print(f"dbt manifest ready in {time.monotonic() - started:.1f}s: {path / 'manifest.json'}")
    build_parse = start_build_parse(settings)
    if build_parse is not None:
        build_parse.wait()
        print(
            f"dbt build parse state of {settings.home} ready in {time.monotonic() - started:.1f}s"
        )
    return 0


# ---- main -----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--home", help="runtime home (default: $CRM_HOME or ./data)")
        return p

    gen = with_home(sub.add_parser("generate", help="write a realistic sample into landing/"))
    gen.add_argument("--customers", type=int, default=5000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--end-date", type=_date, help="last day of data (default: yesterday)")
    gen.add_argument(
        "--next-night",
        type=_date,
        metavar="DAY",
        help="instead: add the next night's delivery (new lines dated DAY) to an "
        "already generated home",
    )
    gen.add_argument(
        "--new-lines",
        type=float,
        default=0.01,
        help="with --next-night: new lines as a fraction of existing (default 0.01)",
    )
    gen.set_defaults(func=cmd_generate)

    run = with_home(sub.add_parser("run", help="run the nightly job in-process"))
    run.add_argument(
        "--as-of",
        type=_date,
        help="business date to compute as of (default: yesterday in the business time zone)",
    )
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    run.set_defaults(func=cmd_run)

    prep = with_home(
        sub.add_parser(
            "prepare",
            help="parse the dbt manifest Dagster loads (a deploy step; make run and make dev run it)",
        )
    )
    prep.set_defaults(func=cmd_prepare)

    sql = with_home(sub.add_parser("sql", help="read-only query of the published warehouse"))
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
