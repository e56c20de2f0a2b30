"""Session and handle lifecycle against a real Janus, and the errors of a missing or silent one."""

from __future__ import annotations

import logging
import threading

import pytest
import requests

from common.janus import VIDEOROOM_PLUGIN, VideoRoom
from common.janus.errors import JanusHandleNotFound, JanusPluginError, JanusUnavailable

pytestmark = pytest.mark.janus


def test_info_lists_only_videoroom_and_http(janus_client):
    info = janus_client.info()

    assert info["version_string"] == "1.1.2"
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(info["transports"]) == ["janus.transport.http"]


def test_start_opens_session(janus_client):
    assert isinstance(janus_client.session_id, int)
    assert janus_client.running
    janus_client.keepalive()


def test_attach_and_detach_handle(janus_client, recorder):
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)

    assert isinstance(handle_id, int)
    janus_client.detach(handle_id)
    with pytest.raises(JanusHandleNotFound) as caught:
        janus_client.hangup(handle_id)
    assert caught.value.code == 459


def test_two_handles_are_distinct(janus_client):
    first = janus_client.attach(VIDEOROOM_PLUGIN)
    second = janus_client.attach(VIDEOROOM_PLUGIN)

    assert first != second


def test_attach_unknown_plugin(janus_client):
    with pytest.raises(JanusPluginError) as caught:
        janus_client.attach("janus.plugin.echotest")
    assert caught.value.code == 460


def test_message_to_unknown_handle(janus_client):
    with pytest.raises(JanusHandleNotFound) as caught:
        janus_client.message(123456789, {"request": "exists", "room": 1})
    assert caught.value.code == 459


def test_close_destroys_session(janus_server, make_client):
    client = make_client(janus_server.url)
    client.start()
    closed_session = client.session_id

    client.close()

    reply = requests.post(f"{janus_server.url}/{closed_session}", json={"janus": "keepalive", "transaction": "t"}, timeout=10).json()
    assert reply["janus"] == "error"
    assert reply["error"]["code"] == 458
    assert client.session_id is None
    assert not client.running


def test_requests_after_close_unavailable(janus_server, make_client):
    client = make_client(janus_server.url)
    client.start()
    client.close()

    with pytest.raises(JanusUnavailable):
        client.attach(VIDEOROOM_PLUGIN)


@pytest.mark.parametrize(
    "candidate",
    [
        {"candidate": "candidate:1 1 udp 2130706431 127.0.0.2 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
        [
            {"candidate": "candidate:1 1 udp 2130706431 127.0.0.2 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
            {"candidate": "candidate:2 1 udp 2130706430 127.0.0.2 50002 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
        ],
        {"completed": True},
    ],
    ids=["one", "list", "completed"],
)
def test_trickle_forms_accepted(janus_client, candidate):
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN)

    janus_client.trickle(handle_id, candidate)


def test_trickle_rejects_other_types(janus_client):
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN)

    with pytest.raises(TypeError):
        janus_client.trickle(handle_id, "candidate:1 1 udp 1 127.0.0.2 1 typ host")


def test_attaching_many_handles_adds_no_threads(janus_client, recorder):
    room_id, _ = VideoRoom(janus_client).create_room(publishers=10)
    before = {thread.ident for thread in threading.enumerate()}

    handles = [janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder) for _ in range(40)]
    # Asynchronous replies travel through the event pump.
    feeds = [VideoRoom(janus_client).join_publisher(handle_id, room_id)[0] for handle_id in handles[:10]]

    after = {thread.ident for thread in threading.enumerate()}
    pumps = [thread for thread in threading.enumerate() if thread.name == f"janus-event-pump-{janus_client.session_id}"]
    assert len(set(handles)) == 40
    assert len(set(feeds)) == 10
    assert after - before == set()
    assert len(pumps) == 1


def test_concurrent_calls_reuse_connections(janus_client, caplog):
    # 30 callers at once, as a busy backend has: urllib3 warns when its pool is too small for them.
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    barrier = threading.Barrier(30)
    handles: list[int] = []

    def attach() -> None:
        barrier.wait(timeout=30)
        handles.append(janus_client.attach(VIDEOROOM_PLUGIN))

    threads = [threading.Thread(target=attach) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for handle_id in handles:
        janus_client.detach(handle_id)

    assert len(handles) == 30
    assert not [record for record in caplog.records if "pool is full" in record.getMessage()]
