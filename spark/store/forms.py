"""Store dashboard forms: the hand-off code, a cancellation reason, the export's dates."""

from datetime import date, timedelta
from typing import Any

from django import forms


class HandoffForm(forms.Form):
    """Staff confirm the hand-off themselves (the driver's app is the other way: the driver
    types the pickup code the associate gives). The check is the associate's word that the
    person at the counter is the driver the page shows."""

    checked = forms.BooleanField(
        label="The driver and the car match the ones shown here",
        required=True,
        error_messages={"required": "Check the driver's name and car before handing over."},
    )

    def __init__(self, *args: Any, order: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why cancel?",
        max_length=300,
        help_text="The shop and the customer see this reason.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the order is cancelled.")
        return reason


class PodExportForm(forms.Form):
    """A date range in the store's local time; at most 31 days per export."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date):
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if end - start > timedelta(days=31):
                raise forms.ValidationError("Export at most 31 days at a time.")
        return data
