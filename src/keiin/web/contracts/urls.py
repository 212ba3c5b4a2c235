"""Contract URLs (console and partner area); included under ``i18n_patterns``."""

from django.urls import path

from keiin.web.contracts import console_views as console
from keiin.web.contracts import views

app_name = "contracts"
urlpatterns = [
    path("console/contracts/", console.ContractListView.as_view(), name="console-list"),
    path("console/contracts/new/", console.ContractNewView.as_view(), name="console-new"),
    path(
        "console/contracts/new/<int:partner_pk>/",
        console.UploadCreateView.as_view(),
        name="console-new-upload",
    ),
    path(
        "console/contracts/new/<int:partner_pk>/template/",
        console.TemplateCreateView.as_view(),
        name="console-new-template",
    ),
    path(
        "console/contracts/<str:public_id>/",
        console.ContractDetailView.as_view(),
        name="console-detail",
    ),
    path(
        "console/contracts/<str:public_id>/v<int:number>/",
        console.ContractFileView.as_view(),
        name="console-file",
    ),
    path(
        "console/contracts/<str:public_id>/v<int:number>/download/",
        console.ContractDownloadView.as_view(),
        name="console-download",
    ),
    path("console/seal/", console.SealView.as_view(), name="console-seal"),
    path("p/<slug:slug>/contracts/", views.ContractListView.as_view(), name="partner-list"),
    path(
        "p/<slug:slug>/contracts/<str:public_id>/",
        views.ContractDetailView.as_view(),
        name="partner-detail",
    ),
    path(
        "p/<slug:slug>/contracts/<str:public_id>/document/",
        views.ContractFileView.as_view(),
        name="partner-file",
    ),
    path(
        "p/<slug:slug>/contracts/<str:public_id>/download/",
        views.ContractDownloadView.as_view(),
        name="partner-download",
    ),
]
