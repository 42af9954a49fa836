"""Admin forms for segments: each condition is checked as it will be run, and refused with the reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from audience import conditions
from audience.models import SegmentCondition


class SegmentConditionForm(forms.ModelForm):
    class Meta:
        model = SegmentCondition
        fields = ["field", "attribute", "operator", "value"]
        widgets = {"value": forms.TextInput(attrs={"size": 30}), "attribute": forms.TextInput(attrs={"size": 16})}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors or cleaned.get("DELETE"):
            return cleaned
        try:
            conditions.validate(
                cleaned.get("field", ""),
                cleaned.get("operator", ""),
                cleaned.get("value", ""),
                cleaned.get("attribute", ""),
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class MemberUploadForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV file: one user id per line in the first column (a 'user_id' header is fine)."
    )
    import_good_rows = forms.BooleanField(
        required=False,
        label="Import the good rows even if some rows are bad",
        help_text="Without this, a file with any bad row imports nothing.",
    )
