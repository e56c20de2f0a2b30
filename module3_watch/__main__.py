"""Serve module 3 on http://127.0.0.1:5000 (development server)."""

from module3_watch import create_app

create_app().run(host="127.0.0.1", port=5000, threaded=True)
