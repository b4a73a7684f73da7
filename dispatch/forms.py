"""Forms of the driver portal's work pages and of the ops actions in the admin.

Parsing only: every rule (eligibility, pickup codes, proof of delivery) lives in the services,
which the views call with what these forms parsed.
"""

from typing import Any

from django import forms

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # as the driver API


class LocationForm(forms.Form):
    """Every step carries where the driver is; the page's script fills these in."""

    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError("The location is incomplete; try again.")
        return data


class OnlineForm(LocationForm):
    """Going online; in development the position can be typed or picked on the map."""

    def __init__(self, *args: Any, dev: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if dev:
            for name, label in (("lat", "Latitude"), ("lng", "Longitude")):
                self.fields[name].widget = forms.NumberInput(attrs={"step": "any"})
                self.fields[name].label = label


DECLINE_REASONS = [
    ("", "No reason"),
    ("Pay too low", "Pay too low"),
    ("Too far", "Too far"),
    ("Too many stops", "Too many stops"),
    ("Taking a break", "Taking a break"),
]


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(choices=DECLINE_REASONS, required=False, label="Why (optional)")


class PickupForm(LocationForm):
    """One pickup code per order of the trip (the store associate gives them)."""

    def __init__(self, *args: Any, stops: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_fields = []
        for stop in stops:
            name = f"code_{stop['order_id']}"
            self.fields[name] = forms.CharField(
                max_length=8,
                label=f"Pickup code for {stop['customer_first_name'] or 'order'} "
                f"(stop {stop['sequence']})",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "numeric",
                        "autocomplete": "off",
                        "autocapitalize": "characters",
                        "class": "code",
                    }
                ),
            )
            self.stop_fields.append((stop, name))

    def codes(self) -> dict[str, str]:
        """{order public id: code}"""
        return {
            str(stop["order_id"]): self.cleaned_data[name].strip()
            for stop, name in self.stop_fields
        }


class DeliverForm(LocationForm):
    """Proof of delivery; which parts are shown follows the order's requirements."""

    photo = forms.ImageField(
        required=False,
        label="Photo of the delivered order",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    signature_name = forms.CharField(
        max_length=200, required=False, label="Name of the person who signed"
    )
    pin = forms.CharField(
        max_length=8,
        required=False,
        label="Customer's PIN",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    id_checked = forms.BooleanField(
        required=False, label="I checked a photo ID: the recipient is 21 or over"
    )

    def __init__(self, *args: Any, requirements: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shown = {
            "photo": True,  # always welcome; required unless a signature is
            "signature_name": requirements.get("signature", False),
            "pin": requirements.get("pin", False),
            "id_checked": requirements.get("id_check", False),
        }
        for name, show in shown.items():
            if not show:
                del self.fields[name]
        if "photo" in self.fields and not requirements.get("photo", True):
            self.fields["photo"].label = "Photo of the delivered order (optional)"

    def clean_photo(self) -> Any:
        photo = self.cleaned_data.get("photo")
        if photo and photo.size > MAX_PHOTO_BYTES:
            raise forms.ValidationError("The photo is larger than 10 MB.")
        return photo


UNDELIVERABLE_REASONS = [
    ("Customer not available", "Customer not available"),
    ("Address not found", "Address not found"),
    ("Customer refused the order", "Customer refused the order"),
    ("Could not verify age or ID", "Could not verify age or ID"),
    ("Unsafe to deliver", "Unsafe to deliver"),
    ("Other", "Other (say below)"),
]


class UndeliverableForm(LocationForm):
    reason = forms.ChoiceField(choices=UNDELIVERABLE_REASONS, label="What happened")
    details = forms.CharField(
        max_length=200,
        required=False,
        label="Details",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reason") == "Other" and not (data.get("details") or "").strip():
            self.add_error("details", "Say what happened.")
        return data

    def reason_text(self) -> str:
        reason, details = self.cleaned_data["reason"], self.cleaned_data["details"].strip()
        return f"{reason}: {details}" if details else reason


class TripReasonForm(forms.Form):
    """The reason ops give when they reassign or cancel a trip (it goes in the audit trail)."""

    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded on the trip's events and sent with the order changes.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
