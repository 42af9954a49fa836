"""The baseline's one task: django-push-notifications' bulk send to a chunk of one kind of device."""

from celery import shared_task
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

MODELS = {"fcm": GCMDevice, "apns": APNSDevice, "webpush": WebPushDevice}


@shared_task(name="baseline.send_to_devices", acks_late=True)
def send_to_devices(kind: str, device_ids: list[int], title: str, body: str) -> int:
    devices = MODELS[kind].objects.filter(pk__in=device_ids)
    if kind == "fcm":
        devices.send_message(body, extra={"title": title})
    elif kind == "apns":
        devices.send_message({"title": title, "body": body})
    else:
        devices.send_message(f'{{"title": "{title}", "body": "{body}"}}')
    return len(device_ids)
