from django.urls import path

from events.api.views import EventIngestView

urlpatterns = [path("events/", EventIngestView.as_view(), name="events-ingest")]
