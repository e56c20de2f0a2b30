"""Serve module 3: `python -m module3_watch [--host H] [--port P]` (development server, 127.0.0.1:5000 by default)."""

import sys

from common.cli import serve_module
from module3_watch import create_app

if __name__ == "__main__":
    sys.exit(serve_module("python -m module3_watch", create_app, sys.argv[1:]))
