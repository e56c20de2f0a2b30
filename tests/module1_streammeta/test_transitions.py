"""start and end over HTTP: the allowed moves, 409 for the others, If-Match, events and races."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import pytest

from tests.module1_streammeta.helpers import assert_problem, bearer
from tests.services.api_client import ApiClient

STREAMS = "/api/v1/streams"
THREADS = 8


def _move(api: ApiClient, stream_id: str, actions: list[str], token: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for action in actions:
        response = api.post(f"{STREAMS}/{stream_id}/{action}", headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
    return body


@pytest.mark.grade(module=1, es="POST .../start pasa la emisión a LIVE")
def test_start_goes_live(api, make_stream) -> None:
    """POST .../start moves the stream to LIVE."""
    stream, token = make_stream()

    response = api.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "LIVE"
    assert body["version"] == 2
    assert body["startedAt"] is not None
    assert body["endedAt"] is None
    assert response.headers["ETag"] == '"2"'


@pytest.mark.grade(module=1, es="POST .../end tras start pasa la emisión a ENDED")
def test_end_after_live(api, make_stream) -> None:
    """POST .../end after start moves the stream to ENDED."""
    stream, token = make_stream()
    live = _move(api, stream["id"], ["start"], token)

    body = _move(api, stream["id"], ["end"], token)

    assert body["status"] == "ENDED"
    assert body["version"] == 3
    assert body["startedAt"] == live["startedAt"]
    assert body["endedAt"] is not None
    assert body["endedAt"] >= body["startedAt"]


@pytest.mark.grade(module=1, es="POST .../end de una emisión sin empezar la cancela")
def test_end_cancels_created(api, make_stream) -> None:
    """POST .../end of a stream that never started cancels it."""
    stream, token = make_stream()

    body = _move(api, stream["id"], ["end"], token)

    assert body["status"] == "ENDED"
    assert body["startedAt"] is None
    assert body["endedAt"] is not None


@pytest.mark.parametrize(
    ("setup", "action", "current", "target"),
    [
        (["start"], "start", "LIVE", "LIVE"),
        (["start", "end"], "start", "ENDED", "LIVE"),
        (["start", "end"], "end", "ENDED", "ENDED"),
        (["end"], "start", "ENDED", "LIVE"),
        (["end"], "end", "ENDED", "ENDED"),
    ],
    ids=["start live", "start ended", "end ended", "start cancelled", "end cancelled"],
)
@pytest.mark.grade(module=1, es="Una transición no permitida da 409 y no cambia la emisión")
def test_invalid_transition_conflict(api, make_stream, read_stream, setup, action, current, target) -> None:
    """A transition that is not allowed gets 409 and leaves the stream as it was."""
    stream, token = make_stream()
    before = _move(api, stream["id"], setup, token)

    response = api.post(f"{STREAMS}/{stream['id']}/{action}", headers=bearer(token))

    problem = assert_problem(response, 409, "invalid_transition")
    assert problem["currentStatus"] == current
    assert problem["targetStatus"] == target
    assert problem["action"] == action
    assert current in problem["detail"]
    assert read_stream(stream["id"]) == before


def test_transition_ignores_body(api, make_stream) -> None:
    stream, token = make_stream()

    response = api.post(f"{STREAMS}/{stream['id']}/start", json={"status": "ENDED"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["status"] == "LIVE"


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*", '"7", "1"'])
@pytest.mark.grade(module=1, es="If-Match con la versión actual deja hacer el cambio")
def test_if_match_current_version(api, make_stream, if_match: str) -> None:
    """If-Match with the current version lets the change through."""
    stream, token = make_stream()

    response = api.post(f"{STREAMS}/{stream['id']}/start", headers={**bearer(token), "If-Match": if_match})

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "/start", None),
        ("POST", "/end", None),
        ("PATCH", "", {"title": "Editado"}),
        ("DELETE", "", None),
    ],
    ids=["start", "end", "patch", "delete"],
)
@pytest.mark.parametrize("if_match", ['"2"', 'W/"0"', '"abc"', "garbage"])
@pytest.mark.grade(module=1, es="If-Match con una versión vieja da 412 y no cambia nada")
def test_if_match_stale_version(api, make_stream, read_stream, method, suffix, body, if_match) -> None:
    """If-Match with a stale version gets 412 and changes nothing."""
    stream, token = make_stream()

    response = api.request(method, f"{STREAMS}/{stream['id']}{suffix}", json=body, headers={**bearer(token), "If-Match": if_match})

    problem = assert_problem(response, 412, "precondition_failed")
    assert problem["currentVersion"] == 1
    assert response.headers["ETag"] == '"1"'
    assert read_stream(stream["id"]) == stream


@pytest.mark.grade(module=1, es="El ETag de una respuesta sirve como If-Match del siguiente cambio")
def test_etag_round_trip(api, make_stream) -> None:
    """The ETag of one response works as the If-Match of the next change."""
    stream, token = make_stream()
    etag = api.get(f"{STREAMS}/{stream['id']}").headers["ETag"]

    first = api.patch(f"{STREAMS}/{stream['id']}", json={"title": "Primera"}, headers={**bearer(token), "If-Match": etag})
    second = api.patch(f"{STREAMS}/{stream['id']}", json={"title": "Segunda"}, headers={**bearer(token), "If-Match": etag})

    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'
    assert_problem(second, 412, "precondition_failed")


def test_transition_publishes_event(app, api, make_stream) -> None:
    events: list[dict[str, Any]] = []
    app.extensions["events"].add_listener(events.append)
    stream, token = make_stream()
    subscriber = app.extensions["events"].subscribe(stream["id"])

    _move(api, stream["id"], ["start", "end"], token)
    api.post(f"{STREAMS}/{stream['id']}/end", headers=bearer(token))

    status_events = [event for event in events if event["type"] == "stream.status"]
    assert [event["data"] for event in status_events] == [
        {"status": "LIVE", "previous": "CREATED", "version": 2},
        {"status": "ENDED", "previous": "LIVE", "version": 3},
    ]
    assert all(event["streamId"] == stream["id"] for event in status_events)
    assert subscriber.get_nowait()["data"]["status"] == "LIVE"
    assert subscriber.get_nowait()["data"]["status"] == "ENDED"
    assert subscriber.empty()


def test_viewer_count_from_provider(app, api, make_stream) -> None:
    calls: list[list[str]] = []

    def provider(session, stream_ids: list[str]) -> dict[str, int]:
        calls.append(list(stream_ids))
        return {stream_id: 7 for stream_id in stream_ids[:1]}

    first, _ = make_stream(title="A")
    second, _ = make_stream(title="B")
    app.extensions["viewer_count_provider"] = provider

    read = api.get(f"{STREAMS}/{first['id']}").json()
    listed = api.get(f"{STREAMS}?sort=title").json()["items"]

    assert read["viewerCount"] == 7
    assert [item["viewerCount"] for item in listed] == [7, 0]
    assert calls[-1] == [first["id"], second["id"]]


def _run_together(count: int, call: Callable[[ApiClient], Any], server_url: str) -> list[Any]:
    """Run ``call`` in ``count`` threads released at the same moment; return the results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        client = ApiClient(base_url=server_url)
        barrier.wait(timeout=30)
        try:
            results[index] = call(client)
        except Exception as error:  # reported as a result so the assert shows it
            results[index] = error

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request thread did not finish"
    return results


