"""Serve module 1: `python -m module1_streammeta [--host H] [--port P]` (development server, 127.0.0.1:5000 by default)."""

import sys

from common.cli import serve_module
from module1_streammeta import create_app

if __name__ == "__main__":
    sys.exit(serve_module("python -m module1_streammeta", create_app, sys.argv[1:]))
