from celery import shared_task

from devices import services


@shared_task(name="devices.tasks.deactivate_stale_devices")
def deactivate_stale_devices() -> int:
    """Beat: deactivate devices the app has not refreshed within DEVICE_STALE_AFTER_DAYS."""
    return services.deactivate_stale_devices()
