"""Console forms: a new API key, a new webhook."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiin.web.api.models import ApiKey
from keiin.web.api.webhooks import EVENTS, WebhookError, check_url
from keiin.web.partners.models import Partner


def _partners_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label=_("Limit to these partners"),
        queryset=Partner.objects.all(),
        required=False,
        help_text=_("None chosen: every partner's contracts."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )


class ApiKeyForm(forms.Form):
    """A new API key: a name for the system that uses it, and an optional partner scope."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("The system that will use the key, e.g. “sales”; shown in the audit log."),
    )
    partners = _partners_field()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if ApiKey.objects.filter(name=name).exists():
            raise forms.ValidationError(_("An API key with this name already exists."))
        return name


class WebhookForm(forms.Form):
    """A new webhook: where to send, which events, which partners' contracts."""

    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("http:// or https:// only. Each delivery is a signed POST (docs/api.md)."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(e, e) for e in EVENTS],
        required=False,
        help_text=_("None chosen: every event."),
        widget=forms.CheckboxSelectMultiple,
    )
    partners = _partners_field()

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data["url"])
        except WebhookError:
            raise forms.ValidationError(_("Enter an http:// or https:// URL.")) from None
