"""Localization: Spanish by default, English through Accept-Language or ?lang=."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import Babel

logger = logging.getLogger(__name__)

SUPPORTED_LOCALES = ("es", "en")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Each package keeps its own catalog (msgids in English, a Spanish translation);
# Flask-Babel merges catalogs of the same domain across these folders.
TRANSLATION_PACKAGES = ("common", "module0_preflight", "module1_streammeta", "module2_session", "module3_watch")


def translation_dirs() -> list[Path]:
    """Return the translations folders of the course packages that have one."""
    return [PROJECT_ROOT / package / "translations" for package in TRANSLATION_PACKAGES if (PROJECT_ROOT / package / "translations").is_dir()]

babel = Babel()


def select_locale() -> str:
    """Pick the request's language: ?lang= first, then Accept-Language, then DEFAULT_LOCALE."""
    default = current_app.config.get("DEFAULT_LOCALE", "es")
    try:
        explicit = request.args.get("lang", "")
    except RuntimeError:
        return default
    if explicit in SUPPORTED_LOCALES:
        return explicit
    # Match on the primary subtag in quality order: Werkzeug's best_match would pick an
    # exact "en;q=0.5" over "es-MX", which a Spanish speaker's browser may send alone.
    for language, _quality in request.accept_languages:
        primary = language.replace("_", "-").split("-")[0].lower()
        if primary in SUPPORTED_LOCALES:
            return primary
    return default


def compile_catalogs_if_stale() -> None:
    """Compile .po catalogs whose .mo is missing or older, so a plain `pip install -e .` works.

    `make translations` does the same with pybabel; this covers apps started without make.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po_paths = [path for folder in translation_dirs() for path in folder.glob("*/LC_MESSAGES/messages.po")]
    for po_path in po_paths:
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=True)
            logger.info("compiled translation catalog %s", mo_path)
        except OSError as exc:
            logger.warning("cannot compile translation catalog %s: %s", mo_path, exc)


def init_i18n(app: Flask) -> None:
    """Bind Flask-Babel to the app with the course's catalogs."""
    compile_catalogs_if_stale()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config.get("DEFAULT_LOCALE", "es"))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(folder) for folder in translation_dirs())
    babel.init_app(app, locale_selector=select_locale)
