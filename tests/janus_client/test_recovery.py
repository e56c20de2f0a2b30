"""A Janus restart mid-session: the client opens a new session and notifies the listeners."""

from __future__ import annotations

import queue

import pytest

from common.janus import HANDLE_LOST, VIDEOROOM_PLUGIN, VideoRoom
from common.janus.errors import JanusUnavailable
from tests.janus_client.conftest import EVENT_WAIT

pytestmark = pytest.mark.janus


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_restart_replaces_session(janus_factory, make_client, recorder, how):
    server = janus_factory()
    client = make_client(server.url, timeout=5.0)
    client.start()
    videoroom = VideoRoom(client)
    room_id, _ = videoroom.create_room()
    handle_id = client.attach(VIDEOROOM_PLUGIN, listener=recorder)
    changes: queue.Queue = queue.Queue()
    client.add_session_listener(lambda old, new: changes.put((old, new)))
    old_session = client.session_id

    getattr(server, how)()
    with pytest.raises(JanusUnavailable):
        client.keepalive()
    server.start()

    reported_old, reported_new = changes.get(timeout=EVENT_WAIT)
    lost = recorder.wait_for(HANDLE_LOST, handle_id)
    assert reported_old == old_session
    assert reported_new == client.session_id
    assert reported_new != old_session
    assert lost.data["session_id"] == old_session
    assert lost.data["reason"]


def test_client_usable_after_restart(janus_factory, make_client, recorder):
    server = janus_factory()
    client = make_client(server.url, timeout=5.0)
    client.start()
    videoroom = VideoRoom(client)
    room_id, _ = videoroom.create_room()
    changes: queue.Queue = queue.Queue()
    client.add_session_listener(lambda old, new: changes.put(new))

    server.kill()
    server.start()
    changes.get(timeout=EVENT_WAIT)

    # The restarted Janus has no rooms; the control handle is attached again.
    assert videoroom.exists(room_id) is False
    handle_id = client.attach(VIDEOROOM_PLUGIN, listener=recorder)
    new_room, _ = videoroom.create_room()
    feed_id, _ = videoroom.join_publisher(handle_id, new_room)
    assert isinstance(feed_id, int)


def test_failing_listener_keeps_pump_running(janus_factory, make_client, recorder):
    server = janus_factory()
    client = make_client(server.url, timeout=5.0)
    client.start()

    def failing_listener(event):
        raise RuntimeError("listener bug")

    client.attach(VIDEOROOM_PLUGIN, listener=failing_listener)
    handle_id = client.attach(VIDEOROOM_PLUGIN, listener=recorder)
    changes: queue.Queue = queue.Queue()
    client.add_session_listener(lambda old, new: changes.put(new))

    server.kill()
    server.start()

    assert recorder.wait_for(HANDLE_LOST, handle_id).handle_id == handle_id
    assert changes.get(timeout=EVENT_WAIT) == client.session_id
