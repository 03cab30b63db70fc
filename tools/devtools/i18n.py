"""The message catalogs' template, from the source: ``python -m devtools.i18n``.

Extracts every sentence marked with :func:`core.i18n.t` (``t("...")``) and
:func:`core.i18n.tn` (``tn("one", "many", n)``) from ``core`` and ``bots`` with Babel's
Python extractor, writes ``core/locale/gloo_bots.pot`` and updates each shipped ``.po``
(new ids added untranslated, gone ones dropped, translations kept, the plural header pinned).
``tests/core/test_i18n.py`` checks that the template is what this gives.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.i18n import DOMAIN, LOCALE_DIR, LOCALES, PLURAL_FORMS

ROOT: Final = LOCALE_DIR.parent.parent
SOURCES: Final = ("core", "bots")
KEYWORDS: Final = {"t": None, "tn": (1, 2)}
TEMPLATE: Final = LOCALE_DIR / f"{DOMAIN}.pot"


def extract() -> Catalog:
    """The template as the source gives it (no locations: it changes only with the ids)."""
    catalog = Catalog(project="gloo-bots", domain=DOMAIN, fuzzy=False)
    for folder in SOURCES:
        for _file, _line, message, _comments, context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            catalog.add(message, context=context)
    return catalog


def render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, no_location=True, omit_header=True, sort_output=True)
    return out.getvalue()


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def main() -> None:
    template = extract()
    TEMPLATE.write_bytes(render(template))
    for locale in LOCALES:
        path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            catalog = read(path, locale)
        else:
            catalog = Catalog(
                locale=locale, domain=DOMAIN, project="gloo-bots", fuzzy=False, version="0.1.0"
            )
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS)]  # pinned, not CLDR's
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        out = io.BytesIO()
        write_po(out, catalog, width=100, no_location=True, sort_output=True)
        path.write_bytes(out.getvalue())


if __name__ == "__main__":
    main()
