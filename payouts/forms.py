"""Ops forms: every money decision asks for a reason (and the form never carries a status)."""

import uuid
from decimal import Decimal, InvalidOperation

from django import forms


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, label="Reason"
    )


class DecisionForm(ReasonForm):
    approve = forms.TypedChoiceField(
        choices=[("1", "Approve"), ("0", "Reject")],
        coerce=lambda v: v == "1",
        label="Decision",
    )


def _cents(value: str) -> int:
    try:
        amount = Decimal(value.replace("$", "").replace(",", "").strip())
    except InvalidOperation as exc:
        raise forms.ValidationError("Enter an amount such as 12.50 or -4.00.") from exc
    if amount != amount.quantize(Decimal("0.01")):
        raise forms.ValidationError("At most two decimals.")
    return int(amount * 100)


class AdjustmentForm(forms.Form):
    amount = forms.CharField(
        label="Amount", help_text="In the account's currency; negative takes money back."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text="The driver sees it on their statement.",
    )
    key = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def clean_amount(self) -> int:
        cents = _cents(self.cleaned_data["amount"])
        if cents == 0:
            raise forms.ValidationError("The amount cannot be zero.")
        return cents


class TipReviewRequestForm(forms.Form):
    order_id = forms.IntegerField(min_value=1, label="Order id")
    new_tip = forms.CharField(label="New tip", help_text="Lower than the current tip.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)

    def clean_new_tip(self) -> int:
        cents = _cents(self.cleaned_data["new_tip"])
        if cents < 0:
            raise forms.ValidationError("A tip cannot be negative.")
        return cents


class TaxYearForm(forms.Form):
    year = forms.IntegerField(min_value=2000, max_value=2100)