@pytest.mark.parametrize(("setup", "action"), [([], "start"), (["start"], "end"), ([], "end")], ids=["start", "end live", "end created"])
@pytest.mark.grade(module=1, es="De varias transiciones simultáneas gana exactamente una")
def test_concurrent_transitions_one_wins(api, make_stream, read_stream, server_url, setup, action) -> None:
    """Of several simultaneous transitions exactly one wins."""
    stream, token = make_stream()
    before = _move(api, stream["id"], setup, token)

    responses = _run_together(THREADS, lambda client: client.post(f"{STREAMS}/{stream['id']}/{action}", headers=bearer(token)), server_url)

    statuses = Counter(getattr(response, "status_code", repr(response)) for response in responses)
    assert statuses == Counter({200: 1, 409: THREADS - 1}), statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "invalid_transition"
    assert read_stream(stream["id"])["version"] == before.get("version", 1) + 1


def test_concurrent_starts_publish_once(app, api, make_stream, server_url) -> None:
    events: list[dict[str, Any]] = []
    app.extensions["events"].add_listener(events.append)
    stream, token = make_stream()

    _run_together(THREADS, lambda client: client.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token)), server_url)

    assert [event["data"]["status"] for event in events if event["type"] == "stream.status"] == ["LIVE"]


def test_concurrent_edits_lose_nothing(api, make_stream, read_stream, server_url) -> None:
    stream, token = make_stream()
    titles = iter(f"Título {index}" for index in range(THREADS))
    lock = threading.Lock()

    def edit(client: ApiClient) -> Any:
        with lock:
            title = next(titles)
        return client.patch(f"{STREAMS}/{stream['id']}", json={"title": title}, headers=bearer(token))

    responses = _run_together(THREADS, edit, server_url)

    assert [getattr(response, "status_code", response) for response in responses] == [200] * THREADS
    final = read_stream(stream["id"])
    assert final["version"] == 1 + THREADS
    assert final["title"] in {response.json()["title"] for response in responses}


def test_concurrent_if_match_edits_one_wins(api, make_stream, read_stream, server_url) -> None:
    stream, token = make_stream()

    responses = _run_together(
        THREADS,
        lambda client: client.patch(f"{STREAMS}/{stream['id']}", json={"title": "Gana uno"}, headers={**bearer(token), "If-Match": '"1"'}),
        server_url,
    )

    statuses = Counter(getattr(response, "status_code", repr(response)) for response in responses)
    assert statuses == Counter({200: 1, 412: THREADS - 1}), statuses
    assert read_stream(stream["id"])["version"] == 2
