from django.urls import path

from analytics import views

urlpatterns = [
    path("analytics/", views.analytics_page, name="analytics_page"),
]
