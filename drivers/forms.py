"""Forms of the driver portal and of the ops actions in the admin. Parsing only: the rules
live in services."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from drivers.models import Document, Driver, Vehicle
from orders import selectors as order_selectors
from spark.lib import clock

AGE_CHOICES = [("18_20", "18 to 20"), ("21_plus", "21 or older")]


def _market_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=order_selectors.market_list(), label="Where you will drive", empty_label=None
    )


class SignupForm(forms.Form):
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(label="E-mail", max_length=150)
    phone = forms.CharField(max_length=32, label="Mobile phone")
    home_market = forms.ModelChoiceField(queryset=None)  # set in __init__ (lazy queryset)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_market"] = _market_field()
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.fields["phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")
        for name in ("password1", "password2"):
            self.fields[name].widget.attrs.update(autocomplete="new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The passwords differ.")
        elif p1:
            try:
                password_validation.validate_password(p1)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class LoginForm(AuthenticationForm):
    """Django's form (it passes the request to authenticate(), which django-axes needs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "E-mail"
        self.fields["username"].widget.attrs.update(autocomplete="email", inputmode="email")

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class ProfileForm(forms.Form):
    phone = forms.CharField(max_length=32, label="Mobile phone")
    home_market = forms.ModelChoiceField(queryset=None)
    age_bracket = forms.ChoiceField(choices=AGE_CHOICES, widget=forms.RadioSelect, label="Your age")
    age_confirm = forms.BooleanField(
        required=False,
        label="I confirm my age above is true. Orders with alcohol need a driver aged 21 or "
        "older; a false statement ends my account.",
    )
    max_pickup_km = forms.FloatField(
        required=False,
        min_value=1,
        max_value=80,
        label="Furthest drive to a store (km)",
        help_text="Leave empty for the market's default.",
    )
    min_pay_per_mile = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("20"),
        decimal_places=2,
        label="Lowest pay per mile you accept ($)",
        help_text="Offers below it are not sent to you. Empty: any pay.",
    )
    no_alcohol = forms.BooleanField(required=False, label="Never offer me orders with alcohol")

    def __init__(self, *args: Any, driver: Driver, **kwargs: Any) -> None:
        self.driver = driver
        initial = {
            "phone": driver.phone,
            "home_market": driver.home_market_id,
            "age_bracket": ""
            if driver.age_attested_at is None
            else ("21_plus" if driver.is_21_plus else "18_20"),
            "max_pickup_km": driver.max_pickup_km,
            "min_pay_per_mile": Decimal(driver.min_pay_cents_per_mile) / 100 or None,
            "no_alcohol": driver.no_alcohol,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["home_market"] = _market_field()
        self.fields["phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")

    @property
    def age_changed(self) -> bool:
        return self.cleaned_data.get("age_bracket") != self.initial["age_bracket"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("age_bracket") and self.age_changed and not data.get("age_confirm"):
            self.add_error("age_confirm", "Confirm your age statement.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "phone": data["phone"],
            "home_market_id": data["home_market"].id,
            "is_21_plus": data["age_bracket"] == "21_plus",
            "age_attested": self.age_changed,
            "max_pickup_km": data.get("max_pickup_km"),
            "min_pay_cents_per_mile": int((data.get("min_pay_per_mile") or 0) * 100),
            "no_alcohol": data["no_alcohol"],
        }


class VehicleForm(forms.Form):
    vehicle_type = forms.ChoiceField(choices=Vehicle.Type.choices, label="Type")
    make = forms.CharField(max_length=50)
    model = forms.CharField(max_length=50)
    year = forms.IntegerField(min_value=1980)
    cargo_capacity_units = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=200,
        label="Cargo space (totes or bags)",
        help_text="Leave empty for a typical vehicle of its type.",
    )
    plate = forms.CharField(max_length=16, required=False, label="Licence plate")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].max_value = clock.now().year + 1
        self.fields["year"].widget.attrs.update(inputmode="numeric")


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label="Photo or PDF",
        help_text="JPEG, PNG or PDF, up to 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )
    expires_on = forms.DateField(
        label="Expiry date", widget=forms.DateInput(attrs={"type": "date"})
    )
    licence_number = forms.CharField(max_length=32, required=False, label="Licence number")

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind
        if kind == Document.Kind.LICENCE:
            self.fields["licence_number"].required = True
            self.fields["licence_number"].widget.attrs.update(autocomplete="off")
        else:
            del self.fields["licence_number"]


class ScreeningConsentForm(forms.Form):
    consent = forms.BooleanField(
        label="I agree that Spark's screening partner may run a background check on me. I "
        "will give my details and sign the disclosure on the partner's secure page.",
    )


class AppealForm(forms.Form):
    text = forms.CharField(
        min_length=20,
        max_length=5000,
        label="Why should this decision change?",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Tell us what happened and anything we may not know. 20 to 5,000 characters.",
    )


class ReasonForm(forms.Form):
    """The intermediate page of an admin action: every decision carries a reason."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    evidence = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What the decision rests on: ticket numbers, reports, photos on file.",
    )

    def __init__(self, *args: Any, needs_evidence: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].required = needs_evidence
        if not needs_evidence:
            del self.fields["evidence"]
