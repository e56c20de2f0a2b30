// Publish page: camera preview, then publish it to the stream through the backend and Janus.
"use strict";

(() => {
  const { t, api, iceServers, liveEvents, setState, showError, showStreamEvent, candidateSender } = Course;
  const streamId = document.getElementById("stream").dataset.streamId;
  const preview = document.getElementById("preview");
  const tokenInput = document.getElementById("token");
  const cameraButton = document.getElementById("camera");
  const publishButton = document.getElementById("publish");
  const stopButton = document.getElementById("stop");
  const endButton = document.getElementById("end-stream");

  let media = null;
  let pc = null;
  let sessionId = null;

  function state(name, text) {
    setState("publish-state", name, text || t("publish." + name));
  }

  function authorization() {
    return { Authorization: "Bearer " + tokenInput.value.trim() };
  }

  // A token in the link's fragment (#token=...) fills the field; the fragment never reaches the server.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    tokenInput.value = fragment.get("token");
    history.replaceState(null, "", location.pathname + location.search);
  }

  async function startCamera() {
    showError("");
    try {
      media = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    } catch (error) {
      state("failed");
      showError(t("error.camera", { reason: error.name || error.message }));
      return;
    }
    preview.srcObject = media;
    cameraButton.disabled = true;
    publishButton.disabled = false;
    state("camera");
  }

  async function publish(event) {
    if (event) event.preventDefault();
    showError("");
    if (!tokenInput.value.trim()) {
      showError(t("error.tokenMissing"));
      return;
    }
    if (!media) await startCamera();
    if (!media) return;

    publishButton.disabled = true;
    state("connecting");
    try {
      pc = new RTCPeerConnection({ iceServers: await iceServers() });
      const trickle = candidateSender(() => (sessionId ? `/api/v1/sessions/${sessionId}/candidates` : null), authorization());
      pc.onicecandidate = (event) => trickle.add(event.candidate);
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "connected") state("publishing");
        if (pc.connectionState === "failed") {
          state("failed");
          stopButton.disabled = true;
          publishButton.disabled = false;
        }
      };
      for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [media] });

      await pc.setLocalDescription(await pc.createOffer());
      const session = await api("POST", `/api/v1/streams/${streamId}/sessions`, { type: "offer", sdp: pc.localDescription.sdp }, authorization());
      sessionId = session.id;
      document.body.dataset.sessionId = sessionId;
      await pc.setRemoteDescription(session.answer);
      trickle.flush();
      stopButton.disabled = false;
    } catch (error) {
      state("failed");
      showError(error.message);
      closePeer();
      publishButton.disabled = false;
    }
  }

  function closePeer() {
    if (pc) pc.close();
    pc = null;
  }

  async function stop() {
    stopButton.disabled = true;
    const id = sessionId;
    sessionId = null;
    closePeer();
    state("stopped");
    publishButton.disabled = !media;
    if (!id) return;
    try {
      await api("DELETE", `/api/v1/sessions/${id}`, undefined, authorization());
    } catch (error) {
      showError(error.message);
    }
  }

  async function endStream() {
    showError("");
    if (!tokenInput.value.trim()) {
      showError(t("error.tokenMissing"));
      return;
    }
    try {
      await api("POST", `/api/v1/streams/${streamId}/end`, undefined, authorization());
    } catch (error) {
      showError(error.message);
    }
  }

  liveEvents(`/ws/streams/${streamId}`, {
    onMessage(message) {
      showStreamEvent(message);
      if (message.type === "stream.status" && message.data.status === "ENDED") {
        closePeer();
        sessionId = null;
        state("stopped");
        publishButton.disabled = true;
        stopButton.disabled = true;
      }
    },
  });

  cameraButton.addEventListener("click", startCamera);
  document.getElementById("publish-form").addEventListener("submit", publish);
  stopButton.addEventListener("click", stop);
  endButton.addEventListener("click", endStream);
  startCamera();
})();
