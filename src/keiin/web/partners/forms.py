"""Forms of the public application, the partner login and the operator's partner pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from keiin.web.accounts.models import Role
from keiin.web.partners.models import PARTNER_ROLES, Partner

MAX_PEOPLE = 30


class ApplicationForm(forms.Form):
    """The company part of an application, with the acceptance of the terms."""

    name_ja = forms.CharField(label=_("Company name (Japanese)"), max_length=200)
    name_en = forms.CharField(
        label=_("Company name (English)"),
        max_length=200,
        required=False,
        help_text=_("Letters and digits; used in your login URL and login IDs."),
    )
    address = forms.CharField(label=_("Address"), max_length=300)
    representative_name = forms.CharField(label=_("Representative"), max_length=150)
    representative_title = forms.CharField(
        label=_("Representative's title"),
        max_length=100,
        help_text=_("For example: Representative Director."),
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=150)
    contact_email = forms.EmailField(
        label=_("Contact e-mail address"),
        help_text=_("We send the result of the review and later notices here."),
    )
    contact_phone = forms.CharField(label=_("Contact telephone"), max_length=40, required=False)
    accept_terms = forms.BooleanField(label="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accept_terms"].label = _(
            "I have read and accept the terms of service (version %(version)s)."
        ) % {"version": settings.KEIIN_TERMS_VERSION}
        self.fields["accept_terms"].error_messages["required"] = _(
            "You can apply only after accepting the terms of service."
        )


class PersonForm(forms.Form):
    """One user or signatory; a row left without name and e-mail address is ignored."""

    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail address"), required=False)
    role = forms.ChoiceField(
        label=_("Role"), choices=PARTNER_ROLES, initial=Role.PARTNER_USER, required=False
    )

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", None) or {}
        return not data.get("name") and not data.get("email") and not self.errors.get("email")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("name") or data.get("email") or self.errors.get("email"):
            if not data.get("name"):
                self.add_error("name", _("Give the person's name."))
            if not data.get("email") and not self.errors.get("email"):
                self.add_error("email", _("Give the person's e-mail address."))
            if not data.get("role") and not self.errors.get("role"):
                self.add_error("role", _("Choose the person's role."))
        return data


class BasePersonFormSet(forms.BaseFormSet):
    """At least one person, at least one signatory, each e-mail address once."""

    def clean(self) -> None:
        if any(self.errors):
            return
        people = self.people()
        if not people:
            raise ValidationError(_("Name at least one user or signatory."))
        if not any(p["role"] == Role.SIGNATORY for p in people):
            raise ValidationError(
                _("Name at least one signatory: only signatories can sign contracts.")
            )
        emails = [p["email"].casefold() for p in people]
        if len(set(emails)) != len(emails):
            raise ValidationError(_("Each person needs their own e-mail address."))

    def people(self) -> list[dict[str, Any]]:
        """The filled rows (call after validation)."""
        return [
            {k: form.cleaned_data[k] for k in ("name", "email", "role")}
            for form in self.forms
            if not form.is_blank()
        ]


def person_formset(
    data: QueryDict | None = None, *, extra: int = 3, initial: list[dict] | None = None
) -> BasePersonFormSet:
    """The people part of an application: ``extra`` empty rows after ``initial``."""
    cls = forms.formset_factory(
        PersonForm,
        formset=BasePersonFormSet,
        extra=extra,
        max_num=MAX_PEOPLE,
        validate_max=True,
        absolute_max=MAX_PEOPLE,
    )
    return cls(data, initial=initial, prefix="people")


def rows_from_post(data: QueryDict) -> list[dict[str, str]]:
    """The people rows typed so far (for "more rows" without losing them)."""
    try:
        total = min(int(data.get("people-TOTAL_FORMS", "0")), MAX_PEOPLE)
    except ValueError:
        total = 0
    rows = []
    for index in range(total):
        row = {k: data.get(f"people-{index}-{k}", "") for k in ("name", "email", "role")}
        if row["name"] or row["email"]:
            rows.append(row)
    return rows


class LoginForm(forms.Form):
    login_id = forms.CharField(
        label=_("Login ID"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("One-time password"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
        help_text=_("The 6 digits in the e-mail we have just sent you."),
    )


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


# --------------------------------------------------------------------------- console


class ApproveForm(forms.Form):
    login_slug = forms.CharField(
        label=_("Login URL name"),
        max_length=50,
        required=False,
        help_text=_("Empty: made from the English name and a random part."),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class RequestDocumentsForm(forms.Form):
    message = forms.CharField(
        label=_("Missing documents"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent to the applicant; the application stays open."),
    )


class PartnerEditForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = [
            "name_ja",
            "name_en",
            "address",
            "representative_name",
            "representative_title",
            "contact_name",
            "contact_email",
            "contact_phone",
            "language",
            "login_slug",
        ]

    def clean_login_slug(self) -> str:
        return self.cleaned_data["login_slug"].strip().lower()


class PartnerStatusForm(forms.Form):
    """Restrict, refuse or reactivate: the reason is recorded and sent to the partner."""

    status = forms.ChoiceField(label=_("New status"), choices=Partner.Status.choices)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to restrict or refuse. Sent to the partner's contact address."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("status") != Partner.Status.ACTIVE and not data.get("reason", "").strip():
            self.add_error("reason", _("Give the reason."))
        return data


class PartnerUserForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=PARTNER_ROLES)


class RemoveUserForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("For example: left the company."),
    )
    confirm = forms.BooleanField(
        label=_("Disable this person's login (their certificate will be revoked).")
    )
