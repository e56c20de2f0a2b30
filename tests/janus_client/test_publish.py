"""Real media through Janus: an aiortc publisher gets an answer and webrtcup, a subscriber gets frames.

aiortc peers gather candidates only inside the hermetic namespace (127.0.0.2 on
va) and use no STUN server (``iceServers=[]``).
"""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from common.janus import VIDEOROOM_PLUGIN, VideoRoom
from common.janus.errors import PublishersFull
from tests.janus_client.conftest import EVENT_WAIT

pytestmark = [pytest.mark.janus, pytest.mark.media]


def peer_connection() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def publish(videoroom: VideoRoom, handle_id: int, room_id: int) -> tuple[RTCPeerConnection, int, str]:
    """Join ``room_id`` on ``handle_id`` and publish a synthetic video track; return the peer, feed id and answer."""
    feed_id, _ = await asyncio.to_thread(videoroom.join_publisher, handle_id, room_id, "aiortc")
    peer = peer_connection()
    try:
        peer.addTrack(VideoStreamTrack())
        await peer.setLocalDescription(await peer.createOffer())
        answer = await asyncio.to_thread(videoroom.publish, handle_id, peer.localDescription.sdp)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    except BaseException:
        await peer.close()
        raise
    return peer, feed_id, answer


def test_publisher_gets_answer_and_webrtcup(janus_client, recorder):
    videoroom = VideoRoom(janus_client)
    room_id, secret = videoroom.create_room(description="publish test")
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)

    async def scenario() -> str:
        peer, _, answer = await publish(videoroom, handle_id, room_id)
        try:
            await asyncio.to_thread(recorder.wait_for, "webrtcup", handle_id)
            await asyncio.to_thread(recorder.wait_for, "media", handle_id)
        finally:
            await peer.close()
        return answer

    answer = asyncio.run(scenario())

    assert answer.startswith("v=0")
    assert "m=video" in answer
    assert "127.0.0.2" in answer
    assert recorder.wait_for("media", handle_id).data["type"] == "video"
    videoroom.destroy_room(room_id, secret)


def test_subscriber_receives_frames(janus_client, recorder):
    videoroom = VideoRoom(janus_client)
    room_id, secret = videoroom.create_room(description="subscribe test")
    publisher_handle = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)
    subscriber_handle = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)

    async def scenario() -> int:
        publisher, feed_id, _ = await publish(videoroom, publisher_handle, room_id)
        subscriber = peer_connection()
        tracks: asyncio.Queue = asyncio.Queue()
        subscriber.on("track", tracks.put_nowait)
        try:
            await asyncio.to_thread(recorder.wait_for, "webrtcup", publisher_handle)
            offer = await asyncio.to_thread(videoroom.join_subscriber, subscriber_handle, room_id, feed_id)
            await subscriber.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await subscriber.setLocalDescription(await subscriber.createAnswer())
            await asyncio.to_thread(videoroom.start, subscriber_handle, subscriber.localDescription.sdp)

            track = await asyncio.wait_for(tracks.get(), EVENT_WAIT)
            frames = 0
            for _ in range(5):
                await asyncio.wait_for(track.recv(), EVENT_WAIT)
                frames += 1
            await asyncio.to_thread(recorder.wait_for, "webrtcup", subscriber_handle)
            return frames
        finally:
            await subscriber.close()
            await publisher.close()

    frames = asyncio.run(scenario())

    assert frames == 5
    videoroom.leave(subscriber_handle)
    videoroom.destroy_room(room_id, secret)


def test_second_publisher_rejected_when_full(janus_client, recorder):
    videoroom = VideoRoom(janus_client)
    room_id, secret = videoroom.create_room(publishers=1)
    first_handle = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)
    second_handle = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)

    async def scenario() -> None:
        first, _, _ = await publish(videoroom, first_handle, room_id)
        try:
            await asyncio.to_thread(recorder.wait_for, "webrtcup", first_handle)
            with pytest.raises(PublishersFull) as caught:
                await publish(videoroom, second_handle, room_id)
            assert caught.value.code == 432
        finally:
            await first.close()

    asyncio.run(scenario())
    videoroom.destroy_room(room_id, secret)


def test_hangup_event_after_hangup(janus_client, recorder):
    videoroom = VideoRoom(janus_client)
    room_id, secret = videoroom.create_room()
    handle_id = janus_client.attach(VIDEOROOM_PLUGIN, listener=recorder)

    async def scenario() -> None:
        peer, _, _ = await publish(videoroom, handle_id, room_id)
        try:
            await asyncio.to_thread(recorder.wait_for, "webrtcup", handle_id)
            await asyncio.to_thread(videoroom.hangup, handle_id)
            await asyncio.to_thread(recorder.wait_for, "hangup", handle_id)
        finally:
            await peer.close()

    asyncio.run(scenario())

    assert "reason" in recorder.wait_for("hangup", handle_id).data
    videoroom.destroy_room(room_id, secret)
