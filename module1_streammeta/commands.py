"""Command-line tools of module 1: `flask --app module1_streammeta init-db` and `seed-demo`.

Output is Spanish by default; --lang en, or an English LC_ALL/LC_MESSAGES/LANG, switches to English.
"""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale, gettext

from common.db import db
from common.events import get_bus
from module1_streammeta import service
from module1_streammeta.state import END, START

LANGUAGES = ("es", "en")

# (title, description, owner name, actions applied after creation)
DEMO_STREAMS = (
    ("🎥 Bienvenida al curso", "Presentación del curso y de las herramientas.", "Profesora", ()),
    ("Clase 1: WebRTC de punta a punta", "Oferta, respuesta y candidatos ICE con un ejemplo en directo.", "Profesora", (START,)),
    ("Clase 0: preparar el equipo", "Cámara, micrófono y prueba de conectividad.", "Profesora", (START, END)),
    ("Práctica: publicar desde Flutter", "Sesión de preguntas sobre la app móvil.", None, ()),
)

_LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Output language: es or en. Default: from LC_ALL, LC_MESSAGES or LANG (en_* gives English), else es.",
)


def cli_language(option: str | None) -> str:
    """Return the output language: --lang, else the first set POSIX locale variable, else Spanish."""
    if option:
        return option
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "es"
    return "es"


@click.command("init-db")
@_LANG_OPTION
@with_appcontext
def init_db_command(lang: str | None) -> None:
    """Create the tables of every registered module that do not exist yet."""
    with force_locale(cli_language(lang)):
        db.create_all()
        tables = ", ".join(sorted(db.metadata.tables))
        url = db.engine.url.render_as_string(hide_password=True)
        click.echo(gettext("Tables ready in %(url)s: %(tables)s", url=url, tables=tables))


@click.command("seed-demo")
@_LANG_OPTION
@with_appcontext
def seed_demo_command(lang: str | None) -> None:
    """Create a few demo streams in different statuses and print their ids and publish tokens."""
    bus = get_bus(current_app)
    max_viewers = current_app.config["DEFAULT_MAX_VIEWERS"]

    with force_locale(cli_language(lang)):
        db.create_all()
        click.echo(gettext("Demo streams (each publish token is shown only now; keep it to change its stream):"))
        for title, description, owner_name, actions in DEMO_STREAMS:
            stream, token = service.create_stream(
                db.session, title=title, description=description, owner_name=owner_name, max_viewers=max_viewers
            )
            for action in actions:
                stream = service.transition(db.session, bus, stream.id, action)
            click.echo(f"  {stream.id}  {stream.status:<7}  {stream.title}")
            click.echo("    " + gettext("publish token: %(token)s", token=token))
