"""A client for the Janus HTTP REST API: one session, its handles, and one event-pump thread.

For requests that Janus completes at once (create, attach, detach, trickle,
keepalive, synchronous plugin requests) the HTTP response is the reply. Plugin requests that carry
JSEP are asynchronous: Janus returns "ack" and delivers the real reply later on
the session's long-poll, matched by transaction id. One daemon thread per client
long-polls ``GET /janus/<session>?maxev=N`` and routes each event either to the
caller waiting for its transaction or to the listener of its handle, so the
thread count does not depend on the number of handles.

When the long-poll returns 458 or HTTP 404, the session is gone because Janus
restarted or the session expired. The client then opens a new session, sends
every handle listener ``handle_lost`` and passes every session listener the old
and new ids. While Janus is unreachable the pump retries with a growing delay
and logs it.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

from common.janus.errors import (
    JanusError,
    JanusProtocolError,
    JanusSessionLost,
    JanusTimeout,
    JanusUnavailable,
    core_error,
    plugin_error,
)
from common.janus.events import HANDLE_EVENT_KINDS, HANDLE_LOST, JanusEvent, JanusReply, event_from_message

logger = logging.getLogger(__name__)

HandleListener = Callable[[JanusEvent], None]
SessionListener = Callable[[int, int], None]

# Janus's HTTP transport keeps a long-poll open for 30 s before it returns a
# keepalive (measured with Janus 1.1.2). A poll that outlasts this plus the
# client's timeout means Janus hung.
LONG_POLL_SECONDS = 30.0

# Connections kept open to Janus for callers' requests. requests keeps 10 by default, and
# the load benchmark's 100 concurrent publishers made urllib3 discard and reopen the rest.
REQUEST_POOL_SIZE = 64

# Delays between attempts while Janus is unreachable; the last one repeats.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 5.0)

# While Janus stays unreachable the pump logs the first failure and then every Nth.
FAILURE_LOG_EVERY = 12

_SECRET_PARAMETER = re.compile(r"(apisecret=)[^&\s\"']*")


class _RedactSecretParameter(logging.Filter):
    """Hide ``apisecret=...`` in urllib3's request lines, which include the long-poll query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "apisecret=" in text:
            record.msg = _SECRET_PARAMETER.sub(r"\1<hidden>", text)
            record.args = None
        return True


_redact_filter = _RedactSecretParameter()


def _install_redaction() -> None:
    """Attach the apisecret redaction to urllib3's logger once per process."""
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    if _redact_filter not in urllib3_logger.filters:
        urllib3_logger.addFilter(_redact_filter)


