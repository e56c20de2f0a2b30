"""Skip a test whose service is missing, or fail it under CI=true, saying what to install."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    """Return True when the CI variable is set to true."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(reason: str) -> None:
    """Skip with ``reason`` locally; fail under CI, where a skipped service test hides a gap."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    """Return the path of ``name`` or skip/fail naming the Debian package that provides it."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        missing_service(f"{name} not found: install it with `apt-get install {package}`")
    return path


def in_hermetic_netns() -> bool:
    """Return True inside the namespace made by scripts/hermetic-run (only lo and va/vb)."""
    if os.environ.get("HERMETIC_NETNS") != "1":
        return False
    # /sys/class/net shows the namespace that mounted /sys, not this process's
    # namespace; if_nameindex asks the kernel for the current one.
    import socket

    interfaces = {name for _, name in socket.if_nameindex()}
    return interfaces <= {"lo", "va", "vb"}


def require_hermetic_netns() -> None:
    """Skip/fail a media test outside the hermetic namespace, where ICE would use real addresses."""
    if not in_hermetic_netns():
        missing_service("media tests run only inside the hermetic network namespace: use `make test` (scripts/hermetic-run)")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
