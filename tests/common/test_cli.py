"""The course's command-line parser: argparse's own words in Spanish or English."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import LocalizedArgumentParser

REPO = Path(__file__).resolve().parents[2]


def build_parser(language: str) -> LocalizedArgumentParser:
    parser = LocalizedArgumentParser(language=language, prog="tool")
    parser.add_argument("--name", required=True)
    parser.add_argument("--lang", choices=("es", "en"))
    parser.add_argument("--count", type=int)
    return parser


@pytest.mark.parametrize(
    ("arguments", "spanish", "english"),
    [
        ((), "faltan estos argumentos obligatorios: --name", "the following arguments are required: --name"),
        (("--name", "a", "--extra"), "argumentos no reconocidos: --extra", "unrecognized arguments: --extra"),
        (("--name",), "argumento --name: falta su valor", "argument --name: expected one argument"),
        (("--name", "a", "--lang", "fr"), "argumento --lang: valor no válido: 'fr' (elige entre 'es', 'en')", "argument --lang: invalid choice: 'fr'"),
        (("--name", "a", "--count", "x"), "argumento --count: valor int no válido: 'x'", "argument --count: invalid int value: 'x'"),
    ],
)
def test_parser_errors_translated(arguments: tuple, spanish: str, english: str, capsys: pytest.CaptureFixture) -> None:
    for language, expected in (("es", spanish), ("en", english)):
        with pytest.raises(SystemExit) as exit_info:
            build_parser(language).parse_args(list(arguments))
        error = capsys.readouterr().err

        assert exit_info.value.code == 2
        assert expected in error
        assert error.startswith("uso: tool" if language == "es" else "usage: tool")
        assert ("tool: error: " + expected.split(":")[0]) in error


@pytest.mark.parametrize(("language", "words"), [("es", ("uso:", "opciones:", "Muestra esta ayuda")), ("en", ("usage:", "options:", "Show this help"))])
def test_parser_help_translated(language: str, words: tuple, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser(language).parse_args(["--help"])
    output = capsys.readouterr().out

    assert exit_info.value.code == 0
    for word in words:
        assert word in output


def test_unknown_message_kept() -> None:
    parser = build_parser("es")

    assert parser.translate_error("something argparse never says") == "something argparse never says"


def test_check_cli_closed_pipe_no_traceback() -> None:
    # The reader closes the pipe at once, as `... | head -0` would.
    process = subprocess.Popen(
        [sys.executable, "-m", "module0_preflight", "check", "--backend", "http://127.0.0.1:9", "--timeout", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    process.stdout.close()
    _, error = process.communicate(timeout=60)

    assert b"Traceback" not in error
    assert b"BrokenPipeError" not in error
    assert process.returncode == 1
