"""Serve module 2: `python -m module2_session [--host H] [--port P]` (development server, 127.0.0.1:5000 by default)."""

import sys

from common.cli import serve_module
from module2_session import create_app

if __name__ == "__main__":
    sys.exit(serve_module("python -m module2_session", create_app, sys.argv[1:]))
