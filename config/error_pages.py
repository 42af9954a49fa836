"""Django's handler403: the admin's own page for staff under /admin/ (what was refused, their role, a way back),
the API's JSON error shape under /api/, and a plain page elsewhere."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults

# What an admin URL's name (…_<view>) asks to do, in words, for "You don't have permission to …".
_ADMIN_VIEWS = {
    "changelist": "see the {plural}",
    "add": "add {article} {name}",
    "change": "open this {name}",
    "delete": "delete this {name}",
    "history": "see this {name}'s history",
    "requeue": "requeue a {name}",
    "discard": "discard a {name}",
}


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action.", "code": "permission_denied"}, status=403
        )
    user = request.user
    if request.path.startswith("/admin/") and user.is_active and user.is_staff:
        context = {
            **admin.site.each_context(request),
            "title": "You don't have permission",
            "refused": _refused(request),
            "roles": ", ".join(user.groups.order_by("name").values_list("name", flat=True))
            or ("Superuser" if user.is_superuser else "none"),
            "back": _previous_page(request),
        }
        return render(request, "admin/403.html", context, status=403)
    return defaults.permission_denied(request, exception)


def _refused(request: HttpRequest) -> str:
    """'see the service API keys', 'add a segment': what the admin URL asked for, or 'open this page'."""
    match = request.resolver_match
    name = match.url_name if match and match.url_name else ""
    for view, words in _ADMIN_VIEWS.items():
        prefix = name.removesuffix(f"_{view}")
        if prefix == name or "_" not in prefix:
            continue
        app_label, model_name = prefix.rsplit("_", 1)  # app labels may hold "_", model names don't
        try:
            meta = apps.get_model(app_label, model_name)._meta
        except LookupError:
            break
        noun = str(meta.verbose_name)
        return words.format(plural=meta.verbose_name_plural, name=noun, article="an" if noun[:1] in "aeiou" else "a")
    return "open this page"


def _previous_page(request: HttpRequest) -> str:
    """Where the person came from, if it is a page of this site other than this one; else ""."""
    referer = request.headers.get("referer", "")
    here = request.build_absolute_uri()
    if referer and referer != here and url_has_allowed_host_and_scheme(referer, {request.get_host()}):
        return referer
    return ""
