"""Run module 0: `python -m module0_preflight [--host H] [--port P]` serves the app, `... check --backend URL` runs the checks."""

import os
import sys


def main() -> int:
    """Run the check CLI for the `check` subcommand, else serve the app."""
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        from common.cli import exit_quietly_on_broken_pipe
        from module0_preflight.check import main as check_main

        try:
            exit_code = check_main(sys.argv[2:])
            sys.stdout.flush()
        except BrokenPipeError:
            exit_quietly_on_broken_pipe()
        return exit_code

    from common.cli import TRANSLATIONS_DIR, language_in_argv, load_translations, pick_language, serve_module
    from module0_preflight import create_app

    language = pick_language(language_in_argv(sys.argv[1:]), os.environ)
    epilog = load_translations(TRANSLATIONS_DIR, language).gettext(
        "Subcommand: `check --backend URL` runs the connectivity checks from this computer (`check --help` lists its options)."
    )
    return serve_module("python -m module0_preflight", create_app, sys.argv[1:], epilog=epilog)


if __name__ == "__main__":
    sys.exit(main())
