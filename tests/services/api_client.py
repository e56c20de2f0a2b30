"""One API client for both targets: the Flask test client in-process, or requests against --base-url."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class ApiResponse:
    """The parts of a response the tests look at."""

    status_code: int
    headers: Any
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class ApiClient:
    """Send requests to an app in-process (``app``) or to a live server (``base_url``)."""

    def __init__(self, app: Any = None, base_url: str = "") -> None:
        if (app is None) == (not base_url):
            raise ValueError("pass exactly one of app or base_url")
        self.base_url = base_url.rstrip("/")
        self._test_client = app.test_client() if app is not None else None
        self._session = requests.Session() if base_url else None

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None, headers: dict | None = None, **kwargs: Any) -> ApiResponse:
        headers = dict(headers or {})
        if self._test_client is not None:
            response = self._test_client.open(path, method=method, json=json, data=data, headers=headers, **kwargs)
            body = response.get_data()
            # Close the response so file-backed ones (static files) release their file.
            response.close()
            return ApiResponse(response.status_code, response.headers, body)
        response = self._session.request(method, self.base_url + path, json=json, data=data, headers=headers, timeout=30, **kwargs)
        return ApiResponse(response.status_code, response.headers, response.content)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)


def create_stream(api: ApiClient, title: str = "Clase de prueba", **fields: Any) -> tuple[dict[str, Any], str]:
    """Create a stream through the API; return its JSON (without the token) and its publish token."""
    response = api.post("/api/v1/streams", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    body = response.json()
    return body, body.pop("publishToken")


def read_stream(api: ApiClient, stream_id: str) -> dict[str, Any]:
    """Read a stream through the API and return its JSON."""
    response = api.get(f"/api/v1/streams/{stream_id}")
    assert response.status_code == 200, response.text
    return response.json()
