from django.urls import path

from keiin.web.repository import views

app_name = "repository"
urlpatterns = [
    path("", views.home, name="home"),
    path("repository/", views.index, name="index"),
]
