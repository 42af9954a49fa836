"""JSON input the rest of the code can trust: bounded nesting, and only text PostgreSQL can store.

Python's json module parses nested arrays by recursion: 3,000 `[` raised RecursionError, a 500. Below the
interpreter's limit, a deep document still reaches code that recurses over it (validation, json.dumps) with
little stack to spare. So a document is refused past MAX_DEPTH levels, with a 400.

PostgreSQL's text and jsonb refuse `\\u0000`, and a lone surrogate (`\\ud800`) is not text at all (it can't
even be encoded to UTF-8 for an answer): either in any string or key used to end in a 500 when stored or
echoed. So did a number such as 1e999, which Python reads as infinity and jsonb can't hold. They are refused
with a 400 naming where they are.

`check_json` walks a parsed document without recursion; the API's parser runs it on every body, and the
serializers' JSON fields run it again for callers that don't come through HTTP (the Kafka consumer).
"""

from __future__ import annotations

import math
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

MAX_DEPTH = 32  # levels of objects and arrays in a request body; business data needs a handful
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates (valid text has them only in pairs)
UNSTORABLE = "\\u0000 or a lone surrogate (\\ud800-\\udfff), which can't be stored"


class JSONInputError(ValueError):
    """A parsed JSON document the platform refuses; `path` names where (dotted, as the API's `errors`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class TooDeepError(JSONInputError):
    pass


def has_unstorable_text(text: str) -> bool:
    return UNSTORABLE_TEXT.search(text) is not None


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def check_json(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONInputError naming where `value` nests past `max_depth` or holds text or a number it can't store."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if has_unstorable_text(item):
                raise JSONInputError(path, f"Contains {UNSTORABLE}.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONInputError(path, "Is a number too large to store.")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise TooDeepError(path, f"Nested deeper than {max_depth} levels of objects and arrays.")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str) and has_unstorable_text(key):
                    # The key itself is not repeated in the answer: a lone surrogate can't be encoded.
                    raise JSONInputError(path, f"A key contains {UNSTORABLE}.")
                stack.append((child, _join(path, key), depth + 1))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with 400 what `check_json` refuses (and what is too deep to parse at all)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        try:
            check_json(data)
        except TooDeepError as exc:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels (at {exc.path}).") from None
        except JSONInputError as exc:
            raise ValidationError({exc.path or "non_field_errors": [exc.message]}) from None
        return data
