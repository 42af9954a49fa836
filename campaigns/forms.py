"""The campaign form: what can be refused while editing is refused here, with the reason."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.dateparse import parse_duration

from campaigns.describe import duration_in_words
from campaigns.models import Campaign, ScheduleKind
from campaigns.services import SCHEDULE_TOLERANCE, context_problems, crontab_fields

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]*$")

# A duration in words: "2 days", "90 minutes", "1 day 6 hours", "1 hour and 30 minutes".
_UNIT_SECONDS = {
    **dict.fromkeys(["w", "week", "weeks"], 7 * 86400),
    **dict.fromkeys(["d", "day", "days"], 86400),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], 3600),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes"], 60),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], 1),
}
_DURATION_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*(?:,|and)?")
_MAX_DURATION = timedelta(days=365)


class DurationInWordsField(forms.Field):
    """A duration shown and typed in words ("2 days", "90 minutes"); Django's "1 00:00:00" is still understood."""

    widget = forms.TextInput(attrs={"size": 24})

    def prepare_value(self, value: Any) -> Any:
        return duration_in_words(value, parts=4) if isinstance(value, timedelta) else value

    def to_python(self, value: Any) -> timedelta | None:
        if isinstance(value, timedelta) or value in (None, ""):
            return value or None
        text = re.sub(r"(?<=\d),(?=\d)", "", str(value).strip().lower())
        try:
            found = _words(text)
            if found is None:
                found = parse_duration(text)
        except (OverflowError, ValueError):  # more days than Python's timedelta holds
            raise ValidationError("Between 1 second and 365 days.") from None
        if found is None:
            raise ValidationError('A duration such as "1 day", "90 minutes" or "2 days 12 hours".')
        if found <= timedelta(0) or found > _MAX_DURATION:
            raise ValidationError("Between 1 second and 365 days.")
        return found


def _words(text: str) -> timedelta | None:
    seconds, at = 0, 0
    while at < len(text):
        part = _DURATION_PART.match(text, at)
        if part is None or part.group(2) not in _UNIT_SECONDS or part.end() == at:
            return None
        seconds += int(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        at = part.end()
    return timedelta(seconds=seconds) if at else None


class CampaignForm(forms.ModelForm):
    conversion_window = DurationInWordsField(
        initial=timedelta(hours=24),
        help_text='…within this long of delivery: "1 day", "90 minutes", "2 days 12 hours".',
    )

    class Meta:
        model = Campaign
        fields = list(Campaign.SETUP_FIELDS)
        widgets = {"context": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean_context(self) -> dict[str, Any]:
        context = self.cleaned_data["context"]
        if not isinstance(context, dict):
            raise ValidationError('A JSON object of the template\'s data, e.g. {"discount": "20%"}.')
        return context

    def clean_conversion_event(self) -> str:
        value = self.cleaned_data["conversion_event"]
        if not EVENT_TYPE.match(value):
            raise ValidationError("An event type such as checkout_completed.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("schedule")
        now = timezone.now()
        send_at = cleaned.get("send_at")
        if kind == ScheduleKind.AT and send_at and send_at < now - SCHEDULE_TOLERANCE:
            self.add_error("send_at", f"{send_at:%Y-%m-%d %H:%M} is in the past.")
        # What would fail at send time for every shopper ("could not be rendered") is refused now, naming the variable.
        template, context = cleaned.get("template"), cleaned.get("context")
        if template is not None and "context" in cleaned:
            for message in context_problems(context, [template]):
                self.add_error("context", message)
        if kind == ScheduleKind.RECURRING and not self.errors:
            probe = Campaign(
                **{name: cleaned.get(name) for name in self.Meta.fields if name not in ("template", "segment")}
            )
            try:
                crontab_fields(probe)
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field, messages)
        return cleaned


class VariantFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        live = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if live and sum(f.cleaned_data.get("weight") or 0 for f in live) <= 0:
            raise ValidationError("The variants' weights must add up to more than 0.")
        if len(live) == 1:
            raise ValidationError(
                "A/B testing needs two variants or more; without variants the campaign's template is used."
            )
        # The campaign form has put its (possibly just edited) context on the instance by now.
        templates = [f.cleaned_data["template"] for f in live if f.cleaned_data.get("template")]
        found = context_problems(self.instance.context, templates)
        if found:
            raise ValidationError([f"context: {message}" for message in found])
