"""The bot's own words in the person's language: gettext catalogs read with Babel.

A user-facing sentence is made with :func:`t` (or :func:`tn` when it has a count): a
:class:`Message`, a ``str`` whose value is the English sentence (so code and tests that
compare, log or measure it see English), carrying its message id and parameters. The
sentence is put in the person's language by :func:`localize` when it is posted, with the
locale the platform gave (:func:`locale_for` maps a platform's tag to a shipped catalog); a
plain ``str`` (Gloo's answer, a name) passes through unchanged. Gloo's answers are never
translated: Gloo answers in the question's language.

The catalogs are ``core/locale/<locale>/LC_MESSAGES/gloo_bots.po`` (the template,
``core/locale/gloo_bots.pot``, is what extraction of :func:`t` and :func:`tn` from the
source gives; ``tests/core/test_i18n.py`` checks both), read with
:func:`babel.messages.pofile.read_po` and compiled in memory once per locale: no ``.mo``
files. Plurals follow the catalog header pinned to ``nplurals=2; plural=(n != 1)`` (CLDR
gives Spanish and Portuguese a third form for large round numbers, which our sentences do
not need). Numbers in parameters are formatted for the locale
(:func:`babel.numbers.format_decimal`).
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT_LOCALE",
    "DOMAIN",
    "LOCALES",
    "PLURAL_FORMS",
    "Message",
    "locale_for",
    "localize",
    "t",
    "tn",
]

DOMAIN: Final = "gloo_bots"
DEFAULT_LOCALE: Final = "en"
#: The shipped catalogs besides English (the source language).
LOCALES: Final = ("es", "pt_BR")
#: The plural rule of every shipped catalog (see the module's docstring).
PLURAL_FORMS: Final = "nplurals=2; plural=(n != 1);"
LOCALE_DIR: Final = Path(__file__).parent / "locale"


class Message(str):
    """A user-facing sentence: its value is the English text; ``msgid`` (and ``plural`` and
    ``number`` for :func:`tn`) and ``params`` let :func:`localize` say it in another language.

    Like any ``str`` operation, joining or slicing a Message gives a plain ``str`` (English
    only): build the whole sentence with one :func:`t`, passing the parts as parameters.
    """

    msgid: str
    plural: str | None
    number: int | None
    params: dict[str, str | int | float]

    def __new__(
        cls,
        msgid: str,
        params: dict[str, str | int | float],
        *,
        plural: str | None = None,
        count: int | None = None,
    ) -> Message:
        template = msgid if plural is None or count == 1 else plural
        shown = {name: _param(value, DEFAULT_LOCALE) for name, value in params.items()}
        message = super().__new__(cls, template.format(**shown) if params else template)
        message.msgid = msgid
        message.plural = plural
        message.number = count
        message.params = params
        return message

    def __reduce__(self) -> tuple[object, ...]:  # pragma: no cover - pickling keeps the id
        return (_rebuild, (self.msgid, self.params, self.plural, self.number))


def _rebuild(
    msgid: str, params: dict[str, str | int | float], plural: str | None, count: int | None
) -> Message:  # pragma: no cover - see Message.__reduce__
    return Message(msgid, params, plural=plural, count=count)


def t(msgid: str, /, **params: str | int | float) -> Message:
    """The marker of a user-facing sentence: ``msgid`` is the English text, with
    ``{name}`` fields filled from ``params`` (a parameter may be a :class:`Message`)."""
    return Message(msgid, params)


def tn(singular: str, plural: str, count: int, /, **params: str | int | float) -> Message:
    """A user-facing sentence that depends on ``count`` (also the ``{count}`` field)."""
    return Message(singular, {"count": count, **params}, plural=plural, count=count)


def locale_for(tag: str | None) -> str:
    """The shipped catalog for a platform's locale tag: ``es``/``es-*`` → ``es``, ``pt*`` →
    ``pt_BR``, anything else (and nothing) → ``en``."""
    tag = (tag or "").strip().replace("_", "-").lower()
    if tag == "es" or tag.startswith("es-"):
        return "es"
    if tag.startswith("pt"):
        return "pt_BR"
    return DEFAULT_LOCALE


@cache
def _translations(locale: str) -> gettext.GNUTranslations | None:
    """The compiled catalog of ``locale`` (``None`` for English): read, compiled in memory."""
    if locale == DEFAULT_LOCALE:
        return None
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = gettext.GNUTranslations(compiled)
    # The pinned plural rule, whatever the header says (see the module's docstring).
    translations.plural = lambda n: int(n != 1)  # type: ignore[attr-defined]
    return translations


def _param(value: str | int | float, locale: str) -> str | int | float:
    if isinstance(value, Message):
        return localize(value, locale)
    if isinstance(value, bool | str):
        return value
    return format_decimal(value, locale=locale)


def localize(text: str, locale: str | None) -> str:
    """``text`` in ``locale`` (a platform tag or a catalog name): a :class:`Message` is
    translated (English when the catalog lacks it), a plain ``str`` passes through."""
    if not isinstance(text, Message):
        return text
    catalog = locale_for(locale) if locale not in LOCALES else locale
    translations = _translations(catalog)
    if translations is None:
        return str.__str__(text)
    if text.plural is not None and text.number is not None:
        template = translations.ngettext(text.msgid, text.plural, text.number)
    else:
        template = translations.gettext(text.msgid)
    params = {name: _param(value, catalog) for name, value in text.params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):  # a broken translation: English, not an error
        return str.__str__(text)
