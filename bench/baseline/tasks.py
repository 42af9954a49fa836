"""The baseline's one task: django-push-notifications' bulk send to a chunk of FCM devices."""

from celery import shared_task
from push_notifications.models import GCMDevice


@shared_task(name="baseline.send_to_devices", acks_late=True)
def send_to_devices(device_ids: list[int], title: str, body: str) -> int:
    GCMDevice.objects.filter(pk__in=device_ids).send_message(body, extra={"title": title})
    return len(device_ids)
