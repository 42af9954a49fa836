from django.db import models


class HourlyRollup(models.Model):
    """Counts per UTC hour and dimensions; kept for ANALYTICS_ROLLUP_RETENTION_DAYS (730) after raw rows go.

    Dimensions that don't apply are stored as "" / 0 rather than NULL so that the unique constraint (and the
    maintenance job's ON CONFLICT upsert on it) treats them as equal: NULLs are distinct in a unique index.
    """

    hour = models.DateTimeField()  # start of the UTC hour
    category = models.CharField(max_length=32, default="")
    provider = models.CharField(max_length=16, default="")  # "" for notification-level outcomes
    campaign_id = models.BigIntegerField(default=0)  # 0: not a campaign (no FK: rollups outlive campaigns)
    variant = models.CharField(max_length=32, default="")
    template_key = models.CharField(max_length=64, default="")
    # sent|delivered|failed|suppressed|no_device|opened|converted
    outcome = models.CharField(max_length=16)
    # failed: provider code / token_invalid / expired; suppressed: policy outcome
    reason = models.CharField(max_length=64, default="")
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "hour",
                    "category",
                    "provider",
                    "campaign_id",
                    "variant",
                    "template_key",
                    "outcome",
                    "reason",
                ],
                name="analytics_rollup_dimensions",
            )
        ]
        indexes = [
            # Charts filter by outcome over a time range (then by category/provider/campaign on the few rows left);
            # the unique index leads with hour and can't serve "this outcome over 30 days" without reading every
            # outcome's rows in between.
            models.Index(fields=["outcome", "hour"], name="analytics_rollup_outcome_hour"),
            # Campaign results read one campaign's rows across all its hours.
            models.Index(fields=["campaign_id", "hour"], name="analytics_rollup_campaign_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.outcome} {self.reason} = {self.count}"


class RollupWatermark(models.Model):
    """How far one source of facts has been counted into the rollups (analytics.rollup).

    One row per source. A run locks the rows FOR UPDATE, counts each source's facts with a timestamp in
    (counted_until, horizon], upserts the counts and moves counted_until to the horizon, all in one
    transaction: a crash anywhere rolls the counts back with the watermark, and the next run counts them once.
    The horizon is closed and every fact at or before it has committed (see rollup.py), so no id is needed to
    break ties: all the facts of an instant are counted by the same run.
    """

    source = models.CharField(max_length=32, primary_key=True)
    counted_until = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source} counted up to {self.counted_until:%Y-%m-%d %H:%M:%S}"
