"""The Janus configuration package: janus/render.py targets and scripts/janus-local."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.services.availability import free_port, require_binary, require_hermetic_netns

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "janus" / "render.py"
JANUS_LOCAL = REPO / "scripts" / "janus-local"

VPS_ENV = {
    "JANUS_API_SECRET": "vps-api-secret",
    "JANUS_ADMIN_SECRET": "vps-admin-secret",
    # 203.0.113.0/24 is TEST-NET-3 (RFC 5737): never routed, nothing is sent to it.
    "JANUS_PUBLIC_IP": "203.0.113.10",
}


def clean_env(**extra: str) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("JANUS_")}
    environ.update(extra)
    return environ


def run_render(target: str, outdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RENDER), target, str(outdir), *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )


def setting(text: str, name: str) -> str | None:
    """Return the value of an uncommented ``name = value`` line in a .jcfg text."""
    match = re.search(rf"^\s*{name}\s*=\s*(.+?)\s*$", text, re.MULTILINE)
    return match.group(1).strip('"') if match else None


@pytest.fixture
def janus_installed() -> None:
    require_binary("janus", "janus")


def test_tests_target_settings(tmp_path, janus_installed):
    result = run_render("tests", tmp_path, "--port", "18123", "--session-timeout", "15")
    core = (tmp_path / "janus.jcfg").read_text()
    http = (tmp_path / "janus.transport.http.jcfg").read_text()

    assert result.returncode == 0, result.stderr
    assert setting(core, "interface") == "127.0.0.2"
    assert setting(core, "ice_enforce_list") == "va"
    assert setting(core, "ignore_mdns") == "true"
    assert setting(core, "full_trickle") == "false"
    assert setting(core, "ipv6") == "false"
    assert setting(core, "broadcast") == "false"
    assert setting(core, "session_timeout") == "15"
    assert setting(core, "stun_server") is None
    assert setting(core, "turn_server") is None
    assert setting(core, "api_secret") is None
    assert setting(http, "ip") == "127.0.0.1"
    assert setting(http, "port") == "18123"
    assert setting(http, "admin_http") == "false"


def test_only_videoroom_and_http_linked(tmp_path, janus_installed):
    run_render("tests", tmp_path)

    assert sorted(path.name for path in (tmp_path / "plugins").iterdir()) == ["libjanus_videoroom.so"]
    assert sorted(path.name for path in (tmp_path / "transports").iterdir()) == ["libjanus_http.so"]
    assert list((tmp_path / "events").iterdir()) == []
    assert list((tmp_path / "loggers").iterdir()) == []
    assert (tmp_path / "plugins" / "libjanus_videoroom.so").resolve().exists()


def test_local_target_has_no_stun(tmp_path, janus_installed):
    result = run_render("local", tmp_path)
    core = (tmp_path / "janus.jcfg").read_text()
    http = (tmp_path / "janus.transport.http.jcfg").read_text()

    assert result.returncode == 0, result.stderr
    assert setting(core, "stun_server") is None
    assert setting(core, "ice_enforce_list") not in (None, "", "lo")
    assert setting(http, "ip") == "127.0.0.1"
    assert setting(http, "port") == "8088"


def test_vps_target_settings(tmp_path, janus_installed):
    result = run_render("vps", tmp_path, **VPS_ENV)
    core = (tmp_path / "janus.jcfg").read_text()
    http = (tmp_path / "janus.transport.http.jcfg").read_text()

    assert result.returncode == 0, result.stderr
    assert setting(core, "api_secret") == "vps-api-secret"
    assert setting(core, "admin_secret") == "vps-admin-secret"
    assert setting(core, "nat_1_1_mapping") == "203.0.113.10"
    assert setting(core, "rtp_port_range") == "20000-40000"
    assert setting(core, "log_to_stdout") == "true"
    assert setting(core, "stun_server") is None
    assert setting(http, "ip") == "127.0.0.1"
    assert setting(http, "admin_http") == "true"
    assert setting(http, "admin_ip") == "127.0.0.1"
    assert stat.S_IMODE((tmp_path / "janus.jcfg").stat().st_mode) == 0o640


@pytest.mark.parametrize("missing", sorted(VPS_ENV))
def test_vps_target_requires_env(tmp_path, janus_installed, missing):
    env = {name: value for name, value in VPS_ENV.items() if name != missing}

    result = run_render("vps", tmp_path, LANG="en_US.UTF-8", **env)

    assert result.returncode == 1
    assert missing in result.stderr
    assert not (tmp_path / "janus.jcfg").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JANUS_RTP_PORT_RANGE", "40000"),
        ("JANUS_RTP_PORT_RANGE", "30000-20000"),
        ("JANUS_HTTP_PORT", "70000"),
        ("JANUS_SESSION_TIMEOUT", "0"),
        ("JANUS_INTERFACE", "not-an-ip"),
        ("JANUS_LIB_DIR", "/nonexistent"),
    ],
)
def test_invalid_values_rejected(tmp_path, janus_installed, variable, value):
    result = run_render("tests", tmp_path, **{variable: value})

    assert result.returncode == 1
    assert variable in result.stderr or value in result.stderr


def test_vps_config_starts_janus(tmp_path, janus_installed):
    """Janus 1.1.2 accepts the VPS configuration; its Admin API wants the admin secret."""
    require_hermetic_netns()
    port, admin_port = free_port(), free_port()
    run_render("vps", tmp_path / "config", "--port", str(port), "--admin-port", str(admin_port), **VPS_ENV)
    with open(tmp_path / "janus.out", "wb") as output:
        process = subprocess.Popen(
            ["janus", "--configs-folder", str(tmp_path / "config"), "--config", str(tmp_path / "config" / "janus.jcfg")],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        info = wait_for_info(f"http://127.0.0.1:{port}/janus")
        admin_url = f"http://127.0.0.1:{admin_port}/admin"
        rejected = requests.post(admin_url, json={"janus": "list_sessions", "transaction": "a"}, timeout=10).json()
        accepted = requests.post(
            admin_url, json={"janus": "list_sessions", "transaction": "b", "admin_secret": "vps-admin-secret"}, timeout=10
        ).json()
        anonymous = requests.post(f"http://127.0.0.1:{port}/janus", json={"janus": "create", "transaction": "c"}, timeout=10).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert rejected["janus"] == "error"
    assert rejected["error"]["code"] == 403
    assert accepted["janus"] == "success"
    assert anonymous["error"]["code"] == 403


def wait_for_info(url: str, seconds: float = 20.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/info", timeout=2) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"no Janus at {url} within {seconds:g} s")


def process_gone(pid: int) -> bool:
    """Return whether ``pid`` has exited; a zombie waiting for its parent counts as exited."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def run_janus_local(command: str, run_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(JANUS_LOCAL), command],
        env=clean_env(JANUS_RUN_DIR=str(run_dir), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("lang", "phrase"),
    [("es_ES.UTF-8", "no está instalado"), ("en_US.UTF-8", "is not installed"), ("", "no está instalado")],
)
def test_janus_local_without_binary(tmp_path, lang, phrase):
    result = run_janus_local("start", tmp_path, JANUS_BIN="/nonexistent/janus", LANG=lang, LC_ALL="", LC_MESSAGES="")

    assert result.returncode == 0
    assert "sudo apt-get install janus" in result.stdout
    assert phrase in result.stdout
    assert not (tmp_path / "janus.pid").exists()


def test_janus_local_start_status_stop(tmp_path, janus_installed):
    require_hermetic_netns()
    port = str(free_port())

    started = run_janus_local("start", tmp_path, JANUS_HTTP_PORT=port)
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "janus.pid").read_text())
    info = wait_for_info(f"http://127.0.0.1:{port}/janus")
    running = run_janus_local("status", tmp_path, JANUS_HTTP_PORT=port)
    stopped = run_janus_local("stop", tmp_path, JANUS_HTTP_PORT=port)
    after = run_janus_local("status", tmp_path, JANUS_HTTP_PORT=port)

    assert info["janus"] == "server_info"
    assert running.returncode == 0
    assert stopped.returncode == 0
    assert process_gone(pid)
    assert after.returncode == 3
    assert not (tmp_path / "janus.pid").exists()


def test_janus_local_leaves_foreign_pid(tmp_path, janus_installed):
    (tmp_path / "janus.pid").write_text(f"{os.getpid()}\n")

    result = run_janus_local("stop", tmp_path)

    assert result.returncode == 1
    assert (tmp_path / "janus.pid").exists()
