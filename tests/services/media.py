"""aiortc peers for media tests: a synthetic publisher and a frame-counting subscriber.

Both run their asyncio loop in one dedicated daemon thread per peer and expose
plain blocking methods, so a synchronous pytest test drives them step by step
(publish, check the backend, disconnect, check again). They talk to the backend
over HTTP only, as a real client would.

Every peer uses ``RTCConfiguration(iceServers=[])`` unless the test passes its own
ICE servers (its coturn): without it aiortc contacts a public Google STUN server.
Run them only inside the hermetic network namespace (``scripts/hermetic-run``),
where aioice's only host address is 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, TypeVar

import requests
from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

logger = logging.getLogger(__name__)

T = TypeVar("T")

VIDEO_WIDTH = 640
VIDEO_HEIGHT = 360
VIDEO_FPS = 30
VIDEO_CLOCK_RATE = 90_000
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
# 400 Hz divides 48 kHz into whole 120-sample periods, so one 20 ms frame
# (960 samples) contains exactly 8 periods and can be repeated without clicks.
AUDIO_TONE_HZ = 400
HTTP_TIMEOUT = 30.0


class SyntheticVideoTrack(MediaStreamTrack):
    """Video frames of a fixed size with a moving luma gradient, at ``fps`` frames per second.

    The gradient moves every frame so the encoder sends real changes instead of
    a static image that compresses to almost nothing.
    """

    kind = "video"

    def __init__(self, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT, fps: int = VIDEO_FPS) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_sent = 0
        self._started: float | None = None
        # Two periods of a 0..255 ramp, so any 256-byte shift is one slice.
        self._ramp = bytes(range(256)) * (2 + (width * 2) // 256)

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._wait_next_pts()

        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shift = (self.frames_sent * 4) % 256
        luma, chroma_u, chroma_v = frame.planes
        row = self._ramp[shift : shift + luma.line_size]
        luma.update(row * luma.height)
        chroma_u.update(bytes([128]) * chroma_u.buffer_size)
        chroma_v.update(bytes([128]) * chroma_v.buffer_size)

        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self.frames_sent += 1
        return frame

    async def _wait_next_pts(self) -> int:
        if self._started is None:
            self._started = time.monotonic()
            return 0
        pts = self.frames_sent * VIDEO_CLOCK_RATE // self.fps
        delay = self._started + self.frames_sent / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return pts


class SyntheticAudioTrack(MediaStreamTrack):
    """A mono 48 kHz sine tone in 20 ms frames."""

    kind = "audio"

    def __init__(self, tone_hz: int = AUDIO_TONE_HZ, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frames_sent = 0
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        values = (int(amplitude * 32767 * math.sin(2 * math.pi * tone_hz * n / AUDIO_RATE)) for n in range(self._samples))
        self._pcm = struct.pack(f"<{self._samples}h", *values)
        self._started: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic()
        else:
            delay = self._started + self.frames_sent * AUDIO_PTIME - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.frames_sent * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frames_sent += 1
        return frame


class _LoopThread:
    """An asyncio loop running in its own daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what still runs on the loop, stop it, join the thread and close the loop."""
        if self.loop.is_closed():
            return
        try:
            self.call(self._cancel_pending(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self.loop.close()

    async def _cancel_pending(self) -> None:
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.loop.shutdown_asyncgens()


def rtc_configuration(ice_servers: list[dict[str, Any]] | None = None) -> RTCConfiguration:
    """Build an RTCConfiguration: no ICE servers unless the test passes its own coturn.

    ``ice_servers`` takes the backend's ``iceServers`` shape: dicts with ``urls``
    and optional ``username``/``credential``.
    """
    servers = [RTCIceServer(urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential")) for entry in ice_servers or []]
    return RTCConfiguration(iceServers=servers)


class _Peer:
    """One RTCPeerConnection on its own loop thread, closed by ``close`` or the ``with`` block."""

    def __init__(self, ice_servers: list[dict[str, Any]] | None, name: str) -> None:
        self._loop_thread = _LoopThread(name)
        self._configuration = rtc_configuration(ice_servers)
        self.pc: RTCPeerConnection = self._call(self._make_pc(), 10.0)
        self._closed = False

    async def _make_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(configuration=self._configuration)

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = HTTP_TIMEOUT) -> T:
        return self._loop_thread.call(coroutine, timeout)

    @property
    def connection_state(self) -> str:
        """The RTCPeerConnection's connectionState ("new", "connecting", "connected", "failed", "closed")."""
        return self.pc.connectionState

    def wait_for_connection_state(self, states: set[str], timeout: float = 30.0) -> str:
        """Wait until connectionState is one of ``states`` and return it. Raises TimeoutError."""
        return self._wait_until(lambda: self.pc.connectionState in states, timeout, f"connectionState in {sorted(states)}", lambda: self.pc.connectionState)

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str, current: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return current()
            time.sleep(0.05)
        raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}; last value {current()!r}")

    def close(self) -> None:
        """Close the peer connection and stop the loop thread. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self.pc.close(), 15.0)
        finally:
            self._loop_thread.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class SyntheticPublisher(_Peer):
    """An aiortc publisher with one synthetic audio and one synthetic video track.

    ``publish`` negotiates through the backend's API alone:
    POST /api/v1/streams/{id}/sessions with the offer, then applies the answer.
    The offer already carries every host candidate (aiortc gathers before it
    returns the local description), so no trickle is needed.
    """

    def __init__(
        self,
        width: int = VIDEO_WIDTH,
        height: int = VIDEO_HEIGHT,
        ice_servers: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(ice_servers, name="aiortc-publisher")
        self.video = SyntheticVideoTrack(width, height)
        self.audio = SyntheticAudioTrack()
        self.session: dict[str, Any] | None = None
        self._call(self._add_tracks(), 10.0)

    async def _add_tracks(self) -> None:
        self.pc.addTransceiver(self.audio, direction="sendonly")
        self.pc.addTransceiver(self.video, direction="sendonly")

    def create_offer(self) -> str:
        """Create the offer, set it as local description and return its SDP (with candidates)."""
        return self._call(self._create_offer())

    async def _create_offer(self) -> str:
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        return self.pc.localDescription.sdp

    def accept_answer(self, sdp: str) -> None:
        """Apply the remote answer, after which ICE and DTLS start."""
        self._call(self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer")))

    def post_offer(self, base_url: str, stream_id: str, token: str, sdp: str | None = None) -> requests.Response:
        """POST the offer to /api/v1/streams/{id}/sessions and return the raw response."""
        body = {"type": "offer", "sdp": sdp if sdp is not None else self.create_offer()}
        return requests.post(
            f"{base_url.rstrip('/')}/api/v1/streams/{stream_id}/sessions",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT,
        )

    def publish(self, base_url: str, stream_id: str, token: str) -> dict[str, Any]:
        """Send the offer through the backend, apply the answer and return the session JSON.

        Raises AssertionError with the problem body when the backend does not return 201.
        """
        response = self.post_offer(base_url, stream_id, token)
        if response.status_code != 201:
            raise AssertionError(f"publish returned {response.status_code}: {response.text}")
        self.session = response.json()
        self.accept_answer(self.session["answer"]["sdp"])
        return self.session


@dataclass(frozen=True)
class FrameStats:
    """What a subscriber decoded: video frame count and size, audio frame count."""

    video_frames: int
    width: int | None
    height: int | None
    audio_frames: int


class FrameCountingSubscriber(_Peer):
    """An aiortc subscriber that answers an offer and counts the frames it decodes.

    ``answer`` works with any offer (a Janus subscriber offer read from the
    backend or straight from Janus); ``subscribe`` uses the viewer API
    (POST /api/v1/streams/{id}/viewers, then POST /api/v1/viewers/{vid}/answer).
    """

    def __init__(self, ice_servers: list[dict[str, Any]] | None = None) -> None:
        super().__init__(ice_servers, name="aiortc-subscriber")
        self._lock = threading.Lock()
        self._video_frames = 0
        self._audio_frames = 0
        self._width: int | None = None
        self._height: int | None = None
        self.viewer: dict[str, Any] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        asyncio.ensure_future(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            with self._lock:
                if track.kind == "video":
                    self._video_frames += 1
                    self._width, self._height = frame.width, frame.height
                else:
                    self._audio_frames += 1

    def answer(self, offer_sdp: str) -> str:
        """Apply a remote offer and return the local answer SDP (with candidates)."""
        return self._call(self._answer(offer_sdp))

    async def _answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        return self.pc.localDescription.sdp

    def subscribe(self, base_url: str, stream_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Join a stream as a viewer through the backend's API and return the viewer JSON.

        Raises AssertionError with the problem body when a step does not succeed.
        """
        base_url = base_url.rstrip("/")
        response = requests.post(f"{base_url}/api/v1/streams/{stream_id}/viewers", json={}, headers=headers, timeout=HTTP_TIMEOUT)
        if response.status_code != 201:
            raise AssertionError(f"join as viewer returned {response.status_code}: {response.text}")
        self.viewer = response.json()

        answer_sdp = self.answer(self.viewer["offer"]["sdp"])
        response = requests.post(
            f"{base_url}/api/v1/viewers/{self.viewer['id']}/answer",
            json={"type": "answer", "sdp": answer_sdp},
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code >= 300:
            raise AssertionError(f"posting the viewer answer returned {response.status_code}: {response.text}")
        return self.viewer

    def stats(self) -> FrameStats:
        """Return the frames decoded so far."""
        with self._lock:
            return FrameStats(self._video_frames, self._width, self._height, self._audio_frames)

    def wait_for_frames(self, video_frames: int, timeout: float = 30.0, audio_frames: int = 0) -> FrameStats:
        """Wait until at least ``video_frames`` (and ``audio_frames``) were decoded.

        Returns the stats. Raises TimeoutError with the counts reached so far.
        """

        def reached() -> bool:
            current = self.stats()
            return current.video_frames >= video_frames and current.audio_frames >= audio_frames

        return self._wait_until(reached, timeout, f"{video_frames} video and {audio_frames} audio frames", self.stats)

