"""The Dagster resource that hands every asset its runtime settings and as-of date."""

import datetime as dt

import dagster as dg

from pipelines.settings import Settings

AS_OF_TAG = "crm/as_of"
FULL_REFRESH_TAG = "crm/full_refresh"
# Runs carrying this tag are limited to one at a time by dagster.yaml (one warehouse writer).
WRITER_TAG = "crm/warehouse_writer"


class CrmResource(dg.ConfigurableResource):
    """Runtime home and run parameters.

    ``home`` falls back to ``CRM_HOME`` (default ``./data``). The as-of date comes
    from the run tag ``crm/as_of`` (set by ``crm run --as-of`` and by the nightly
    schedule); without one it is yesterday in the business time zone.
    """

    home: str | None = None

    @property
    def settings(self) -> Settings:
        return Settings.load(self.home)

    def as_of(self, context: dg.AssetExecutionContext | dg.OpExecutionContext) -> dt.date:
        tag = context.run.tags.get(AS_OF_TAG)
        if tag:
            return dt.date.fromisoformat(tag)
        return default_as_of(self.settings)

    def full_refresh(self, context: dg.AssetExecutionContext | dg.OpExecutionContext) -> bool:
        return context.run.tags.get(FULL_REFRESH_TAG, "false").lower() == "true"


def default_as_of(settings: Settings) -> dt.date:
    """Yesterday in the business time zone: the last complete business day."""
    from pipelines.settings import today_in_business_tz

    return today_in_business_tz(settings) - dt.timedelta(days=1)
