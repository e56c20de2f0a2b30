// Dashboard: every stream with its status, publisher and viewer count, updated live.
"use strict";

(() => {
  const { t, api, liveEvents, showError, statusText } = Course;
  const body = document.querySelector("#streams tbody");
  const PAGE_SIZE = 100;

  function cell(row, name, text, state) {
    const element = row.querySelector(`[data-field="${name}"]`);
    element.textContent = text;
    if (state !== undefined) element.dataset.state = state;
  }

  function link(href, text, className) {
    const anchor = document.createElement("a");
    anchor.href = href;
    anchor.textContent = text;
    anchor.className = className;
    return anchor;
  }

  function rowFor(stream) {
    const row = document.createElement("tr");
    row.dataset.streamId = stream.id;
    for (const name of ["title", "owner", "status", "session", "viewers", "created"]) {
      const td = document.createElement("td");
      td.dataset.field = name;
      row.appendChild(td);
    }
    const actions = document.createElement("td");
    actions.appendChild(link(`/watch/${stream.id}`, t("dashboard.watch"), "watch-link"));
    actions.appendChild(document.createTextNode(" · "));
    actions.appendChild(link(`/publish/${stream.id}`, t("dashboard.publish"), "publish-link"));
    row.appendChild(actions);

    cell(row, "title", stream.title);
    cell(row, "owner", stream.ownerName || "");
    cell(row, "status", statusText(stream.status), stream.status);
    cell(row, "session", "", "");
    cell(row, "viewers", String(stream.viewerCount));
    cell(row, "created", new Date(stream.createdAt).toLocaleString(Course.language));
    return row;
  }

  function findRow(streamId) {
    return body.querySelector(`tr[data-stream-id="${CSS.escape(streamId)}"]`);
  }

  let loading = null;

  // Read the stream list again (also when an event names a stream the table does not show yet).
  function reload() {
    if (loading) return loading;
    loading = api("GET", `/api/v1/streams?pageSize=${PAGE_SIZE}&sort=-createdAt`)
      .then((page) => {
        body.replaceChildren(...page.items.map(rowFor));
        document.getElementById("stream-total").textContent = String(page.total);
        document.getElementById("streams-empty").hidden = page.items.length > 0;
        showError("");
      })
      .catch((error) => showError(error.message))
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  function onEvent(message) {
    const row = findRow(message.streamId || "");
    if (!row) {
      reload();
      return;
    }
    const data = message.data || {};
    if (message.type === "stream.status") cell(row, "status", statusText(data.status), data.status);
    if (message.type === "viewers.count") cell(row, "viewers", String(data.viewerCount));
    if (message.type === "session.state") cell(row, "session", t("session." + data.state), data.state);
  }

  // Reload after every (re)connect so nothing that happened while the socket was down is missed.
  liveEvents("/ws/streams", { onMessage: onEvent, finalCodes: [] });
  const socketState = document.getElementById("ws-state");
  new MutationObserver(() => {
    if (socketState.dataset.state === "open") reload();
  }).observe(socketState, { attributes: true, attributeFilter: ["data-state"] });
  reload();
  // New streams publish no event until they go live: look for them now and then.
  setInterval(reload, 30000);
})();
