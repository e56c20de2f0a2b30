"""Command-line helpers shared by the course's tools: language choice and an argparse in that language.

argparse writes its own words ("usage:", "options", "error:" and its error messages) in English
through the stdlib gettext. LocalizedArgumentParser replaces them with the common catalog's
translations, so `--help` and usage errors read in the same language as the rest of the output.
"""

from __future__ import annotations

import argparse
import gettext as gettext_module
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence, TextIO

LANGUAGES = ("es", "en")
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet."""
    return message


def pick_language(explicit: str | None, environ: Mapping[str, str]) -> str:
    """Return ``explicit`` when it is supported, else the language of LC_ALL, LC_MESSAGES or LANG (first set), else Spanish."""
    if explicit in LANGUAGES:
        return explicit
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else "es"
    return "es"


def language_in_argv(argv: list[str]) -> str | None:
    """Find the value of --lang before argparse runs, so that argparse's own help is translated too."""
    for index, argument in enumerate(argv):
        if argument.startswith("--lang="):
            return argument.split("=", 1)[1]
        if argument == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def load_translations(directory: Path, language: str) -> gettext_module.NullTranslations:
    """Return the catalog of ``directory`` for ``language``; English needs none because the msgids are English."""
    if language == "en":
        return gettext_module.NullTranslations()
    from babel.support import Translations

    from common.i18n import compile_catalogs_if_stale

    # A fresh checkout has only the .po files; compile them as the web app does.
    compile_catalogs_if_stale()
    return Translations.load(str(directory), [language], domain="messages")


# argparse's English error templates (as of CPython 3.11), each with the msgid that translates
# it. error() receives the filled-in English text, so each template becomes a pattern whose
# named groups are put into the translated template.
_ARGPARSE_ERRORS = (
    N_("the following arguments are required: %(arguments)s"),
    N_("unrecognized arguments: %(arguments)s"),
    N_("one of the arguments %(arguments)s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("argument %(argument)s: expected one argument"),
    N_("argument %(argument)s: invalid choice: %(value)s (choose from %(choices)s)"),
    N_("argument %(argument)s: invalid %(type)s value: %(value)s"),
    N_("argument %(argument)s: not allowed with argument %(other)s"),
    N_("argument %(argument)s: %(message)s"),
)


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", template)
    pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)" for index, part in enumerate(parts))
    return re.compile(pattern + r"\Z", re.DOTALL)


_ERROR_PATTERNS = [(template, _template_pattern(template)) for template in _ARGPARSE_ERRORS]


class _LocalizedHelpFormatter(argparse.HelpFormatter):
    """A help formatter whose "usage: " prefix comes from the parser's language."""

    usage_prefix = "usage: "

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix if prefix is not None else self.usage_prefix)


class LocalizedArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help titles, usage line and error messages use the common catalog."""

    def __init__(self, *args: Any, language: str = "es", **kwargs: Any) -> None:
        self.translate: Callable[[str], str] = load_translations(TRANSLATIONS_DIR, language).gettext
        prefix = self.translate("usage: ")
        kwargs["formatter_class"] = type("HelpFormatter", (_LocalizedHelpFormatter,), {"usage_prefix": prefix})
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = self.translate("positional arguments")
        self._optionals.title = self.translate("options")
        self.add_argument("-h", "--help", action="help", help=self.translate("Show this help message and exit"))

    def translate_error(self, message: str) -> str:
        """Return argparse's English ``message`` in the parser's language (unchanged when unknown)."""
        for template, pattern in _ERROR_PATTERNS:
            match = pattern.match(message)
            if match is None:
                continue
            values = match.groupdict()
            if "message" in values:
                values["message"] = self.translate_error(values["message"])
            return self.translate(template) % values
        return message

    def error(self, message: str) -> NoReturn:
        """Print the usage line and the translated error to stderr, then exit with status 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: {self.translate('error')}: {self.translate_error(message)}\n")


def exit_quietly_on_broken_pipe(stream: TextIO = sys.stdout) -> NoReturn:
    """Exit without a traceback after the reader of ``stream`` went away (`... | head`).

    Python would otherwise print an exception while flushing stdout at exit, so the
    stream is pointed at /dev/null first.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    sys.exit(1)


def serve_module(prog: str, create_app: Callable[[], Any], argv: Sequence[str], environ: Mapping[str, str] = os.environ, epilog: str = "") -> int:
    """Parse ``--host``/``--port`` for `python -m <module>` and serve the module's app with Flask's development server.

    ``epilog`` is extra help text, already translated. Unknown arguments are a usage error (exit 2).
    """
    language = pick_language(language_in_argv(list(argv)), environ)
    parser = LocalizedArgumentParser(language=language, prog=prog, epilog=epilog or None)
    translate = parser.translate
    parser.description = translate("Serve this module with Flask's development server (for a production server use gunicorn).")
    parser.add_argument("--host", default="127.0.0.1", help=translate("Address to listen on (default: 127.0.0.1)"))
    parser.add_argument("--port", type=int, default=5000, help=translate("TCP port to listen on (default: 5000)"))
    parser.add_argument("--lang", choices=LANGUAGES, help=translate("Language of this help (default: from LC_ALL, LC_MESSAGES or LANG, else es)"))
    options = parser.parse_args(list(argv))

    create_app().run(host=options.host, port=options.port, threaded=True)
    return 0
