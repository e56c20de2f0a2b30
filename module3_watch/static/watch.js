// Watch page: join the stream as a viewer, answer Janus's offer and play the video.
"use strict";

(() => {
  const { t, api, ApiError, iceServers, liveEvents, setState, showError, showStreamEvent, candidateSender } = Course;
  const section = document.getElementById("stream");
  const streamId = section.dataset.streamId;
  const video = document.getElementById("remote");
  const rejoinButton = document.getElementById("rejoin");

  let streamStatus = section.dataset.status;
  let maxViewers = Number(section.dataset.maxViewers);
  let pc = null;
  let viewerId = null;
  let joining = false;
  let waitingForPlace = false;

  function state(name) {
    setState("watch-state", name, t("watch." + name));
    rejoinButton.hidden = name !== "failed";
  }

  async function join() {
    if (joining || pc || streamStatus === "ENDED") return;
    joining = true;
    waitingForPlace = false;
    showError("");
    state("joining");
    try {
      const viewer = await api("POST", `/api/v1/streams/${streamId}/viewers`, {});
      viewerId = viewer.id;
      document.body.dataset.viewerId = viewerId;
      bindViewer();

      pc = new RTCPeerConnection({ iceServers: await iceServers() });
      // Candidates wait until Janus has the answer; sent earlier they would arrive before it.
      let answered = false;
      const trickle = candidateSender(() => (viewerId && answered ? `/api/v1/viewers/${viewerId}/candidates` : null));
      pc.onicecandidate = (event) => trickle.add(event.candidate);
      pc.ontrack = (event) => {
        if (!video.srcObject) video.srcObject = event.streams[0] || new MediaStream();
        if (!event.streams[0]) video.srcObject.addTrack(event.track);
      };
      pc.onconnectionstatechange = () => {
        if (!pc) return;
        if (pc.connectionState === "connected") state("playing");
        if (pc.connectionState === "failed") fail();
      };

      await pc.setRemoteDescription(viewer.offer);
      await pc.setLocalDescription(await pc.createAnswer());
      state("connecting");
      await api("POST", `/api/v1/viewers/${viewerId}/answer`, { type: "answer", sdp: pc.localDescription.sdp });
      answered = true;
      trickle.flush();
    } catch (error) {
      await leave();
      if (error instanceof ApiError && error.code === "stream_not_live") state("waiting");
      else if (error instanceof ApiError && error.code === "viewer_limit_reached") {
        waitingForPlace = true;
        state("full");
      } else {
        state("failed");
        showError(error.message);
      }
    } finally {
      joining = false;
    }
  }

  // Tell the backend this viewer left and close the connection.
  async function leave(keepalive) {
    const id = viewerId;
    viewerId = null;
    if (pc) pc.close();
    pc = null;
    video.srcObject = null;
    if (!id) return;
    try {
      await fetch(`/api/v1/viewers/${id}`, { method: "DELETE", keepalive: Boolean(keepalive) });
    } catch (error) {
      // The backend frees the place by itself once Janus reports the hangup.
    }
  }

  async function fail() {
    await leave();
    state("failed");
  }

  function onEvent(message) {
    showStreamEvent(message);
    const data = message.data || {};
    if (message.type === "snapshot") {
      streamStatus = data.status;
      if (data.maxViewers) maxViewers = data.maxViewers;
      if (streamStatus === "LIVE" && data.session && data.session.state === "CONNECTED") join();
      else if (streamStatus === "ENDED") state("ended");
      else if (!pc) state("waiting");
    } else if (message.type === "stream.status") {
      streamStatus = data.status;
      if (streamStatus === "ENDED") {
        leave();
        state("ended");
      }
    } else if (message.type === "session.state") {
      // A publisher that comes back gets a new feed: join again to receive it.
      if (data.state === "CONNECTED" && streamStatus !== "ENDED" && !pc) {
        join();
      } else if (data.state === "CLOSED" || data.state === "FAILED") {
        leave();
        state("waiting");
      }
    } else if (message.type === "viewers.count") {
      if (waitingForPlace && data.viewerCount < maxViewers) join();
    }
  }

  // Binding the viewer to the events socket lets the backend free its place
  // when this page disappears without saying goodbye (a crash, a lost network).
  function bindViewer() {
    if (viewerId) events.send({ type: "watching", viewerId });
  }

  const events = liveEvents(`/ws/streams/${streamId}`, { onMessage: onEvent, onOpen: bindViewer });
  document.getElementById("unmute").addEventListener("click", () => {
    video.muted = false;
    video.play();
  });
  rejoinButton.addEventListener("click", join);
  window.addEventListener("pagehide", () => leave(true));
})();
