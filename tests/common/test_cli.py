"""The course's command-line parser: argparse's own words in Spanish or English."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from common.cli import LocalizedArgumentParser
from tests.services.availability import free_port

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


@pytest.mark.parametrize("module", ["module0_preflight", "module1_streammeta", "module2_session", "module3_watch"])
def test_module_entry_point_help(module: str) -> None:
    # The help must print and exit; before, anything but `check` started a server on port 5000.
    completed = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=REPO, timeout=60, check=False)

    assert completed.returncode == 0
    assert completed.stdout.startswith(f"uso: python -m {module}")
    assert "--port" in completed.stdout


@pytest.mark.parametrize("arguments", [["chek", "--backend", "http://127.0.0.1:9"], ["--port", "abc"]])
def test_module_entry_point_usage_error(arguments: list[str]) -> None:
    completed = subprocess.run([sys.executable, "-m", "module0_preflight", *arguments], capture_output=True, text=True, cwd=REPO, timeout=60, check=False)

    assert completed.returncode == 2
    assert "python -m module0_preflight: error:" in completed.stderr
    assert completed.stdout == ""


def test_module_entry_point_serves(tmp_path: Path) -> None:
    port = free_port()
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'entry.db'}", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "module1_streammeta", "--port", str(port)], cwd=REPO, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except requests.ConnectionError:
                time.sleep(0.1)
        assert status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
