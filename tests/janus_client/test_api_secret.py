"""A Janus with api_secret: requests without it are rejected, and the secret stays out of logs."""

from __future__ import annotations

import logging
import queue

import pytest

from common.janus import VIDEOROOM_PLUGIN, VideoRoom
from common.janus.errors import JanusUnauthorized, JanusUnavailable
from tests.janus_client.conftest import EVENT_WAIT

pytestmark = pytest.mark.janus

SECRET = "course-api-secret-7f3a9c"


@pytest.fixture
def secured_janus(janus_factory):
    return janus_factory(api_secret=SECRET)


@pytest.mark.parametrize("api_secret", ["", "wrong-secret"], ids=["missing", "wrong"])
def test_bad_secret_rejected(secured_janus, make_client, api_secret):
    client = make_client(secured_janus.url, api_secret=api_secret)

    with pytest.raises(JanusUnauthorized) as caught:
        client.start()

    assert caught.value.code == 403
    assert not client.running


def test_right_secret_accepted(secured_janus, make_client):
    client = make_client(secured_janus.url, api_secret=SECRET)
    client.start()
    videoroom = VideoRoom(client)
    room_id, _ = videoroom.create_room()
    handle_id = client.attach(VIDEOROOM_PLUGIN)

    # join is asynchronous: its reply arrives on the long-poll, which needs the secret too.
    feed_id, _ = videoroom.join_publisher(handle_id, room_id)

    assert isinstance(feed_id, int)
    assert client.info()["janus"] == "server_info"


def test_secret_absent_from_logs(secured_janus, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(secured_janus.url, api_secret=SECRET)
    client.start()
    videoroom = VideoRoom(client)
    room_id, _ = videoroom.create_room()
    videoroom.join_publisher(client.attach(VIDEOROOM_PLUGIN), room_id)
    changes: queue.Queue = queue.Queue()
    client.add_session_listener(lambda old, new: changes.put(new))

    # Connection errors carry the long-poll URL, query string included.
    secured_janus.kill()
    with pytest.raises(JanusUnavailable) as caught:
        client.info()
    secured_janus.start()
    changes.get(timeout=EVENT_WAIT)

    assert SECRET not in str(caught.value)
    assert "janus message join" in caplog.text
    assert "apisecret=<hidden>" in caplog.text
    assert SECRET not in caplog.text
