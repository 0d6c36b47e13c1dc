"""Nightly schedule and the (off by default) landing-file sensor."""

import datetime as dt
import hashlib

import dagster as dg

from pipelines.resources import AS_OF_TAG, WRITER_TAG
from pipelines.settings import ENTITIES, Settings

NIGHTLY_JOB_NAME = "nightly"


def build_schedules(settings: Settings, job):
    cfg = settings.section("schedule")

    @dg.schedule(
        job=job,
        cron_schedule=str(cfg.get("nightly_cron", "0 2 * * *")),
        execution_timezone=settings.business_time_zone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The nightly CRM run; as_of is the business day that just ended.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled = context.scheduled_execution_time
        as_of = (scheduled.date() if scheduled else dt.date.today()) - dt.timedelta(days=1)
        return dg.RunRequest(
            run_key=f"nightly-{as_of.isoformat()}",
            tags={AS_OF_TAG: as_of.isoformat(), WRITER_TAG: "true"},
        )

    @dg.sensor(
        job=job,
        minimum_interval_seconds=int(cfg.get("landing_sensor_interval_seconds", 300)),
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if cfg.get("landing_sensor_enabled", False)
            else dg.DefaultSensorStatus.STOPPED
        ),
        description="Starts a run when the landing folders change (off by default).",
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext):
        # Fingerprint names, sizes and mtimes only: the sensor must not open the
        # build database, which a running job holds for writing.
        digest = hashlib.sha256()
        for entity in ENTITIES:
            folder = settings.landing_entity_dir(entity)
            if not folder.exists():
                continue
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        fingerprint = digest.hexdigest()
        if fingerprint == context.cursor:
            return dg.SkipReason("no landing changes")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=f"landing-{fingerprint[:16]}", tags={WRITER_TAG: "true"})

    return [nightly_schedule], [landing_files_sensor]
