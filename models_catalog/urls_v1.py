"""The OpenAI-compatible surface, mounted at /v1/ by yunxin/urls.py."""

from django.urls import path

from models_catalog import api

urlpatterns = [
    path("models", api.OpenAIModelListView.as_view(), name="v1_models"),
    path("models/<path:slug>", api.OpenAIModelDetailView.as_view(), name="v1_model_detail"),
]
