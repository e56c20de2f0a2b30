// Shared helpers of the module 3 pages: translated texts, API calls, live events.
"use strict";

const Course = (() => {
  const messages = JSON.parse(document.getElementById("i18n").textContent);
  const language = document.documentElement.lang || "es";

  // Return the translated text for `key`, with %(name)s placeholders filled from `params`.
  function t(key, params) {
    const text = messages[key] || key;
    return text.replace(/%\((\w+)\)s/g, (_, name) => (params && name in params ? String(params[name]) : ""));
  }

  function setState(id, state, text) {
    const element = document.getElementById(id);
    if (!element) return;
    element.dataset.state = state;
    element.textContent = text;
  }

  function showError(text) {
    const element = document.getElementById("error");
    element.textContent = text || "";
    element.hidden = !text;
  }

  // An API failure: `code` is the problem's stable code, `message` its localized detail.
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || `HTTP ${status}`);
      this.status = status;
      this.code = (problem && problem.code) || "http_" + status;
      this.problem = problem;
    }
  }

  // Call the backend's JSON API; resolve with the parsed body (null for 204), reject with ApiError.
  async function api(method, path, body, headers) {
    const init = { method, headers: { "Accept-Language": language, ...(headers || {}) } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, { code: "network_error", detail: t("error.network") });
    }
    const text = await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        parsed = { detail: text.slice(0, 200) };
      }
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  // ICE servers for RTCPeerConnection from the backend (STUN/TURN with short-lived credentials).
  async function iceServers() {
    const body = await api("GET", "/api/v1/ice-servers");
    return (body && body.iceServers) || [];
  }

  function webSocketUrl(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${path}`;
  }

  // Keep a WebSocket to `path` open and pass every parsed message to `onMessage`.
  // Reconnects with a growing delay, except after close codes in `finalCodes`
  // (1000: the stream ended, 4404: unknown stream). `onOpen()` is called after
  // every (re)connect and `onClose(code, reason)` on every close.
  function liveEvents(path, { onMessage, onOpen, onClose, finalCodes = [1000, 4404] }) {
    let delay = 1000;
    let socket = null;
    let stopped = false;

    function connect() {
      setState("ws-state", "connecting", t("ws.connecting"));
      socket = new WebSocket(webSocketUrl(path));
      socket.onopen = () => {
        delay = 1000;
        setState("ws-state", "open", t("ws.open"));
        if (onOpen) onOpen();
      };
      socket.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        onMessage(message);
      };
      socket.onclose = (event) => {
        if (onClose) onClose(event.code, event.reason);
        if (stopped || finalCodes.includes(event.code)) {
          setState("ws-state", "closed", event.code === 4404 ? t("ws.notFound") : event.reason || t("ws.closed"));
          return;
        }
        setState("ws-state", "reconnecting", t("ws.closed"));
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }

    connect();
    return {
      // Send a JSON message now if the socket is open; onOpen is where to send it again after a reconnect.
      send(message) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      },
      close() {
        stopped = true;
        if (socket) socket.close(1000);
      },
    };
  }

  function statusText(status) {
    return t("status." + status);
  }

  function sessionText(state) {
    return state ? t("session." + state) : t("session.none");
  }

  // Show a stream event on the elements every page shares (#stream-status, #viewer-count, #session-state).
  function showStreamEvent(message) {
    const data = message.data || {};
    if (message.type === "snapshot") {
      if (data.status) setState("stream-status", data.status, statusText(data.status));
      setText("viewer-count", data.viewerCount);
      const session = data.session;
      setState("session-state", session ? session.state : "", sessionText(session && session.state));
    } else if (message.type === "stream.status") {
      setState("stream-status", data.status, statusText(data.status));
    } else if (message.type === "viewers.count") {
      setText("viewer-count", data.viewerCount);
    } else if (message.type === "session.state") {
      setState("session-state", data.state, sessionText(data.state));
    }
  }

  function setText(id, value) {
    const element = document.getElementById(id);
    if (element && value !== undefined && value !== null) element.textContent = String(value);
  }

  // Send ICE candidates to `pathFn()` once it returns a path; queue them until then.
  function candidateSender(pathFn, headers) {
    const queued = [];
    let flushing = Promise.resolve();

    function send(items) {
      const path = pathFn();
      if (!path) {
        queued.push(...items);
        return;
      }
      flushing = flushing
        .then(() => api("POST", path, items.length === 1 ? items[0] : items, headers))
        .catch((error) => console.warn("trickle failed", error.code, error.message));
    }

    return {
      add(candidate) {
        // A null candidate (or an empty one) marks the end of gathering.
        if (!candidate || !candidate.candidate) send([{ completed: true }]);
        else send([candidate.toJSON ? candidate.toJSON() : candidate]);
      },
      flush() {
        if (!queued.length) return;
        const items = queued.splice(0);
        const completed = items.some((item) => item.completed);
        const candidates = items.filter((item) => !item.completed);
        if (candidates.length) send(candidates);
        if (completed) send([{ completed: true }]);
      },
    };
  }

  return { t, api, ApiError, iceServers, liveEvents, setState, setText, showError, showStreamEvent, statusText, candidateSender, language };
})();
