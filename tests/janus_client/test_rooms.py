"""Videoroom room lifecycle and its typed errors against a real Janus."""

from __future__ import annotations

import random

import pytest

from common.janus import VIDEOROOM_PLUGIN, VideoRoom
from common.janus.errors import (
    AlreadyJoined,
    JanusInvalidJsep,
    JoinFirst,
    NoSuchFeed,
    NoSuchRoom,
    RoomExists,
    RoomUnauthorized,
    VideoRoomError,
)

pytestmark = pytest.mark.janus


@pytest.fixture
def videoroom(janus_client) -> VideoRoom:
    return VideoRoom(janus_client)


def unused_room_id() -> int:
    return random.randint(10**9, 2 * 10**9)


def test_room_lifecycle(videoroom):
    room_id, secret = videoroom.create_room(description="lifecycle", publishers=1)

    assert videoroom.exists(room_id) is True
    assert len(secret) >= 24
    videoroom.destroy_room(room_id, secret)
    assert videoroom.exists(room_id) is False


def test_create_with_given_id_and_secret(videoroom):
    room_id = unused_room_id()

    created, secret = videoroom.create_room(room_id=room_id, secret="given-secret")

    assert created == room_id
    assert secret == "given-secret"
    videoroom.destroy_room(room_id, "given-secret")


def test_generated_secrets_differ(videoroom):
    _, first = videoroom.create_room()
    _, second = videoroom.create_room()

    assert first != second


@pytest.mark.parametrize(
    ("action", "error", "code"),
    [
        ("destroy_missing", NoSuchRoom, 426),
        ("create_existing", RoomExists, 427),
        ("destroy_wrong_secret", RoomUnauthorized, 433),
        ("join_missing", NoSuchRoom, 426),
        ("subscribe_missing_feed", NoSuchFeed, 428),
        ("leave_without_join", JoinFirst, 424),
        ("join_twice", AlreadyJoined, 425),
    ],
)
def test_room_errors(videoroom, janus_client, action, error, code):
    room_id, secret = videoroom.create_room(publishers=1)
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN)
    actions = {
        "destroy_missing": lambda: videoroom.destroy_room(unused_room_id(), secret),
        "create_existing": lambda: videoroom.create_room(room_id=room_id),
        "destroy_wrong_secret": lambda: videoroom.destroy_room(room_id, "wrong-secret"),
        "join_missing": lambda: videoroom.join_publisher(handle_id, unused_room_id()),
        "subscribe_missing_feed": lambda: videoroom.join_subscriber(handle_id, room_id, unused_room_id()),
        "leave_without_join": lambda: videoroom.leave(handle_id),
        "join_twice": lambda: [videoroom.join_publisher(handle_id, room_id) for _ in range(2)],
    }

    with pytest.raises(error) as caught:
        actions[action]()

    assert caught.value.code == code
    assert isinstance(caught.value, VideoRoomError)


def test_publish_invalid_sdp(videoroom, janus_client):
    room_id, _ = videoroom.create_room()
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN)
    videoroom.join_publisher(handle_id, room_id)

    with pytest.raises(JanusInvalidJsep) as caught:
        videoroom.publish(handle_id, "v=0\r\n")

    assert caught.value.code == 465


def test_join_publisher_returns_ids(videoroom, janus_client):
    room_id, _ = videoroom.create_room()
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN)

    feed_id, private_id = videoroom.join_publisher(handle_id, room_id, display="teacher")

    assert isinstance(feed_id, int)
    assert isinstance(private_id, int)
    videoroom.leave(handle_id)


def test_control_handle_reattached_after_detach(videoroom, janus_client):
    room_id, _ = videoroom.create_room()
    janus_client.detach(videoroom._control())

    assert videoroom.exists(room_id) is True
