"""Forms of the contract pages (console and partner area)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keiin.web.accounts.models import Role, User
from keiin.web.contracts.models import Contract
from keiin.web.contracts.services import MAX_SIGNATORIES
from keiin.web.credentials.forms import RequestCertificateForm, _pin_field
from keiin.web.partners.models import Partner

#: Signatory choices shown on the form (the service accepts up to MAX_SIGNATORIES).
FORM_SIGNATORIES = min(5, MAX_SIGNATORIES)


class PartnerChoiceForm(forms.Form):
    """Step 1 of a new contract: the counterparty."""

    partner = forms.ModelChoiceField(
        label=_("Counterparty"), queryset=Partner.objects.filter(status=Partner.Status.ACTIVE)
    )


class ContractForm(forms.Form):
    """Step 2: what the contract is, who signs in which order, deadlines, and the file."""

    title = forms.CharField(label=_("Title"), max_length=200)
    contract_date = forms.DateField(
        label=_("Contract date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(
        label=_("Amount (yen)"), required=False, min_value=0, max_digits=15, decimal_places=0
    )
    starts_on = forms.DateField(
        label=_("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sign_by = forms.DateTimeField(
        label=_("Sign by"),
        required=False,
        help_text=_("Default: 14 days from now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    retention_until = forms.DateField(
        label=_("Keep until"),
        required=False,
        help_text=_("Default: 10 years after the end date (or the contract date)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    note = forms.CharField(
        label=_("Internal note"), required=False, max_length=2000, widget=forms.Textarea
    )

    def __init__(self, *args: Any, partner: Partner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partner = partner
        people = User.objects.filter(partner=partner, role=Role.SIGNATORY, is_active=True)
        for position in range(1, FORM_SIGNATORIES + 1):
            self.fields[f"signatory_{position}"] = forms.ModelChoiceField(
                label=_("Signatory %(n)d") % {"n": position},
                queryset=people,
                required=position == 1,
            )

    def signatory_fields(self) -> list[forms.BoundField]:
        """The ordered signatory selects (for the template)."""
        return [self[f"signatory_{i}"] for i in range(1, FORM_SIGNATORIES + 1)]

    def signatories(self) -> list[User]:
        """The chosen signatories in order (gaps skipped)."""
        chosen = []
        for position in range(1, FORM_SIGNATORIES + 1):
            user = self.cleaned_data.get(f"signatory_{position}")
            if user is not None:
                chosen.append(user)
        return chosen

    def clean(self) -> dict:
        data = super().clean()
        ids = [u.pk for u in self.signatories()]
        if len(ids) != len(set(ids)):
            raise forms.ValidationError(_("A signatory is listed twice."))
        sign_by = data.get("sign_by")
        if sign_by is not None and sign_by <= timezone.now():
            self.add_error("sign_by", _("The deadline must be in the future."))
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("The end date is before the start date."))
        return data


class UploadForm(ContractForm):
    """A contract from an uploaded PDF."""

    file = forms.FileField(label=_("Contract PDF"))
    allow_signed = forms.BooleanField(
        label=_("The PDF is already signed (keep its signatures)"), required=False
    )


class TemplateForm(ContractForm):
    """A contract generated from Keiin's template (Japanese text)."""

    body = forms.CharField(
        label=_("Contract text"),
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_("One clause per paragraph; a blank line separates paragraphs."),
    )


class SearchForm(forms.Form):
    """Search by the Electronic Books Preservation Act's keys: date, amount, counterparty."""

    q = forms.CharField(label=_("Title or reference"), required=False, max_length=200)
    counterparty = forms.CharField(label=_("Counterparty"), required=False, max_length=200)
    date_from = forms.DateField(
        label=_("Contract date from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount_min = forms.DecimalField(
        label=_("Amount from"), required=False, min_value=0, max_digits=15, decimal_places=0
    )
    amount_max = forms.DecimalField(
        label=_("to"), required=False, min_value=0, max_digits=15, decimal_places=0
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *Contract.Status.choices]
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The range is reversed."))
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and high < low:
            self.add_error("amount_max", _("The range is reversed."))
        return data


class SealForm(forms.Form):
    """A contract manager seals the contract with the organisation seal's PIN."""

    pin = _pin_field(_("Organisation seal PIN"))
    confirm = forms.BooleanField(
        label=_("I have checked the document and sign it for the operator."), required=True
    )


class SignForm(forms.Form):
    """The signatory signs with their PIN, after reading the whole document."""

    pin = _pin_field(_("PIN"))
    read = forms.BooleanField(
        label=_("I have read the whole document and agree to its contents."), required=True
    )


class DeclineForm(forms.Form):
    """The signatory declines, with a reason."""

    reason = forms.CharField(
        label=_("Why do you decline?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CancelForm(forms.Form):
    """Operator staff cancel a contract, with a reason."""

    reason = forms.CharField(
        label=_("Reason for cancelling"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class SealCreateForm(RequestCertificateForm):
    """Create the organisation seal: its own PIN (shared by the contract managers)."""


def to_aware(value: dt.datetime | None) -> dt.datetime | None:
    """A form datetime in the current time zone."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value