class _Waiter:
    """A caller waiting for the asynchronous reply of one transaction."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.error: JanusError | None = None

    def resolve(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self._done.set()

    def fail(self, error: JanusError) -> None:
        self.error = error
        self._done.set()

    def wait(self, seconds: float, description: str) -> dict[str, Any]:
        if not self._done.wait(max(seconds, 0.0)):
            raise JanusTimeout(f"Janus timed out: no reply to {description}")
        if self.error is not None:
            raise self.error
        return self.reply or {}


class JanusClient:
    """One Janus session over the HTTP REST API, shared by every handle of this process.

    Nothing is sent until ``start``. Every call waits at most ``timeout`` seconds
    (``message`` also takes its own) and raises JanusTimeout after that.
    ``api_secret`` goes into every request as ``apisecret`` and into no log line.
    """

    def __init__(self, url: str, api_secret: str = "", timeout: float = 10.0, maxev: int = 10) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be greater than 0 seconds")
        if maxev < 1:
            raise ValueError("maxev must be at least 1")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.maxev = int(maxev)
        self._api_secret = api_secret
        if api_secret:
            _install_redaction()

        # Callers' requests and the long-poll use separate connection pools, so a
        # 30 s poll never occupies a connection that a request is waiting for.
        self._http = requests.Session()
        self._http.mount("http://", HTTPAdapter(pool_maxsize=REQUEST_POOL_SIZE))
        self._http.mount("https://", HTTPAdapter(pool_maxsize=REQUEST_POOL_SIZE))
        self._poll_http = requests.Session()

        self._lock = threading.Lock()
        self._session_id: int | None = None
        self._lost_session_id: int | None = None
        self._handles: dict[int, HandleListener | None] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._session_listeners: list[SessionListener] = []
        self._pump: threading.Thread | None = None
        self._stopping = threading.Event()
        self._reachable = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------------

    @property
    def session_id(self) -> int | None:
        """The current Janus session id; it changes after a Janus restart, None before ``start``."""
        return self._session_id

    @property
    def running(self) -> bool:
        """True between ``start`` and ``close``."""
        return self._pump is not None and not self._stopping.is_set()

    @property
    def reachable(self) -> bool:
        """True while the last exchange with Janus succeeded."""
        return self._reachable

    def start(self) -> None:
        """Create the Janus session and start the event pump.

        Raises JanusUnavailable when Janus cannot be reached, JanusTimeout when
        it does not reply in time, JanusUnauthorized when it rejects the api_secret.
        """
        if self.running:
            return
        self._stopping = threading.Event()
        self._closed = False
        session_id = self._create_session()
        with self._lock:
            self._session_id = session_id
            self._lost_session_id = None

        self._pump = threading.Thread(
            target=self._pump_loop, args=(self._stopping,), name=f"janus-event-pump-{session_id}", daemon=True
        )
        self._pump.start()
        logger.info("janus client started: session=%s url=%s", session_id, self.url)

    def close(self) -> None:
        """Destroy the session and stop the pump.

        The pump thread is a daemon and exits when its current long-poll returns,
        up to 30 s later. It sends no request after ``close``.
        """
        if self._pump is None:
            return
        with self._lock:
            # Under the lock, so the pump cannot replace the session after this.
            self._stopping.set()
            self._closed = True
            session_id = self._session_id
            self._session_id = None
        if session_id is not None:
            self._destroy_quietly(session_id)

        with self._lock:
            self._handles.clear()
            waiters = list(self._waiters.values())
            self._waiters.clear()
        for waiter in waiters:
            waiter.fail(JanusSessionLost("the Janus client was closed"))
        self._http.close()
        self._pump = None

    def add_session_listener(self, listener: SessionListener) -> None:
        """Call ``listener(old_session_id, new_session_id)`` from the pump after a session is replaced."""
        with self._lock:
            self._session_listeners.append(listener)

    # -- requests ------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Return Janus's ``GET /info`` document (version, plugins, transports)."""
        started = time.monotonic()
        result = "error"
        try:
            try:
                reply = self._get(self.url + "/info", self.timeout, self._http)
            except _NotFound:
                raise JanusProtocolError(f"no Janus API at {self.url} (HTTP 404); the URL should end with the base path, /janus") from None
            if reply.get("janus") != "server_info":
                raise JanusProtocolError(f"unexpected reply to info: {reply.get('janus')!r}")
            result = "server_info"
            return reply
        except JanusError as exc:
            result = _describe_error(exc)
            raise
        finally:
            logger.info("janus info -> %s in %.0f ms", result, (time.monotonic() - started) * 1000)

    def keepalive(self) -> None:
        """Reset the session's idle timer (the long-poll does this too)."""
        self._execute("keepalive", {}, expect=("ack",))

    def attach(self, plugin: str, listener: HandleListener | None = None, opaque_id: str | None = None) -> int:
        """Attach a handle to ``plugin`` and return its id.

        ``listener`` receives this handle's JanusEvents on the pump thread. It
        must return quickly, and it cannot wait for an asynchronous reply
        (``message`` raises RuntimeError there), because the pump delivers those.
        """
        payload: dict[str, Any] = {"plugin": plugin}
        if opaque_id:
            payload["opaque_id"] = opaque_id
        reply = self._execute("attach", payload, detail=plugin)
        handle_id = _int_member(reply.get("data"), "id", "attach")
        with self._lock:
            self._handles[handle_id] = listener
        return handle_id

    def detach(self, handle_id: int) -> None:
        """Detach the handle; its listener gets no more events."""
        try:
            self._execute("detach", {}, handle_id=handle_id)
        finally:
            with self._lock:
                self._handles.pop(handle_id, None)

    def hangup(self, handle_id: int) -> None:
        """Close the handle's PeerConnection; the handle stays attached."""
        self._execute("hangup", {}, handle_id=handle_id)

    def message(self, handle_id: int, body: dict[str, Any], jsep: dict[str, Any] | None = None, timeout: float | None = None) -> JanusReply:
        """Send ``body`` (and ``jsep``) to the handle's plugin and return its reply.

        Waits for the asynchronous event when Janus returns "ack". Raises the
        plugin's error class (VideoRoomError subclasses for the videoroom) when
        the reply carries ``error_code``, and JanusError subclasses for core errors.
        """
        self._reject_on_pump_thread("message")
        payload: dict[str, Any] = {"body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        detail = str(body.get("request", "")) if isinstance(body, dict) else ""
        reply = self._execute("message", payload, handle_id=handle_id, async_reply=True, timeout=timeout, detail=detail)
        return _plugin_reply(reply)

    def trickle(self, handle_id: int, candidate: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Send ICE candidates: one ``{candidate, sdpMid, sdpMLineIndex}``, a list of them, or ``{"completed": True}``."""
        if isinstance(candidate, list):
            payload: dict[str, Any] = {"candidates": candidate}
        elif isinstance(candidate, dict) and candidate.get("completed") is True:
            payload = {"candidate": {"completed": True}}
        elif isinstance(candidate, dict):
            payload = {"candidate": candidate}
        else:
            raise TypeError("candidate must be a dict, a list of dicts or {'completed': True}")
        self._execute("trickle", payload, handle_id=handle_id, expect=("ack",))

    # -- transport -----------------------------------------------------------

    def _execute(
        self,
        verb: str,
        payload: dict[str, Any],
        *,
        handle_id: int | None = None,
        session_id: int | None = None,
        async_reply: bool = False,
        timeout: float | None = None,
        expect: tuple[str, ...] = ("success",),
        detail: str = "",
    ) -> dict[str, Any]:
        """POST one Janus request, wait for its reply, log one line, and return the reply."""
        timeout = self.timeout if timeout is None else float(timeout)
        if verb != "create":
            session_id = session_id or self._require_session()
        transaction = secrets.token_hex(8)
        body = {"janus": verb, "transaction": transaction, **payload}
        if self._api_secret:
            body["apisecret"] = self._api_secret

        path = self.url
        if session_id is not None:
            path += f"/{session_id}"
        if handle_id is not None:
            path += f"/{handle_id}"

        waiter = None
        if async_reply:
            # Registered before the POST: the event may arrive before the ack.
            waiter = _Waiter()
            with self._lock:
                self._waiters[transaction] = waiter

        started = time.monotonic()
        result = "error"
        try:
            reply = self._post(path, body, timeout)
            kind = reply.get("janus")
            if kind == "error":
                raise _core_error_from(reply)

            if async_reply and kind == "ack":
                remaining = timeout - (time.monotonic() - started)
                reply = waiter.wait(remaining, f"{verb} {detail} (transaction {transaction})")
                kind = reply.get("janus")
                if kind == "error":
                    raise _core_error_from(reply)
                expected = ("event",)
            else:
                expected = expect
            if kind not in expected:
                raise JanusProtocolError(f"unexpected reply to {verb}: {kind!r}")

            result = _describe_reply(reply)
            if verb in ("create", "attach"):
                result += f" id={(reply.get('data') or {}).get('id')}"
            return reply
        except JanusError as exc:
            result = _describe_error(exc)
            raise
        finally:
            if waiter is not None:
                with self._lock:
                    self._waiters.pop(transaction, None)
            logger.info(
                "janus %s%s tx=%s session=%s handle=%s -> %s in %.0f ms",
                verb,
                f" {detail}" if detail else "",
                transaction,
                session_id,
                handle_id,
                result,
                (time.monotonic() - started) * 1000,
            )

    def _require_session(self) -> int:
        session_id = self._session_id
        if session_id is None:
            if self._closed:
                raise JanusUnavailable("the Janus client is closed")
            if self._pump is None:
                raise RuntimeError("JanusClient.start() must be called before sending requests")
            raise JanusSessionLost("the Janus session was lost and a new one is not open yet")
        return session_id

    def _reject_on_pump_thread(self, verb: str) -> None:
        if threading.current_thread() is self._pump:
            raise RuntimeError(
                f"{verb} waits for an event that the pump thread delivers; call it from another thread, not from a listener"
            )

    def _post(self, url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            response = self._http.post(url, json=body, timeout=(min(timeout, 5.0), timeout))
        except requests.Timeout:
            self._reachable = False
            raise JanusTimeout(f"Janus at {self.url} timed out: no response within {timeout:g} s") from None
        except requests.RequestException as exc:
            self._reachable = False
            raise JanusUnavailable(f"Janus unreachable at {self.url}: {self._redact(str(exc))}") from None
        try:
            return self._decode(response)
        except _NotFound:
            raise JanusProtocolError(f"no Janus API at {self.url} (HTTP 404); the URL should end with the base path, /janus") from None

    def _get(self, url: str, read_timeout: float, http: requests.Session, params: dict[str, Any] | None = None) -> Any:
        params = dict(params or {})
        if self._api_secret:
            params["apisecret"] = self._api_secret
        try:
            response = http.get(url, params=params, timeout=(min(self.timeout, 5.0), read_timeout))
        except requests.Timeout:
            self._reachable = False
            raise JanusTimeout(f"Janus at {self.url} timed out: no response within {read_timeout:g} s") from None
        except requests.RequestException as exc:
            self._reachable = False
            raise JanusUnavailable(f"Janus unreachable at {self.url}: {self._redact(str(exc))}") from None
        return self._decode(response)

    def _decode(self, response: requests.Response) -> Any:
        if response.status_code == 404:
            self._reachable = True
            raise _NotFound()
        if response.status_code != 200:
            raise JanusProtocolError(f"Janus at {self.url} returned HTTP {response.status_code}")
        try:
            reply = response.json()
        except ValueError:
            raise JanusProtocolError(f"Janus at {self.url} returned a body that is not JSON; check that the URL points at Janus") from None
        if not isinstance(reply, (dict, list)):
            raise JanusProtocolError(f"Janus at {self.url} returned JSON that is neither an object nor a list")
        self._reachable = True
        return reply

    def _redact(self, text: str) -> str:
        if self._api_secret:
            text = text.replace(self._api_secret, "<hidden>")
        return _SECRET_PARAMETER.sub(r"\1<hidden>", text)

    def _destroy_quietly(self, session_id: int) -> None:
        try:
            self._execute("destroy", {}, session_id=session_id)
        except JanusError as exc:
            logger.info("janus session %s not destroyed: %s", session_id, self._redact(str(exc)))

    def _create_session(self) -> int:
        reply = self._execute("create", {})
        return _int_member(reply.get("data"), "id", "create")

    # -- event pump ----------------------------------------------------------

    def _pump_loop(self, stopping: threading.Event) -> None:
        """Long-poll the session and route events until ``stopping`` is set."""
        failures = 0
        down_since = 0.0
        while not stopping.is_set():
            try:
                if self._session_id is None:
                    self._reopen_session(stopping)
                events = self._poll()
            except _SessionGone as gone:
                if stopping.is_set():
                    break
                self._replace_session(gone.session_id, gone.reason, stopping)
                continue
            except JanusError as exc:
                if stopping.is_set():
                    break
                failures += 1
                if failures == 1:
                    down_since = time.monotonic()
                if failures == 1 or failures % FAILURE_LOG_EVERY == 0:
                    logger.warning(
                        "janus event pump: %s (session=%s, attempt %d, down for %.0f s); retrying",
                        self._redact(str(exc)),
                        self._session_id,
                        failures,
                        time.monotonic() - down_since,
                    )
                stopping.wait(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])
                continue

            if failures:
                logger.info(
                    "janus event pump: Janus reachable again after %d failed attempts (%.0f s)",
                    failures,
                    time.monotonic() - down_since,
                )
                failures = 0
            if stopping.is_set():
                break
            for event in events:
                self._dispatch(event)
        logger.debug("janus event pump stopped")

    def _poll(self) -> list[dict[str, Any]]:
        session_id = self._session_id
        if session_id is None:
            return []
        params = {"maxev": self.maxev, "rid": int(time.time() * 1000)}
        started = time.monotonic()
        try:
            reply = self._get(f"{self.url}/{session_id}", LONG_POLL_SECONDS + self.timeout, self._poll_http, params)
        except _NotFound:
            raise _SessionGone(session_id, "the long-poll returned HTTP 404 (no such session)") from None

        events = reply if isinstance(reply, list) else [reply]
        routed = []
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("janus")
            if kind == "keepalive":
                continue
            if kind == "timeout":
                raise _SessionGone(session_id, "Janus timed the session out")
            if kind == "error":
                error = event.get("error") or {}
                if error.get("code") == 458:
                    raise _SessionGone(session_id, "the long-poll returned error 458 (no such session)")
                if not event.get("transaction"):
                    logger.warning("janus event pump: error on the long-poll: %s", error)
                    continue
            routed.append(event)
        logger.debug(
            "janus poll session=%s -> %d events in %.0f ms", session_id, len(routed), (time.monotonic() - started) * 1000
        )
        return routed

    def _dispatch(self, event: dict[str, Any]) -> None:
        transaction = event.get("transaction")
        if transaction:
            with self._lock:
                waiter = self._waiters.pop(transaction, None)
            if waiter is not None:
                waiter.resolve(event)
                return
            if event.get("janus") == "event":
                logger.warning(
                    "janus late reply tx=%s handle=%s (its caller stopped waiting); passed to the handle listener",
                    transaction,
                    event.get("sender"),
                )

        kind = event.get("janus")
        if kind not in HANDLE_EVENT_KINDS or "sender" not in event:
            logger.debug("janus event %r without a handle ignored", kind)
            return
        handle_id = int(event["sender"])
        with self._lock:
            listener = self._handles.get(handle_id)
            if kind == "detached":
                self._handles.pop(handle_id, None)
        if listener is None:
            logger.debug("janus event %s for handle %s without a listener ignored", kind, handle_id)
            return
        self._notify(listener, event_from_message(event))

    def _notify(self, listener: HandleListener, event: JanusEvent) -> None:
        try:
            listener(event)
        except Exception:
            # A failing listener must not stop the pump that serves every other handle.
            logger.exception("janus listener for handle %s failed on %s", event.handle_id, event.kind)

    def _replace_session(self, old_session_id: int, reason: str, stopping: threading.Event) -> None:
        """Forget a lost session and its handles, tell their listeners, and open a new session."""
        with self._lock:
            if stopping.is_set() or self._session_id != old_session_id:
                return
            self._session_id = None
            self._lost_session_id = old_session_id
            handles = dict(self._handles)
            self._handles.clear()
            waiters = list(self._waiters.values())
            self._waiters.clear()
        logger.warning(
            "janus session %s lost: %s; %d handles gone, opening a new session", old_session_id, reason, len(handles)
        )

        for waiter in waiters:
            waiter.fail(JanusSessionLost(f"Janus session {old_session_id} was lost: {reason}"))
        for handle_id, listener in handles.items():
            if listener is not None:
                self._notify(listener, JanusEvent(HANDLE_LOST, handle_id, {"reason": reason, "session_id": old_session_id}))

        try:
            self._reopen_session(stopping)
        except JanusError as exc:
            # The pump retries with a delay; the session listeners hear about it then.
            logger.warning("janus new session not opened yet: %s", self._redact(str(exc)))

    def _reopen_session(self, stopping: threading.Event) -> None:
        """Open a session in place of the lost one and tell the session listeners."""
        new_session_id = self._create_session()
        with self._lock:
            closed = stopping.is_set()
            if not closed:
                self._session_id = new_session_id
                old_session_id = self._lost_session_id
                self._lost_session_id = None
                listeners = list(self._session_listeners)
        if closed:
            # close() ran while the session was being created, so no caller will use it.
            self._destroy_quietly(new_session_id)
            return

        logger.info("janus new session %s replaces lost session %s", new_session_id, old_session_id)

        for listener in listeners:
            try:
                listener(old_session_id, new_session_id)
            except Exception:
                # Same as handle listeners: one failing callback must not stop the pump.
                logger.exception("janus session listener failed after the session change %s -> %s", old_session_id, new_session_id)


class _NotFound(Exception):
    """HTTP 404 from Janus: the session in the path does not exist (or the path is wrong)."""


class _SessionGone(Exception):
    """Raised inside the pump when the long-poll shows the session no longer exists."""

    def __init__(self, session_id: int, reason: str) -> None:
        super().__init__(reason)
        self.session_id = session_id
        self.reason = reason


def _core_error_from(reply: dict[str, Any]) -> JanusError:
    error = reply.get("error") or {}
    return core_error(error.get("code"), str(error.get("reason", "unknown Janus error")))


def _plugin_reply(reply: dict[str, Any]) -> JanusReply:
    plugindata = reply.get("plugindata")
    if not isinstance(plugindata, dict) or not isinstance(plugindata.get("data"), dict):
        raise JanusProtocolError("plugin reply without plugindata.data")
    data = plugindata["data"]
    if "error_code" in data or "error" in data:
        code = data.get("error_code")
        raise plugin_error(str(plugindata.get("plugin", "")), code if isinstance(code, int) else None, str(data.get("error", "plugin error")))
    return JanusReply(data=data, jsep=reply.get("jsep"))


def _int_member(data: Any, name: str, verb: str) -> int:
    if not isinstance(data, dict) or not isinstance(data.get(name), int):
        raise JanusProtocolError(f"reply to {verb} has no integer data.{name}")
    return data[name]


def _describe_reply(reply: dict[str, Any]) -> str:
    kind = str(reply.get("janus"))
    plugindata = reply.get("plugindata")
    if isinstance(plugindata, dict) and isinstance(plugindata.get("data"), dict):
        data = plugindata["data"]
        if "error_code" in data:
            return f"{kind} error_code={data['error_code']}"
        if "videoroom" in data:
            return f"{kind} videoroom={data['videoroom']}"
    return kind


def _describe_error(exc: JanusError) -> str:
    if exc.code is not None:
        return f"{type(exc).__name__} {exc.code}"
    return type(exc).__name__
