// Browser preflight: backend reachability, camera and microphone permission, and ICE
// gathering with one RTCPeerConnection per ICE server entry (plus one with no server).
// Results show in the table and, as JSON, in #preflight-results and window.preflightResults;
// body[data-preflight] turns "done" when every check has finished.
"use strict";

(function () {
  const strings = JSON.parse(document.getElementById("preflight-strings").textContent);
  const config = JSON.parse(document.getElementById("preflight-config").textContent);

  const results = { status: "running", checks: [] };
  window.preflightResults = results;

  // Fill %(name)s fields the way the server's messages do.
  function format(text, params) {
    return text.replace(/%\((\w+)\)s/g, (_, name) => (name in (params || {}) ? String(params[name]) : "?"));
  }

  function publish() {
    document.getElementById("preflight-results").textContent = JSON.stringify(results, null, 2);
  }

  function record(row, check) {
    const statusCell = row.querySelector(".status");
    statusCell.dataset.status = check.status;
    statusCell.textContent = strings[check.status] || check.status;
    const target = row.querySelector(".detail .summary") || row.querySelector(".detail");
    target.textContent = check.detail;
    results.checks.push(check);
    publish();
  }

  function errorText(error) {
    return error && error.message ? error.message : String(error);
  }

  // --- Backend ---

  async function fetchJson(url) {
    const started = performance.now();
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    const body = await response.json();
    return { body, ms: Math.round(performance.now() - started) };
  }

  async function checkBackend() {
    const row = document.getElementById("check-backend");
    const url = new URL(config.healthUrl, window.location.href).href;
    try {
      const { body, ms } = await fetchJson(url);
      if (body.status !== "ok") {
        throw new Error(JSON.stringify(body));
      }
      record(row, { name: "backend", status: "ok", detail: format(strings.backendOk, { url, ms }), data: { url, ms } });
      return true;
    } catch (error) {
      record(row, { name: "backend", status: "fail", detail: format(strings.backendFailed, { url, error: errorText(error) }), data: { url } });
      return false;
    }
  }

  async function loadIceServers(backendOk) {
    const row = document.getElementById("check-ice-servers");
    if (!backendOk) {
      record(row, { name: "ice_servers", status: "skip", detail: strings.skipped, data: {} });
      return null;
    }
    try {
      const { body } = await fetchJson(config.iceServersUrl);
      if (!Array.isArray(body.iceServers)) {
        throw new Error("iceServers missing");
      }
      const count = body.iceServers.length;
      // The served credentials stay out of the results: they are secrets for their lifetime.
      const urls = body.iceServers.map((entry) => [].concat(entry.urls));
      record(row, { name: "ice_servers", status: "ok", detail: format(strings.iceServersOk, { count }), data: { count, urls, ttl: body.ttl } });
      return body.iceServers;
    } catch (error) {
      record(row, { name: "ice_servers", status: "fail", detail: format(strings.iceServersFailed, { error: errorText(error) }), data: {} });
      return null;
    }
  }

  // --- Camera and microphone ---

  async function checkMedia() {
    const row = document.getElementById("check-media");
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      record(row, { name: "media", status: "fail", detail: strings.mediaInsecure, data: { secureContext: window.isSecureContext } });
      return null;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const tracks = stream.getTracks().map((track) => ({ kind: track.kind, label: track.label }));
      const shown = tracks.map((track) => track.kind + " (" + (track.label || "?") + ")").join(", ");
      record(row, { name: "media", status: "ok", detail: format(strings.mediaOk, { tracks: shown }), data: { tracks } });
      return stream;
    } catch (error) {
      const byName = {
        NotAllowedError: strings.mediaDenied,
        SecurityError: strings.mediaDenied,
        NotFoundError: strings.mediaNotFound,
        OverconstrainedError: strings.mediaNotFound,
        NotReadableError: strings.mediaBusy,
      };
      const detail = byName[error.name] || format(strings.mediaFailed, { error: errorText(error) });
      record(row, { name: "media", status: "fail", detail, data: { error: error.name || errorText(error) } });
      return null;
    }
  }

  // --- ICE gathering ---

  function describeCandidate(candidate, url) {
    // Fields of RTCIceCandidate; the candidate line is the fallback for browsers without them.
    const line = candidate.candidate;
    const parts = line.split(" ");
    const typeIndex = parts.indexOf("typ");
    return {
      type: candidate.type || (typeIndex > 0 ? parts[typeIndex + 1] : "?"),
      protocol: candidate.protocol || parts[2] || "?",
      address: candidate.address || parts[4] || "?",
      port: candidate.port || Number(parts[5]) || 0,
      relayProtocol: candidate.relayProtocol || null,
      url: url || candidate.url || null,
    };
  }

  async function gather(iceServers, timeoutMs) {
    const candidates = [];
    const errors = [];
    const pc = new RTCPeerConnection({ iceServers });
    try {
      pc.createDataChannel("preflight");
      const finished = new Promise((resolve) => {
        pc.addEventListener("icecandidate", (event) => {
          if (!event.candidate) {
            resolve();
          } else if (event.candidate.candidate) {
            candidates.push(describeCandidate(event.candidate, event.url));
          }
        });
        pc.addEventListener("icegatheringstatechange", () => {
          if (pc.iceGatheringState === "complete") {
            resolve();
          }
        });
        setTimeout(resolve, timeoutMs);
      });
      pc.addEventListener("icecandidateerror", (event) => {
        errors.push({ url: event.url, errorCode: event.errorCode, errorText: event.errorText });
      });
      await pc.setLocalDescription(await pc.createOffer());
      await finished;
    } finally {
      pc.close();
    }
    return { candidates, errors };
  }

  function expectedType(entry) {
    if (!entry) {
      return "host";
    }
    const urls = [].concat(entry.urls);
    return urls.some((url) => /^turns?:/i.test(url)) ? "relay" : "srflx";
  }

  async function checkIce(entry, index, row) {
    const urls = entry ? [].concat(entry.urls) : [];
    const name = entry ? "ice_server" : "ice_none";
    const expected = expectedType(entry);
    // index is the entry's position in iceServers (null for the run without a server).
    const data = { index: entry ? index - 1 : null, urls, expected, candidates: [], errors: [] };
    try {
      const { candidates, errors } = await gather(entry ? [entry] : [], config.gatherTimeoutMs);
      data.candidates = candidates;
      data.errors = errors;
    } catch (error) {
      record(row, { name, status: "fail", detail: format(strings.iceFailed, { error: errorText(error) }), data });
      return;
    }

    const counts = { host: 0, srflx: 0, prflx: 0, relay: 0 };
    for (const candidate of data.candidates) {
      counts[candidate.type] = (counts[candidate.type] || 0) + 1;
    }
    data.counts = counts;

    const list = row.querySelector(".candidates");
    for (const candidate of data.candidates) {
      const item = document.createElement("li");
      const relay = candidate.relayProtocol ? " relay-protocol " + candidate.relayProtocol : "";
      item.textContent = candidate.type + " " + candidate.protocol + " " + candidate.address + ":" + candidate.port + relay;
      list.appendChild(item);
    }

    let status = "ok";
    let detail = format(strings.candidatesFound, counts);
    if (!counts[expected]) {
      // Without NAT the srflx candidate equals a host one and browsers drop it: only a warning.
      status = expected === "srflx" ? "warn" : "fail";
      const key = { host: "expectedHost", srflx: "expectedSrflx", relay: "expectedRelay" }[expected];
      detail += " " + strings[key];
    }
    if (data.errors.length) {
      const shown = data.errors.map((error) => (error.url || "?") + " " + error.errorCode + " " + (error.errorText || "")).join("; ");
      detail += " " + format(strings.iceErrors, { errors: shown });
    }
    record(row, { name, status, detail, data });
  }

  function addIceRow(label) {
    const template = document.getElementById("ice-row");
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelector("th").textContent = label;
    document.getElementById("ice-checks").appendChild(row);
    return row;
  }

  // --- Run everything ---

  async function run() {
    const backendOk = await checkBackend();
    const iceServers = await loadIceServers(backendOk);
    // Permission first: once it is granted, browsers show real host addresses instead of mDNS names.
    const stream = await checkMedia();

    const entries = [null].concat(iceServers || []);
    const jobs = entries.map((entry, index) => {
      const label = entry ? "ICE: " + [].concat(entry.urls).join(", ") : "ICE: " + strings.noServer;
      return checkIce(entry, index, addIceRow(label));
    });
    await Promise.all(jobs);

    if (stream) {
      stream.getTracks().forEach((track) => track.stop());
    }
    const failed = results.checks.filter((check) => check.status === "fail").length;
    results.status = "done";
    results.failed = failed;
    document.getElementById("summary").textContent = format(strings.done, { failed, total: results.checks.length });
    publish();
    document.body.dataset.preflight = "done";
  }

  run().catch((error) => {
    results.status = "done";
    results.error = errorText(error);
    publish();
    document.body.dataset.preflight = "done";
  });
})();
