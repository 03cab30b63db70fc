"""The bot's words in the person's language: the catalogs match the source, every message is
translated in each shipped catalog with the same fields, and plurals, numbers and the
platforms' locale tags are handled as core.i18n says."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from core import messages
from core.i18n import LOCALE_DIR, LOCALES, PLURAL_FORMS, Message, locale_for, localize, t, tn
from core.intake import too_long
from devtools import i18n as extraction


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _po(locale: str) -> Catalog:
    return extraction.read(LOCALE_DIR / locale / "LC_MESSAGES" / "gloo_bots.po", locale)


def test_the_template_is_what_extraction_from_the_source_gives() -> None:
    # `python -m devtools.i18n` rewrites it (and updates the .po files) after a change.
    assert extraction.TEMPLATE.read_bytes() == extraction.render(extraction.extract())


def test_the_template_holds_the_core_sentences() -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extraction.extract() if m.id}
    assert str(messages.INTERNAL_ERROR) in ids
    assert messages.quota_exceeded("user", 2, "day").msgid in ids


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_with_the_same_fields(locale: str) -> None:
    template = {m.id: m for m in extraction.extract() if m.id}
    catalog = _po(locale)
    shipped = {m.id: m for m in catalog if m.id}
    assert shipped.keys() == template.keys()
    for msgid, message in shipped.items():
        assert not message.fuzzy, msgid
        if isinstance(msgid, tuple):
            assert isinstance(message.string, tuple)
            assert len(message.string) == 2, msgid
            for source, translated in zip(msgid, message.string, strict=True):
                assert isinstance(translated, str)
                assert translated, msgid
                assert _fields(translated) == _fields(source), msgid
        else:
            assert isinstance(message.string, str)
            assert isinstance(msgid, str)
            assert message.string, msgid
            assert _fields(message.string) == _fields(msgid), msgid


@pytest.mark.parametrize("locale", LOCALES)
def test_the_plural_header_is_pinned_to_two_forms(locale: str) -> None:
    # Babel 2.19's CLDR data gives es and pt three forms (one, many, other); ours are two.
    text = (LOCALE_DIR / locale / "LC_MESSAGES" / "gloo_bots.po").read_text(encoding="utf-8")
    assert f'"Plural-Forms: {PLURAL_FORMS}\\n"' in text
    assert _po(locale).num_plurals == 2


def test_the_catalogs_ship_as_package_data() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*.pot", "locale/*/LC_MESSAGES/*.po"' in pyproject
    assert not list(LOCALE_DIR.rglob("*.mo"))


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("es-ES", "es"),
        ("es-419", "es"),
        ("es-LA", "es"),
        ("es", "es"),
        ("pt-BR", "pt_BR"),
        ("pt_PT", "pt_BR"),
        ("pt", "pt_BR"),
        ("en-US", "en"),
        ("ko", "en"),
        ("estonian", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_platform_tags_map_to_a_shipped_catalog(tag: str | None, locale: str) -> None:
    assert locale_for(tag) == locale


def test_a_message_is_its_english_text_and_a_plain_string_passes_through() -> None:
    assert isinstance(messages.INTERNAL_ERROR, Message)
    assert messages.INTERNAL_ERROR.startswith("Something went wrong on my side")
    assert localize(messages.INTERNAL_ERROR, "en-US") == str(messages.INTERNAL_ERROR)
    assert localize("Gloo's answer, untouched", "es-ES") == "Gloo's answer, untouched"
    assert localize(messages.INTERNAL_ERROR, "es-ES").startswith("Algo falló por mi parte")
    assert localize(messages.INTERNAL_ERROR, "pt-BR").startswith("Algo deu errado")
    assert localize(messages.INTERNAL_ERROR, "pt_BR") == localize(messages.INTERNAL_ERROR, "pt")


def test_an_unknown_message_falls_back_to_english() -> None:
    assert localize(t("Not in any catalog, {name}.", name="Ana"), "es") == (
        "Not in any catalog, Ana."
    )


@pytest.mark.parametrize(
    ("count", "es", "pt"),
    [
        (1, "1 pregunta por día", "1 pergunta por dia"),
        (2, "2 preguntas por día", "2 perguntas por dia"),
        (0, "0 preguntas por día", "0 perguntas por dia"),
        # CLDR's "many" form (1,000,000) would be a third form: pinned to two, it is "other".
        (1_000_000, "1.000.000 preguntas por día", "1.000.000 perguntas por dia"),
    ],
)
def test_plurals_take_two_forms(count: int, es: str, pt: str) -> None:
    refusal = messages.quota_exceeded("user", count, "day")
    assert es in localize(refusal, "es-ES")
    assert pt in localize(refusal, "pt-BR")
    assert ("1 question per day" in refusal) == (count == 1)


def test_numbers_are_formatted_for_the_locale() -> None:
    sentence = too_long(12_345, 4_000)
    assert sentence.startswith("Your question is 12,345 characters long; I can take at most 4,000")
    assert "12.345 caracteres" in localize(sentence, "es-ES")
    assert "como máximo 4.000" in localize(sentence, "es-ES")
    assert "12.345 caracteres" in localize(sentence, "pt-BR")
    assert "no máximo 4.000" in localize(sentence, "pt-BR")


def test_a_message_inside_a_message_is_localized_too() -> None:
    given_up = messages.gave_up(3, messages.for_error(TimeoutError()))
    assert given_up.startswith("Sorry, I tried 3 times")
    spanish = localize(given_up, "es")
    assert spanish.startswith("Lo siento, lo intenté 3 veces")
    assert localize(messages.INTERNAL_ERROR, "es") in spanish


def test_a_plural_message_without_other_fields() -> None:
    message = tn("{count} apple", "{count} apples", 2)
    assert message == "2 apples"
    assert message.number == 2
