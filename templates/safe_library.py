"""The only tags and filters a message template may use.

Django's default set includes tags that read files ({% include %}, {% extends %}),
load other libraries ({% load %}) or dump the context and every loaded module
({% debug %}). A marketer's template gets the text-shaping ones only.
"""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.filters.update(defaultfilters.register.filters)
