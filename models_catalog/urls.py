from django.urls import path

from models_catalog import views

urlpatterns = [
    path("models/", views.models_page, name="models_page"),
    # Slugs contain a slash (openai/gpt-4o).
    path("models/<path:slug>/", views.model_detail, name="model_detail"),
]
