from django.urls import path

from campaigns.consumers import CampaignProgressConsumer

websocket_urlpatterns = [
    path("ws/campaigns/<int:campaign_id>/progress/", CampaignProgressConsumer.as_asgi()),
]
