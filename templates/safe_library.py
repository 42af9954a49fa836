"""The only tags and filters a message template may use, and what one render may cost.

Django's default set includes tags that read files ({% include %}, {% extends %}),
load other libraries ({% load %}) or dump the context and every loaded module
({% debug %}). A marketer's template gets the text-shaping ones only.

Django templates have no resource limits of their own: `{{ ""|ljust:"200000000" }}`
built a 200 MB string, and two nested loops over a padded string ran for an hour.
As Liquid does (render_length_limit, render_score_limit), each render gets a budget
(`render_budget()`, entered by templates.rendering for every field):

- every filter's result is at most MAX_CHARS characters (or list items), and the
  filters whose result size the caller chooses (the padding widths of ljust, rjust
  and center, floatformat's and stringformat's digits, join's separator) refuse
  before building it;
- every tag or variable rendered and every loop iteration costs a step, at most
  MAX_STEPS (a {% for %} charges its length before it starts, so nested loops stop
  at once);
- what each node outputs counts towards MAX_CHARS (a nested node's text is counted
  again by each enclosing one: a conservative bound, far above what a push needs).

Going over raises RenderLimitError; the budget remembers it, so that a condition in
{% if %} (whose operators swallow exceptions) can't hide it.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from django.template import Library, Node, defaultfilters, defaulttags
from django.template.base import Parser, Template, Token

MAX_CHARS = 20_000  # a push's title is at most 200 characters and its body 1,000: generous for whitespace and data
MAX_STEPS = 10_000  # tags, variables and loop iterations in one render
MAX_DIGITS = 100  # floatformat's precision and a number's magnitude it formats (digits either side of the point)

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
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


class RenderLimitError(Exception):
    """A render went over its budget; the message says which limit, for the marketer."""


class RenderBudget:
    """What one render has spent so far; the first limit crossed is kept as `exceeded`."""

    def __init__(self) -> None:
        self.steps = 0
        self.chars = 0
        self.exceeded = ""

    def fail(self, reason: str) -> None:
        self.exceeded = self.exceeded or reason
        raise RenderLimitError(self.exceeded)

    def charge(self, *, steps: int = 0, chars: int = 0) -> None:
        if self.exceeded:
            raise RenderLimitError(self.exceeded)
        self.steps += steps
        self.chars += chars
        if self.steps > MAX_STEPS:
            self.fail(f"it takes more than {MAX_STEPS:,} steps (tags, variables and loop iterations)")
        if self.chars > MAX_CHARS:
            self.fail(f"it produces more than {MAX_CHARS:,} characters")


_BUDGET: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar("render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[RenderBudget]:
    """A fresh budget for the renders inside the block (templates.rendering enters one per field)."""
    budget = RenderBudget()
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _current() -> RenderBudget:
    # Outside render_budget() (e.g. a template rendered by other code) each call gets a budget of its own, so the
    # per-call limits on filters and loops still hold.
    return _BUDGET.get() or RenderBudget()


def _refuse(reason: str) -> None:
    _current().fail(reason)


def _size(value: Any) -> int:
    """About how many characters `value` prints as: strings' lengths plus one per item, nested; stops past the limit.

    A list made by filters may hold the same long value many times (`l|add:l` doubles it), so its items count too.
    """
    total, stack = 0, [value]
    while stack and total <= MAX_CHARS:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
    return total


def limit_nodes(template: Template) -> Template:
    """Make every node of a compiled template charge the budget: a step per render, its output's length."""
    for node in template.nodelist.get_nodes_by_type(Node):
        # Instance attribute over the class's method: NodeList and every block tag render children through it.
        node.render_annotated = functools.partial(_charged, node.render_annotated)
    return template


def _charged(render: Callable[[Any], str], context: Any) -> str:
    budget = _current()
    budget.charge(steps=1)
    output = render(context)
    budget.charge(chars=len(output))
    return output


# Filters -------------------------------------------------------------------------------------------------------------


def _capped(name: str, func: Callable[..., Any], check: Callable[..., None] | None = None) -> Callable[..., Any]:
    """`func` with its arguments checked first (if `check`) and its result's size checked after."""

    @functools.wraps(func)  # keeps is_safe, needs_autoescape…, and the signature Django checks arguments against
    def filter_(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            check(*args)
        result = func(*args, **kwargs)
        if _size(result) > MAX_CHARS:
            _refuse(f"the filter {name} makes more than {MAX_CHARS:,} characters")
        return result

    return filter_


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        return None


def _check_width(name: str) -> Callable[..., None]:
    def check(value: Any, arg: Any = None) -> None:
        width = _as_int(arg)
        if width is not None and width > MAX_CHARS:
            _refuse(f"{name} to a width of {width:,} characters; at most {MAX_CHARS:,}")

    return check


def _check_join(value: Any, arg: Any = "") -> None:
    if isinstance(value, list | tuple) and value:
        size = _size(value) + len(str(arg)) * (len(value) - 1)
        if size > MAX_CHARS:
            _refuse(f"join makes {size:,} characters; at most {MAX_CHARS:,}")


def _check_stringformat(value: Any, arg: Any = "") -> None:
    # "%0200000000d" pads to 200 MB: any width or precision over the limit is refused.
    for digits in re.findall(r"\d+", str(arg)):
        if len(digits) > 6 or int(digits) > MAX_CHARS:
            _refuse(f"stringformat with a width or precision of {digits[:20]}; at most {MAX_CHARS:,}")


def _check_floatformat(value: Any, arg: Any = -1) -> None:
    # floatformat writes out every digit: of its precision, and of the number (Decimal("1e200000000") is 9 characters
    # of data and 200 million digits of output).
    precision = re.sub(r"[^0-9]", "", str(arg))
    if len(precision) > 3 or (precision and int(precision) > MAX_DIGITS):
        _refuse(f"floatformat to {precision[:20]} decimal places; at most {MAX_DIGITS}")
    try:
        number = Decimal(str(value)) if not isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return  # floatformat renders what isn't a number as ""
    if number.is_finite() and abs(number.adjusted()) > MAX_DIGITS:
        _refuse(f"floatformat of a number with {abs(number.adjusted()):,} digits; at most {MAX_DIGITS}")


_CHECKS: dict[str, Callable[..., None]] = {
    "ljust": _check_width("ljust"),
    "rjust": _check_width("rjust"),
    "center": _check_width("center"),
    "join": _check_join,
    "stringformat": _check_stringformat,
    "floatformat": _check_floatformat,
}

# Debug output and HTML lists, of no use in a push, whose size grows with nested data.
_LEFT_OUT_FILTERS = ("pprint", "unordered_list")


# Tags ----------------------------------------------------------------------------------------------------------------


class _ChargedSequence:
    """A {% for %}'s sequence that charges one step per item before the loop starts."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        values = self.expression.resolve(context, ignore_failures=ignore_failures)
        if values is not None and not hasattr(values, "__len__"):
            values = list(values)  # as ForNode itself does
        _current().charge(steps=len(values) if values is not None else 0)
        return values

    def __str__(self) -> str:
        return str(self.expression)


def do_for(parser: Parser, token: Token) -> Node:
    """Django's {% for %}, its iterations counted against the budget."""
    node = defaulttags.do_for(parser, token)
    node.sequence = _ChargedSequence(node.sequence)
    return node


register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.tag("for", do_for)
register.filters.update(
    {
        name: _capped(name, func, _CHECKS.get(name))
        for name, func in defaultfilters.register.filters.items()
        if name not in _LEFT_OUT_FILTERS
    }
)
