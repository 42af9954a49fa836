"""Which translation of a notification a device gets, by its locale."""

from __future__ import annotations

from collections.abc import Mapping


def pick_translation(translations: Mapping[str, Mapping[str, str]], locale: str) -> Mapping[str, str] | None:
    """The exact locale, else its language, else any region of that language; None means the default texts.

    Keys are lower case ('pt-br'); a device's locale may be in any case ('pt-BR').
    """
    if not translations or not locale:
        return None
    wanted = locale.lower()
    if wanted in translations:
        return translations[wanted]
    language = wanted.split("-", 1)[0]
    if language in translations:
        return translations[language]
    for key, texts in translations.items():
        if key.split("-", 1)[0] == language:
            return texts
    return None
