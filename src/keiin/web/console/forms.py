"""Console forms; the TSA services check everything else and explain refusals."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from keiin.web.console import models as throttle
from keiin.web.timestamping.models import TsaPlan

_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class StaffLoginForm(AuthenticationForm):
    """Login for active operator staff only, with a lockout per login ID."""

    error_messages = {
        "invalid_login": _(
            "The login ID or password is incorrect, or this account cannot use the console."
        ),
        "inactive": _(
            "The login ID or password is incorrect, or this account cannot use the console."
        ),
        "locked": _("Too many failed attempts for this login ID. Try again in 15 minutes."),
    }

    def clean(self):
        login_id = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if login_id is None or not password:
            return self.cleaned_data
        if throttle.is_locked(login_id):
            raise ValidationError(self.error_messages["locked"], code="locked")
        user = authenticate(self.request, username=login_id, password=password)
        if user is None or not user.is_active or not user.is_staff:
            throttle.record_failure(login_id)
            raise self.get_invalid_login_error()
        throttle.record_success(login_id)
        self.user_cache = user
        return self.cleaned_data


class MonthForm(forms.Form):
    month = forms.RegexField(
        label=_("Month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, max_length=7
    )

    def year_month(self) -> tuple[int, int] | None:
        value = self.cleaned_data.get("month") if self.is_valid() else None
        if not value:
            return None
        year, month = value.split("-")
        return int(year), int(month)


class AccountCreateForm(forms.Form):
    user_id = forms.CharField(label=_("User ID"), max_length=64)
    password1 = forms.CharField(
        label=_("Password"),
        min_length=12,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters."),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    organization = forms.CharField(label=_("Organisation"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail address"), required=False)
    plan = forms.ModelChoiceField(
        label=_("Plan"),
        queryset=TsaPlan.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label=_("(none)"),
    )
    quota = forms.IntegerField(
        label=_("Yearly quota"),
        min_value=0,
        required=False,
        help_text=_("Tokens per contract year; overrides the plan. Empty: the plan's quota."),
    )
    start = forms.DateField(
        label=_("Start of service"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: today."),
    )
    ip_allowlist = forms.CharField(
        label=_("IP allow-list"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One address or network (CIDR) per line; empty: any address."),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") is not None:
            if data["password1"] != data["password2"]:
                self.add_error("password2", _("The two passwords differ."))
        return data


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class ResumeForm(forms.Form):
    pass


class TerminateForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
    confirm = forms.BooleanField(
        label=_("I understand that a terminated account cannot be reopened.")
    )


class NoticeForm(forms.Form):
    on = forms.DateField(
        label=_("Notice given on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: today."),
    )


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)


class ApiTokenRevokeForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)


class RevokeSerialForm(forms.Form):
    serial = forms.CharField(
        label=_("Serial number"),
        max_length=200,
        help_text=_("Hexadecimal; colons and spaces are ignored."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)


class RevokeWindowForm(forms.Form):
    start = forms.DateTimeField(
        label=_("From (inclusive)"),
        input_formats=_DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    end = forms.DateTimeField(
        label=_("Until (exclusive)"),
        input_formats=_DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data
