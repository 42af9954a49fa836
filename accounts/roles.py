"""The staff roles of the admin, as Django groups, and what each may do.

The groups are created by a migration; their permissions are kept in step
with this table after every `migrate` (models of later apps add theirs here).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

MARKETERS = "Marketers"
SUPPORT = "Support"
ADMINISTRATORS = "Administrators"

ALL_ACTIONS = ("view", "add", "change", "delete")

# role -> {"app_label.model": actions}
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MARKETERS: {
        # No devices (push tokens) and no shopper page: those are Support's (issue 17).
        "notifications.notification": ("view",),
        "message_templates.messagetemplate": ALL_ACTIONS,
        "message_templates.templatetranslation": ALL_ACTIONS,
        "events.triggerrule": ALL_ACTIONS,
        "events.event": ("view",),
        "events.waitingsend": ("view", "change"),
        "preferences.frequencycap": ("view",),  # global caps are an Administrator's setting
        "preferences.preference": ("view",),
        "campaigns.campaign": ("view", "add", "change"),
        "campaigns.campaignvariant": ALL_ACTIONS,
        "campaigns.campaignrun": ("view",),
        "audience.segment": ALL_ACTIONS,
        "audience.segmentcondition": ALL_ACTIONS,
        "audience.segmentmember": ALL_ACTIONS,
        "audience.shopperprofile": ("view",),
        # The analytics page (issue 20): charts of the hourly rollups, for all three roles.
        "analytics.hourlyrollup": ("view",),
    },
    SUPPORT: {
        "devices.device": ("view",),
        "notifications.notification": ("view",),
        "message_templates.messagetemplate": ("view",),
        "message_templates.templatetranslation": ("view",),
        "events.triggerrule": ("view",),
        "events.event": ("view",),
        "events.waitingsend": ("view", "change"),
        "preferences.frequencycap": ("view",),
        "preferences.preference": ("view",),
        "campaigns.campaign": ("view",),
        "campaigns.campaignvariant": ("view",),
        "campaigns.campaignrun": ("view",),
        "audience.segment": ("view",),
        "audience.segmentcondition": ("view",),
        "audience.segmentmember": ("view",),
        "audience.shopperprofile": ("view",),
        "notifications.delivery": ("view",),
        "notifications.faileddelivery": ("view",),
        "notifications.providerpause": ("view",),
        "analytics.hourlyrollup": ("view",),
    },
    ADMINISTRATORS: {
        "devices.device": ALL_ACTIONS,
        "message_templates.messagetemplate": ALL_ACTIONS,
        "message_templates.templatetranslation": ALL_ACTIONS,
        "events.triggerrule": ALL_ACTIONS,
        "events.event": ("view",),
        "events.waitingsend": ("view", "change"),
        "preferences.frequencycap": ALL_ACTIONS,
        "preferences.preference": ("view",),
        "campaigns.campaign": ALL_ACTIONS,
        "campaigns.campaignvariant": ALL_ACTIONS,
        "campaigns.campaignrun": ("view",),
        "audience.segment": ALL_ACTIONS,
        "audience.segmentcondition": ALL_ACTIONS,
        "audience.segmentmember": ALL_ACTIONS,
        "audience.shopperprofile": ("view",),
        "notifications.notification": ("view",),
        "notifications.delivery": ("view",),
        "notifications.faileddelivery": ("view", "change"),
        "notifications.providerpause": ("view", "delete"),
        "accounts.serviceapikey": ALL_ACTIONS,
        "auth.user": ALL_ACTIONS,
        "auth.group": ("view",),
        "django_celery_beat.periodictask": ALL_ACTIONS,
        "django_celery_beat.crontabschedule": ALL_ACTIONS,
        "django_celery_beat.intervalschedule": ALL_ACTIONS,
        "analytics.hourlyrollup": ("view",),
    },
}


def sync_roles(apps=global_apps) -> None:  # type: ignore[no-untyped-def]
    """Create the groups and give each exactly the permissions of ROLE_PERMISSIONS."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for app_config in apps.get_app_configs():
        # Permissions are normally created after migrate has finished; create
        # them now so a fresh database gets complete roles from its first run.
        # (Migration-state app configs carry no models module; the flag lets
        # create_permissions look at them.)
        if apps is not global_apps:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            wanted.extend(
                Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )
        group.permissions.set(wanted)
