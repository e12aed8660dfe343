from django.urls import path

from models_catalog import views

urlpatterns = [
    path("models/", views.models_page, name="models_page"),
]
