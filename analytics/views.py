"""The analytics page of the admin: deliveries, failures, opens and conversions over time, from the hourly rollups.

Marketers, Support and Administrators read it (the view permission on the rollups, given to the three roles). It is
a GET form, so a chart's URL can be shared; the numbers go to the page as JSON (json_script) for analytics.js to draw
with uPlot, to the tables under each chart, and to the CSV of each chart: one list of numbers for all three, so a
download holds exactly what was plotted.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from analytics import selectors
from analytics.selectors import Filters
from devices.models import Provider

ANALYTICS_PERMISSION = "analytics.view_hourlyrollup"
# The drill-down's link to the failed-delivery records: only for those who may open that list (Support and
# Administrators); Marketers see the reasons, which come from the rollups.
FAILURES_PERMISSION = "notifications.view_faileddelivery"

Bucket = Literal["hour", "day"]
STEP: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# period -> (words, length, bucket); "custom" takes the form's dates.
PERIODS: dict[str, tuple[str, timedelta, Bucket]] = {
    "24h": ("Last 24 hours, by hour", timedelta(hours=24), "hour"),
    "7d": ("Last 7 days, by day", timedelta(days=7), "day"),
    "30d": ("Last 30 days, by day", timedelta(days=30), "day"),
}
DEFAULT_PERIOD = "24h"
# Hour by hour, a month is 744 points: more would be wider than any screen and a slow table; longer spans go by day.
MAX_HOURLY_DAYS = 31
DRILL_FORMAT = "%Y-%m-%dT%H:%M"

COUNT_COLOURS = {
    "reached": "#2a9d8f",
    "sent": "#8d99ae",
    "delivered": "#2a9d8f",
    "failed": "#e63946",
    "opened": "#457b9d",
    "converted": "#f4a261",
}
OUTCOME_WORDS = {
    "reached": "Reached",
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
    "opened": "Opened",
    "converted": "Converted",
}
# Each chart over time: its outcomes, in the order drawn.
TIME_CHARTS: dict[str, tuple[str, ...]] = {
    "deliveries": ("sent", "delivered", "failed"),
    "engagement": ("opened", "converted"),
}
# Per shopper, as campaign results count them: reached = got it on at least one device (the rates' base).
VARIANT_OUTCOMES = ("reached", "opened", "converted")
CHART_NAMES = (*TIME_CHARTS, "success_rate", "failures", "variants")
# A cell a spreadsheet would run as a formula (OWASP's list: = + - @, and tab / carriage return that some strip).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FilterForm(forms.Form):
    """What the page shows. Choices come from what the rollups hold; anything else is refused with a message."""

    period = forms.ChoiceField(
        required=False,
        choices=[*((key, words) for key, (words, _, _) in PERIODS.items()), ("custom", "From … to … (UTC days)")],
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(
        required=False, label="Per", choices=[("", "the period's usual step"), ("hour", "hour"), ("day", "day")]
    )
    category = forms.ChoiceField(required=False)
    provider = forms.ChoiceField(required=False)
    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=0)

    def __init__(self, data: QueryDict, *, present: dict[str, list], today: date) -> None:
        super().__init__(data)
        self.today = today
        self.fields["category"].choices = [("", "All categories")] + [
            (c, _words(c)) for c in present.get("categories", [])
        ]
        self.fields["provider"].choices = [("", "All providers")] + [
            (p, _provider_words(p)) for p in present.get("providers", []) if p
        ]
        self.fields["campaign"].choices = [("", "All pushes")] + [
            (str(pk), name or f"Campaign #{pk}") for pk, name in present.get("campaigns", [])
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("period") != "custom":
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            self.add_error("start" if start is None else "end", "Give both days of the period.")
        elif end < start:
            self.add_error("end", "The last day comes before the first.")
        elif end > self.today:
            self.add_error("end", "The last day can't be after today (UTC).")
        elif (end - start).days > settings.ANALYTICS_ROLLUP_RETENTION_DAYS:
            # Nothing older than the rollups' retention exists to chart.
            most = settings.ANALYTICS_ROLLUP_RETENTION_DAYS + 1
            self.add_error("end", f"At most {most} days: older counts are not kept.")
        return cleaned


@dataclass(frozen=True)
class View:
    """What was asked for, after the form: the filters, the bucket, and the bucket to drill into (or None)."""

    filters: Filters
    bucket: Bucket
    drill: datetime | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    """A chart's numbers: one row per bucket (or per reason), as plotted and as the CSV holds them."""

    name: str
    header: list[str]
    rows: list[list[Any]]


