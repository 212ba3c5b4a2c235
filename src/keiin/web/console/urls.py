from django.urls import path

from keiin.web.console import views
from keiin.web.partners import console_views as partners
from keiin.web.service import console_views as service

app_name = "console"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("applications/", partners.ApplicationListView.as_view(), name="applications"),
    path("applications/<int:pk>/", partners.ApplicationView.as_view(), name="application"),
    path("partners/", partners.PartnerListView.as_view(), name="partners"),
    path("partners/<int:pk>/", partners.PartnerView.as_view(), name="partner"),
    path("partners/<int:pk>/edit/", partners.PartnerEditView.as_view(), name="partner-edit"),
    path(
        "partners/<int:pk>/people/new/",
        partners.PartnerUserNewView.as_view(),
        name="partner-user-new",
    ),
    path(
        "partners/<int:pk>/people/<int:user_pk>/",
        partners.PartnerUserView.as_view(),
        name="partner-user",
    ),
    path("service/", service.ServiceHoursView.as_view(), name="service"),
    path("notices/", service.NoticeListView.as_view(), name="notices"),
    path("notices/new/", service.NoticeEditView.as_view(), name="notice-new"),
    path("notices/<int:pk>/", service.NoticeEditView.as_view(), name="notice"),
    path("notices/<int:pk>/mail/", service.NoticeMailView.as_view(), name="notice-mail"),
    path("tsa/", views.TsaIndexView.as_view(), name="tsa"),
    path("tsa/new/", views.AccountCreateView.as_view(), name="tsa-new"),
    path("tsa/revocations/", views.RevocationsView.as_view(), name="tsa-revocations"),
    # User IDs may contain "/"; "new" and "revocations" above take precedence.
    path("tsa/<path:user_id>/", views.AccountView.as_view(), name="tsa-account"),
]
