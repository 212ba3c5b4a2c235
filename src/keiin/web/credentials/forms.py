"""Forms of the certificate pages. PINs are digits (full-width digits accepted, normalised)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from keiin import custody
from keiin.pki.revocation import RevocationReason

_PIN_HELP = _("6 to 12 digits. Not a run (123456), a repetition (111111) or a common PIN.")


def _pin_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        max_length=64,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


def _check_new_pin(form: forms.Form, data: dict, field: str, confirm: str) -> None:
    """A PIN typed twice: both the same, and strong enough (normalised into ``data``)."""
    pin, again = data.get(field), data.get(confirm)
    if pin and again is not None and pin != again:
        form.add_error(confirm, _("The two PINs differ."))
    elif pin:
        try:
            data[field] = custody.check_pin_strength(pin)
        except custody.WeakPinError as exc:
            form.add_error(field, str(exc))


class RequestCertificateForm(forms.Form):
    """Set the PIN (twice) and acknowledge receipt under the current terms."""

    pin = _pin_field(_("PIN"), _PIN_HELP)
    pin_confirm = _pin_field(_("PIN (again)"))
    acknowledge = forms.BooleanField(
        label=_(
            "I set this PIN myself, I will keep it secret, and I acknowledge receipt of my "
            "signature certificate and its key under the terms of service (version %(version)s)."
        )
        % {"version": settings.KEIIN_TERMS_VERSION},
        required=True,
    )

    def clean(self) -> dict:
        data = super().clean()
        _check_new_pin(self, data, "pin", "pin_confirm")
        return data


class PinChangeForm(forms.Form):
    """Old PIN, new PIN twice."""

    old_pin = _pin_field(_("Current PIN"))
    new_pin = _pin_field(_("New PIN"), _PIN_HELP)
    new_pin_confirm = _pin_field(_("New PIN (again)"))

    def clean(self) -> dict:
        data = super().clean()
        _check_new_pin(self, data, "new_pin", "new_pin_confirm")
        return data


class SelfRevokeForm(forms.Form):
    """The signatory asks for revocation (leak, or no longer needed)."""

    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[
            (RevocationReason.KEY_COMPROMISE.value, _("My PIN may be known to someone else")),
            (RevocationReason.CESSATION_OF_OPERATION.value, _("I no longer need it")),
        ],
    )
    confirm = forms.BooleanField(
        label=_("Revoke my certificate now. This cannot be undone."), required=True
    )


class OperatorRevokeForm(forms.Form):
    """The operator revokes (e.g. a leak reported by phone): reason, invalidity date, note."""

    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[
            (RevocationReason.KEY_COMPROMISE.value, _("Key compromise (leak reported)")),
            (RevocationReason.AFFILIATION_CHANGED.value, _("Affiliation changed (left)")),
            (RevocationReason.SUPERSEDED.value, _("Superseded (details changed)")),
            (RevocationReason.CESSATION_OF_OPERATION.value, _("No longer needed")),
            (RevocationReason.PRIVILEGE_WITHDRAWN.value, _("Privilege withdrawn")),
            (RevocationReason.UNSPECIFIED.value, _("Unspecified")),
        ],
    )
    invalidity_date = forms.DateTimeField(
        label=_("Key known or suspected compromised since (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    note = forms.CharField(
        label=_("Note (how it was reported)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea,
    )