def analytics_view(request: HttpRequest) -> HttpResponse:
    """The page, or with ?format=csv&chart=<name> one chart's numbers as a CSV download."""
    if not request.user.has_perm(ANALYTICS_PERMISSION):
        raise PermissionDenied
    present = selectors.choices()
    now = timezone.now()
    form = FilterForm(request.GET, present=present, today=now.astimezone(UTC).date())
    wanted = _view(form, request.GET.get("at", ""), now=now)
    if request.GET.get("format") == "csv":
        chart = request.GET.get("chart", "")
        if wanted.errors or chart not in CHART_NAMES:
            # A download must hold what its link says: never another period's or chart's numbers in its place.
            problems = "; ".join(wanted.errors or ["there is no such chart"])
            return HttpResponseBadRequest(f"This CSV link is not valid: {problems}", content_type="text/plain")
        return _csv(_tables(wanted, only=chart)[chart], wanted)
    return TemplateResponse(request, "analytics/analytics.html", _context(request, form, wanted, present))


def _view(form: FilterForm, at: str, *, now: datetime) -> View:
    """The form's answer; a field that isn't valid falls back to its default (and the page says so)."""
    errors = [f"{_field_label(form, name)}: {' '.join(messages)}" for name, messages in form.errors.items()]
    cleaned = form.cleaned_data
    period = cleaned.get("period") or DEFAULT_PERIOD
    if period == "custom" and not {"start", "end"} & set(form.errors):
        start = datetime.combine(cleaned["start"], time(), tzinfo=UTC)
        end = datetime.combine(cleaned["end"] + timedelta(days=1), time(), tzinfo=UTC)
        bucket: Bucket = "hour" if end - start <= timedelta(days=2) else "day"
    else:
        period = DEFAULT_PERIOD if period == "custom" else period
        _, length, bucket = PERIODS[period]
        # The current hour (or day) is the last bucket, so that a dip that is happening now is on the chart.
        end = _floor(now, bucket) + STEP[bucket]
        start = end - length
    asked = cleaned.get("bucket") or ""
    if asked == "day":
        bucket = "day"
    elif asked == "hour" and end - start <= timedelta(days=MAX_HOURLY_DAYS):
        bucket = "hour"
    elif asked == "hour":
        errors.append(f"Per hour: at most {MAX_HOURLY_DAYS} days at a time; shown per day.")
    if bucket == "day":  # whole UTC days: neither the first nor the last bucket is a part of one
        start = _floor(start, "day")
        end = _floor(end - timedelta(microseconds=1), "day") + STEP["day"]
    filters = Filters(
        category=cleaned.get("category") or "",
        provider=cleaned.get("provider") or "",
        campaign_id=cleaned.get("campaign") or 0,
        start=start,
        end=end,
    )
    return View(filters=filters, bucket=bucket, drill=_drill(at, filters, bucket, errors), errors=errors)


