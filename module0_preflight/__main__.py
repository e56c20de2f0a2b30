"""Run module 0: `python -m module0_preflight` serves the app, `... check --backend URL` runs the checks."""

import sys


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        from common.cli import exit_quietly_on_broken_pipe
        from module0_preflight.check import main as check_main

        try:
            exit_code = check_main(sys.argv[2:])
            sys.stdout.flush()
        except BrokenPipeError:
            exit_quietly_on_broken_pipe()
        return exit_code
    from module0_preflight import create_app

    create_app().run(host="127.0.0.1", port=5000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
