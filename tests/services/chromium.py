"""Headless Debian Chromium for the web-page tests, driven by Playwright, with a fake camera.

Only inside the hermetic namespace: once camera permission is granted, Chromium gathers
candidates on every interface, which must be the namespace's loopback-range ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.services.availability import require_binary, require_hermetic_netns

# The background-networking switches keep Chromium from calling Google's services at start.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Open headless Chromium contexts, each with a fake camera and a fresh profile; all close at the end."""
    require_hermetic_netns()
    executable = require_binary("chromium", "chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    contexts: list[Any] = []

    with sync_api.sync_playwright() as playwright:

        def new_context() -> Any:
            profile = tmp_path / f"chromium-profile-{len(contexts)}"
            context = playwright.chromium.launch_persistent_context(str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            contexts.append(context)
            return context

        try:
            yield new_context
        finally:
            for context in contexts:
                context.close()