def _drill(at: str, filters: Filters, bucket: Bucket, errors: list[str]) -> datetime | None:
    """The bucket a drill-down asks for (its start, "YYYY-MM-DDTHH:MM" UTC), if it is one of the period's."""
    if not at:
        return None
    try:
        moment = datetime.strptime(at[:32], DRILL_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        errors.append("The time to look into is not a time: showing the whole period.")
        return None
    moment = _floor(moment, bucket)
    if not filters.start <= moment < filters.end:
        errors.append("The time to look into is outside this period: showing the whole period.")
        return None
    return moment


def _floor(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def _tables(wanted: View, *, only: str | None = None) -> dict[str, Table]:
    """Each chart's numbers (or just one chart's), read from the rollups through the selectors."""
    filters, bucket = wanted.filters, wanted.bucket
    heading = f"{bucket}_start_utc"
    tables: dict[str, Table] = {}
    needs = {only} if only else set(CHART_NAMES)
    if needs & {"deliveries", "engagement", "success_rate"}:
        counts = selectors.series(["sent", "delivered", "failed", "opened", "converted"], filters, bucket=bucket)
        times = [moment for moment, _ in counts["sent"]]
        for name, outcomes in TIME_CHARTS.items():
            columns = [[n for _, n in counts[o]] for o in outcomes]
            tables[name] = Table(
                name, [heading, *outcomes], [[t, *row] for t, *row in zip(times, *columns, strict=True)]
            )
        rates = selectors.success_rate(counts["delivered"], counts["failed"])
        tables["success_rate"] = Table(
            "success_rate",
            [heading, "delivered", "failed", "success_rate_percent"],
            [
                [t, delivered, failed, _percent(rate)]
                for (t, rate), (_, delivered), (_, failed) in zip(
                    rates, counts["delivered"], counts["failed"], strict=True
                )
            ],
        )
    if "failures" in needs:
        narrowed = _drilled(wanted)
        tables["failures"] = Table(
            "failures", ["reason", "failed"], [[r, n] for r, n in selectors.failures_by_reason(narrowed)]
        )
    if "variants" in needs:
        tables["variants"] = _variant_table(wanted)
    return tables


def _percent(rate: float | None) -> float | None:
    """The success rate as plotted: a percentage to two decimals; None (a gap) where nothing finished."""
    return None if rate is None else round(100 * rate, 2)


def _drilled(wanted: View) -> Filters:
    """The filters narrowed to the drilled bucket, if any."""
    if wanted.drill is None:
        return wanted.filters
    f = wanted.filters
    return Filters(
        category=f.category,
        provider=f.provider,
        campaign_id=f.campaign_id,
        start=wanted.drill,
        end=wanted.drill + STEP[wanted.bucket],
    )


def _variant_table(wanted: View) -> Table:
    """A campaign's shoppers reached, opens and conversions per variant and bucket (none unless one is chosen)."""
    heading = f"{wanted.bucket}_start_utc"
    header = [heading, "variant", *VARIANT_OUTCOMES]
    if not wanted.filters.campaign_id:
        return Table("variants", header, [])
    per_variant = selectors.variant_series(VARIANT_OUTCOMES, wanted.filters, bucket=wanted.bucket)
    rows = []
    for variant, counts in per_variant.items():
        times = [moment for moment, _ in counts[VARIANT_OUTCOMES[0]]]
        columns = [[n for _, n in counts[o]] for o in VARIANT_OUTCOMES]
        rows.extend([t, variant, *row] for t, *row in zip(times, *columns, strict=True))
    return Table("variants", header, rows)


def _csv(table: Table, wanted: View) -> HttpResponse:
    f = wanted.filters
    drilled = _drilled(wanted) if table.name == "failures" else f
    name = f"pushcart-{table.name}-{drilled.start:%Y%m%dT%H%M}-{drilled.end:%Y%m%dT%H%M}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_cell(value) for value in row])
    return response


def _cell(value: object) -> object:
    """A CSV cell: times in ISO 8601 UTC, None empty, and text a spreadsheet would run as a formula made text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _context(request: HttpRequest, form: FilterForm, wanted: View, present: dict[str, list]) -> dict[str, Any]:
    tables = _tables(wanted)
    f, bucket = wanted.filters, wanted.bucket
    counts, engagement, rates = (tables[name].rows for name in ("deliveries", "engagement", "success_rate"))
    totals = {
        outcome: sum(row[i] for row in tables[name].rows)
        for name, outcomes in TIME_CHARTS.items()
        for i, outcome in enumerate(outcomes, start=1)
    }
    finished = totals["delivered"] + totals["failed"]
    query = _query(request.GET)
    variant_rows = tables["variants"].rows
    chart_data = {
        "unit": bucket,
        "times": [int(row[0].timestamp()) for row in counts],
        # A click on a point opens that bucket's failures: the page's own query with at=<bucket>.
        "query": query.urlencode(),
        "drill_keys": [row[0].strftime(DRILL_FORMAT) for row in counts],
        "drilled": int(wanted.drill.timestamp()) if wanted.drill else None,
        "charts": {
            **{name: _count_chart(tables[name].rows, outcomes) for name, outcomes in TIME_CHARTS.items()},
            "success_rate": {
                "kind": "percent",
                "series": [{"label": "Success rate", "colour": "#264653", "values": [row[3] for row in rates]}],
            },
        },
        "variants": _variant_charts(variant_rows),
    }
    return {
        **admin.site.each_context(request),
        "title": "Analytics",
        "form": form,
        "errors": wanted.errors,
        "period_words": _period_words(wanted),
        # A push is counted once the rollup job passes it: its horizon, and at most one interval after.
        "lag_minutes": -(
            -(settings.ANALYTICS_ROLLUP_HORIZON_SECONDS + settings.ANALYTICS_ROLLUP_INTERVAL_SECONDS) // 60
        ),
        "unit": bucket,
        "empty": not any(totals.values()),
        "filtered": bool(f.category or f.provider or f.campaign_id),
        "provider_chosen": bool(f.provider),
        "totals": totals,
        "success_percent": _percent(totals["delivered"] / finished) if finished else None,
        "rate_rows": [
            {
                "label": _label(start, bucket),
                "key": start.strftime(DRILL_FORMAT),
                "sent": sent,
                "delivered": delivered,
                "failed": failed,
                "percent": percent,
                "drill_query": _with(query, at=start.strftime(DRILL_FORMAT)),
            }
            for (start, delivered, failed, percent), (_, sent, _, _) in zip(rates, counts, strict=True)
        ],
        "engagement_rows": [
            {"label": _label(start, bucket), "opened": opened, "converted": converted}
            for start, opened, converted in engagement
        ],
        "failures": _failure_rows(request, wanted, tables["failures"].rows),
        "failures_total": sum(n for _, n in tables["failures"].rows),
        "drill": _drill_context(request, wanted, query) if wanted.drill else None,
        "campaign_id": f.campaign_id,
        "campaign_name": dict(present.get("campaigns", [])).get(f.campaign_id, "") if f.campaign_id else "",
        "variant_totals": _variant_totals(variant_rows),
        "csv": {
            name: _with(query, format="csv", chart=name, **_at(wanted) if name == "failures" else {})
            for name in CHART_NAMES
        },
        "chart_data": chart_data,
    }


def _count_chart(rows: list[list[Any]], outcomes: Sequence[str]) -> dict[str, Any]:
    return {
        "kind": "count",
        "series": [
            {"label": OUTCOME_WORDS[o], "colour": COUNT_COLOURS[o], "values": [row[i] for row in rows]}
            for i, o in enumerate(outcomes, start=1)
        ],
    }


def _at(wanted: View) -> dict[str, str]:
    """The drill-down's parameter, for the links that keep it (the failures' CSV)."""
    return {"at": wanted.drill.strftime(DRILL_FORMAT)} if wanted.drill else {}


def _query(get: QueryDict) -> QueryDict:
    """The page's filters as given, without what only one link carries (the drill-down, CSV)."""
    query = get.copy()
    for key in ("at", "format", "chart"):
        query.pop(key, None)
    return query


def _with(query: QueryDict, **values: str) -> str:
    changed = query.copy()
    for key, value in values.items():
        changed[key] = value
    return f"?{changed.urlencode()}"


def _failure_rows(request: HttpRequest, wanted: View, rows: list[list[Any]]) -> list[dict[str, Any]]:
    """Each reason in words, its bar's length and, for those who may open them, a link to its failed records."""
    largest = max((n for _, n in rows), default=0) or 1
    records = _records_url(request, wanted)
    return [
        {
            "reason": reason,
            "words": _reason_words(reason),
            "code": reason if reason in _REASONS else "",  # the provider's codes are in the words already
            "count": n,
            "width": round(100 * n / largest),
            # A rejected token leaves no failed-delivery record (its device is deactivated); "unknown" has no code.
            "records_url": f"{records}&{urlencode({'provider_code': reason})}"
            if records and reason not in NO_RECORD_REASONS
            else "",
        }
        for reason, n in rows
    ]


def _records_url(request: HttpRequest, wanted: View) -> str:
    """The Failed deliveries list of the time shown (the drilled bucket, or the period), or "" if not allowed.

    FailedDeliveryAdmin filters on created_at (its date filter's own parameters), on the delivery's provider and
    on provider_code; it has no category or campaign filter. A record is written when its delivery fails, so its
    created_at is the failure's time, as the rollups count it (a requeued delivery that fails again moves it).
    """
    if not request.user.has_perm(FAILURES_PERMISSION):
        return ""
    shown = _drilled(wanted)
    params = {"created_at__gte": shown.start.isoformat(), "created_at__lt": shown.end.isoformat()}
    if shown.provider:
        params["provider"] = shown.provider
    return f"{reverse('admin:notifications_faileddelivery_changelist')}?{urlencode(params)}"


def _drill_context(request: HttpRequest, wanted: View, query: QueryDict) -> dict[str, Any]:
    """The drilled bucket: its time in words, the way back, and the link to its failed-delivery records."""
    assert wanted.drill is not None
    start, end = wanted.drill, wanted.drill + STEP[wanted.bucket]
    return {
        "words": f"{start:%Y-%m-%d}" if wanted.bucket == "day" else f"{start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC",
        "whole_period": f"?{query.urlencode()}",
        "records_url": _records_url(request, wanted),
        "records_narrowed": bool(wanted.filters.category or wanted.filters.campaign_id),
    }


def _variant_charts(rows: list[list[Any]]) -> list[dict[str, Any]]:
    """One chart per variant: its shoppers reached, opens and conversions per bucket."""
    charts: dict[str, dict[str, Any]] = {}
    for t, variant, *values in rows:
        chart = charts.setdefault(
            variant,
            {
                "name": variant,
                "times": [],
                "series": [
                    {"label": OUTCOME_WORDS[o], "colour": COUNT_COLOURS[o], "values": []} for o in VARIANT_OUTCOMES
                ],
            },
        )
        chart["times"].append(int(t.timestamp()))
        for series, value in zip(chart["series"], values, strict=True):
            series["values"].append(value)
    return list(charts.values())


def _variant_totals(rows: list[list[Any]]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for _, variant, *values in rows:
        entry = totals.setdefault(variant, {"name": variant, **dict.fromkeys(VARIANT_OUTCOMES, 0)})
        for outcome, value in zip(VARIANT_OUTCOMES, values, strict=True):
            entry[outcome] += value
    for entry in totals.values():
        reached = entry["reached"]
        entry["open_percent"] = _percent(entry["opened"] / reached) if reached else None
        entry["conversion_percent"] = _percent(entry["converted"] / reached) if reached else None
    return list(totals.values())


def _label(start: datetime, bucket: Bucket) -> str:
    return f"{start:%Y-%m-%d}" if bucket == "day" else f"{start:%Y-%m-%d %H:%M}"


def _period_words(wanted: View) -> str:
    f = wanted.filters
    last = f.end - STEP[wanted.bucket]
    if wanted.bucket == "day":
        span = f"{f.start:%Y-%m-%d}" if last == f.start else f"{f.start:%Y-%m-%d} to {last:%Y-%m-%d}"
        return f"{span} (UTC days), per day"
    return f"{f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC, per hour"


# Failure reasons as the rollups store them (analytics.rollup.FAILED_REASON): the engine's own words for those it
# makes, the provider's code for the rest.
_REASONS: dict[str, str] = {
    "token_invalid": "Token rejected: the app was uninstalled or the token is no longer valid (device removed)",
    "expired": "Expired: its time to live ran out before it could be sent",
    "unknown": "Failed without a code from the provider",
}
NO_RECORD_REASONS = ("token_invalid", "unknown")


def _reason_words(reason: str) -> str:
    return _REASONS.get(reason, f"The provider answered {reason}")


def _words(code: str) -> str:
    """'order_updates' → 'Order updates'."""
    return code.replace("_", " ").capitalize() if code else code


def _provider_words(code: str) -> str:
    try:
        return Provider(code).label
    except ValueError:
        return code


def _field_label(form: FilterForm, name: str) -> str:
    if name == "__all__":
        return "Filters"
    return str(form.fields[name].label or name.capitalize())
