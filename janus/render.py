#!/usr/bin/env python3
"""Render the Janus configuration for one target: tests, local or vps.

Usage: python3 janus/render.py TARGET OUTDIR [options]

OUTDIR receives janus.jcfg, janus.transport.http.jcfg and
janus.plugin.videoroom.jcfg, plus the folders plugins/ and transports/ that
link to the videoroom plugin and the HTTP transport only, and the empty
folders events/ and loggers/. Start Janus with
``janus --configs-folder OUTDIR --config OUTDIR/janus.jcfg``.

Values come from the options, then the environment (JANUS_* variables, listed
by ``--help``), then the target's defaults. Secrets come only from the
environment, so they never show up in a process list. Standard library only:
the script runs before any virtualenv exists (on the VPS, with sudo).
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import ipaddress
import os
import socket
import stat
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
TEMPLATE_FILES = ("janus.jcfg", "janus.transport.http.jcfg", "janus.plugin.videoroom.jcfg")

VIDEOROOM_PLUGIN = "libjanus_videoroom.so"
HTTP_TRANSPORT = "libjanus_http.so"

# Install locations of the Janus libraries: Debian (multiarch), other
# distributions, source builds. The first one with the videoroom plugin wins.
LIB_DIR_PATTERNS = ("/usr/lib/*/janus", "/usr/lib/janus", "/usr/lib64/janus", "/usr/local/lib/janus", "/opt/janus/lib/janus")

TARGETS = ("tests", "local", "vps")


@dataclass
class TargetDefaults:
    """Defaults of one target, before options and environment apply."""

    http_port: int
    rtp_port_range: str
    log_to_file: bool
    admin_http: bool = False
    interface: str = ""
    ice_enforce_list: str = ""
    requires: tuple[str, ...] = field(default_factory=tuple)


DEFAULTS = {
    # The hermetic test namespace: lo plus the veth pair va/vb, 127.0.0.2 on va.
    "tests": TargetDefaults(http_port=8088, rtp_port_range="41000-41199", log_to_file=True, interface="127.0.0.2", ice_enforce_list="va"),
    # `make run` on a developer machine: the ICE interface is detected.
    "local": TargetDefaults(http_port=8088, rtp_port_range="20000-20499", log_to_file=True),
    # The course VPS: the firewall opens UDP 20000-40000 for Janus media.
    "vps": TargetDefaults(
        http_port=8088,
        rtp_port_range="20000-40000",
        log_to_file=False,
        admin_http=True,
        requires=("JANUS_API_SECRET", "JANUS_ADMIN_SECRET", "JANUS_PUBLIC_IP"),
    ),
}

MESSAGES = {
    "es": {
        "missing_env": "Falta la variable de entorno {name}, obligatoria para el destino {target}.",
        "no_janus_libs": "No se encuentran las bibliotecas de Janus ({plugin}) en {places}. Instala Janus con `sudo apt-get install janus` o indica la carpeta con JANUS_LIB_DIR.",
        "missing_lib": "No existe {path}: JANUS_LIB_DIR debe ser la carpeta que contiene plugins/ y transports/ de Janus.",
        "no_ice_interface": "No hay ninguna interfaz de red con IPv4 aparte de loopback, y Janus no hace ICE sobre loopback. Indica la interfaz con JANUS_ICE_ENFORCE_LIST (por ejemplo eth0).",
        "bad_port": "{name}={value} no es un puerto válido (1-65535).",
        "bad_range": "{name}={value} no es un rango de puertos válido: usa MIN-MAX, por ejemplo 20000-40000.",
        "bad_number": "{name}={value} no es un número entero positivo.",
        "bad_ip": "{name}={value} no es una dirección IPv4 válida.",
        "written": "Configuración de Janus ({target}) escrita en {outdir}",
        "api_url": "API REST de Janus: http://127.0.0.1:{port}/janus",
        "ice": "Interfaces para ICE: {value}",
    },
    "en": {
        "missing_env": "The environment variable {name} is missing; the {target} target requires it.",
        "no_janus_libs": "Janus libraries ({plugin}) not found in {places}. Install Janus with `sudo apt-get install janus` or set JANUS_LIB_DIR to their folder.",
        "missing_lib": "{path} does not exist: JANUS_LIB_DIR must be the folder that holds Janus's plugins/ and transports/.",
        "no_ice_interface": "No network interface other than loopback has an IPv4 address, and Janus does no ICE on loopback. Name the interface with JANUS_ICE_ENFORCE_LIST (for example eth0).",
        "bad_port": "{name}={value} is not a valid port (1-65535).",
        "bad_range": "{name}={value} is not a valid port range: use MIN-MAX, for example 20000-40000.",
        "bad_number": "{name}={value} is not a positive integer.",
        "bad_ip": "{name}={value} is not a valid IPv4 address.",
        "written": "Janus configuration ({target}) written to {outdir}",
        "api_url": "Janus REST API: http://127.0.0.1:{port}/janus",
        "ice": "ICE interfaces: {value}",
    },
}


class RenderError(Exception):
    """A value is missing or invalid. The message names it and what to set."""


def language(environ: dict[str, str] | None = None) -> str:
    """Return "en" when LC_ALL, LC_MESSAGES or LANG (the first one set) starts with en, else "es"."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "es"
    return "es"


def message(key: str, **values: object) -> str:
    """Return the message ``key`` in the user's language."""
    return MESSAGES[language()][key].format(**values)


def find_lib_dir(environ: dict[str, str]) -> Path:
    """Return the Janus library folder: JANUS_LIB_DIR, or the first installed one."""
    configured = environ.get("JANUS_LIB_DIR", "")
    if configured:
        lib_dir = Path(configured)
        for relative in (f"plugins/{VIDEOROOM_PLUGIN}", f"transports/{HTTP_TRANSPORT}"):
            if not (lib_dir / relative).exists():
                raise RenderError(message("missing_lib", path=lib_dir / relative))
        return lib_dir

    for pattern in LIB_DIR_PATTERNS:
        for candidate in sorted(glob.glob(pattern)):
            if (Path(candidate) / "plugins" / VIDEOROOM_PLUGIN).exists():
                return Path(candidate)
    raise RenderError(message("no_janus_libs", plugin=VIDEOROOM_PLUGIN, places=", ".join(LIB_DIR_PATTERNS)))


def _ipv4_address(interface: str) -> str | None:
    """Return the IPv4 address of ``interface``, or None when it has none (Linux SIOCGIFADDR)."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", interface.encode()[:15])
        try:
            reply = fcntl.ioctl(sock.fileno(), siocgifaddr, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])


def _default_route_interface() -> str | None:
    """Return the interface of the IPv4 default route from /proc/net/route, if any."""
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        columns = line.split()
        if len(columns) > 1 and columns[1] == "00000000":
            return columns[0]
    return None


def _is_loopback(interface: str) -> bool:
    """Return whether ``interface`` has IFF_LOOPBACK (Linux SIOCGIFFLAGS)."""
    siocgifflags, iff_loopback = 0x8913, 0x8
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", interface.encode()[:15])
        try:
            reply = fcntl.ioctl(sock.fileno(), siocgifflags, request)
        except OSError:
            return False
    (flags,) = struct.unpack("H", reply[16:18])
    return bool(flags & iff_loopback)


def detect_ice_interface() -> str:
    """Pick the interface Janus gathers ICE candidates on for the local target.

    The interface of the default route comes first; without one (an offline
    machine, a network namespace) the first non-loopback interface with an
    IPv4 address. Janus ignores loopback interfaces, and with an enforce list
    that matches nothing it would gather on every interface, so finding none
    is an error rather than an empty list.
    """
    default = _default_route_interface()
    if default and not _is_loopback(default) and _ipv4_address(default):
        return default

    # socket.if_nameindex() lists this network namespace's interfaces;
    # /sys/class/net may show another namespace's (the one that mounted /sys).
    for _, interface in sorted(socket.if_nameindex()):
        if not _is_loopback(interface) and _ipv4_address(interface):
            return interface
    raise RenderError(message("no_ice_interface"))


def _port(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RenderError(message("bad_port", name=name, value=value)) from None
    if not 1 <= number <= 65535:
        raise RenderError(message("bad_port", name=name, value=value))
    return number


def _port_range(name: str, value: str) -> str:
    low, separator, high = value.partition("-")
    if not separator:
        raise RenderError(message("bad_range", name=name, value=value))
    try:
        low_port, high_port = int(low), int(high)
    except ValueError:
        raise RenderError(message("bad_range", name=name, value=value)) from None
    if not 1024 <= low_port < high_port <= 65535:
        raise RenderError(message("bad_range", name=name, value=value))
    return f"{low_port}-{high_port}"


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RenderError(message("bad_number", name=name, value=value)) from None
    if number < 1:
        raise RenderError(message("bad_number", name=name, value=value))
    return number


def _ipv4(name: str, value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise RenderError(message("bad_ip", name=name, value=value)) from None


def _quote(value: str) -> str:
    """Quote ``value`` as a libconfig string (the .jcfg syntax)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_values(target: str, outdir: Path, options: dict[str, object], environ: dict[str, str]) -> dict[str, str]:
    """Collect the template values for ``target``; raise RenderError naming a bad or missing one."""
    defaults = DEFAULTS[target]
    for name in defaults.requires:
        if not environ.get(name):
            raise RenderError(message("missing_env", name=name, target=target))

    def pick(option_name: str | None, env_name: str, default: object) -> str:
        option = options.get(option_name) if option_name else None
        if option not in (None, ""):
            return str(option)
        return environ.get(env_name) or str(default)

    http_port = _port("JANUS_HTTP_PORT", pick("port", "JANUS_HTTP_PORT", defaults.http_port))
    admin_port = _port("JANUS_ADMIN_PORT", pick("admin_port", "JANUS_ADMIN_PORT", 7088))
    session_timeout = _positive_int("JANUS_SESSION_TIMEOUT", pick("session_timeout", "JANUS_SESSION_TIMEOUT", 60))
    debug_level = _positive_int("JANUS_DEBUG_LEVEL", pick(None, "JANUS_DEBUG_LEVEL", 4))
    rtp_port_range = _port_range("JANUS_RTP_PORT_RANGE", pick("rtp_port_range", "JANUS_RTP_PORT_RANGE", defaults.rtp_port_range))

    ice_enforce_list = environ.get("JANUS_ICE_ENFORCE_LIST") or defaults.ice_enforce_list
    if target == "local" and not ice_enforce_list:
        ice_enforce_list = detect_ice_interface()
    interface = environ.get("JANUS_INTERFACE") or defaults.interface
    if interface:
        interface = _ipv4("JANUS_INTERFACE", interface)

    api_secret = environ.get("JANUS_API_SECRET", "")
    admin_secret = environ.get("JANUS_ADMIN_SECRET", "") if defaults.admin_http else ""

    # Only the VPS may name a STUN server (a VPS behind NAT without a known public IP).
    stun_server = environ.get("JANUS_STUN_SERVER", "") if target == "vps" else ""
    stun_port = _port("JANUS_STUN_PORT", environ.get("JANUS_STUN_PORT") or "3478")
    public_ip = _ipv4("JANUS_PUBLIC_IP", environ["JANUS_PUBLIC_IP"]) if target == "vps" else ""

    log_file = options.get("log_file") or environ.get("JANUS_LOG_FILE") or str(outdir / "janus.log")

    return {
        "target": target,
        "configs_folder": str(outdir),
        "plugins_folder": str(outdir / "plugins"),
        "transports_folder": str(outdir / "transports"),
        "events_folder": str(outdir / "events"),
        "loggers_folder": str(outdir / "loggers"),
        "log_to_stdout": "false" if defaults.log_to_file else "true",
        "log_to_file_line": f"\tlog_to_file = {_quote(log_file)}" if defaults.log_to_file else "\t# Logs go to stdout (the systemd journal).",
        "debug_level": str(debug_level),
        "session_timeout": str(session_timeout),
        "interface_line": f"\tinterface = {_quote(interface)}" if interface else "\t# interface: not set, Janus picks the address for the SDP.",
        "api_secret_line": f"\tapi_secret = {_quote(api_secret)}" if api_secret else "\t# api_secret: not set; only loopback clients reach the HTTP transport.",
        "admin_secret_line": f"\tadmin_secret = {_quote(admin_secret)}" if admin_secret else "\t# admin_secret: not set; the Admin API is disabled.",
        "rtp_port_range": rtp_port_range,
        "stun_lines": (
            f"\tstun_server = {_quote(stun_server)}\n\tstun_port = {stun_port}"
            if stun_server
            else "\t# No stun_server and no turn_*: Janus contacts no outside host to gather candidates."
        ),
        "nat_1_1_line": (
            f"\tnat_1_1_mapping = {_quote(public_ip)}\n\tkeep_private_host = false"
            if public_ip
            else "\t# nat_1_1_mapping: not set (no 1:1 NAT in front of this Janus)."
        ),
        "ice_enforce_line": (
            f"\tice_enforce_list = {_quote(ice_enforce_list)}"
            if ice_enforce_list
            else "\t# ice_enforce_list: not set, every non-loopback interface is used."
        ),
        "http_ip": "127.0.0.1",
        "http_port": str(http_port),
        "admin_http": "true" if defaults.admin_http else "false",
        "admin_port": str(admin_port),
    }


def _link_only(folder: Path, source: Path) -> None:
    """Make ``folder`` hold exactly one symlink, to ``source``."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
    (folder / source.name).symlink_to(source)


def render(target: str, outdir: Path, environ: dict[str, str] | None = None, **options: object) -> dict[str, str]:
    """Write the configuration of ``target`` into ``outdir`` and return the values used.

    ``options`` are the command-line options by name (port, admin_port,
    session_timeout, rtp_port_range, log_file); None means "not given".
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    environ = dict(os.environ if environ is None else environ)
    outdir = Path(outdir).resolve()
    lib_dir = find_lib_dir(environ)
    values = build_values(target, outdir, options, environ)

    outdir.mkdir(parents=True, exist_ok=True)
    _link_only(outdir / "plugins", lib_dir / "plugins" / VIDEOROOM_PLUGIN)
    _link_only(outdir / "transports", lib_dir / "transports" / HTTP_TRANSPORT)
    for empty in ("events", "loggers"):
        (outdir / empty).mkdir(exist_ok=True)

    # Files may hold api_secret/admin_secret: readable by owner and group only.
    for name in TEMPLATE_FILES:
        text = Template((TEMPLATES / f"{name}.in").read_text()).substitute(values)
        path = outdir / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Render the Janus configuration for one target.",
        epilog=(
            "Environment: JANUS_HTTP_PORT, JANUS_ADMIN_PORT, JANUS_SESSION_TIMEOUT, JANUS_RTP_PORT_RANGE, "
            "JANUS_DEBUG_LEVEL, JANUS_LOG_FILE, JANUS_INTERFACE, JANUS_ICE_ENFORCE_LIST, JANUS_LIB_DIR, "
            "JANUS_API_SECRET, and for vps JANUS_ADMIN_SECRET, JANUS_PUBLIC_IP, JANUS_STUN_SERVER, JANUS_STUN_PORT."
        ),
    )
    parser.add_argument("target", choices=TARGETS, help="tests (hermetic namespace), local (make run) or vps")
    parser.add_argument("outdir", type=Path, help="folder that receives the configuration")
    parser.add_argument("--port", help="HTTP port of the Janus REST API (default 8088)")
    parser.add_argument("--admin-port", help="HTTP port of the Admin API, vps only (default 7088)")
    parser.add_argument("--session-timeout", help="seconds before an idle Janus session is destroyed (default 60)")
    parser.add_argument("--rtp-port-range", help="UDP ports for media, MIN-MAX")
    parser.add_argument("--log-file", help="Janus log file (default OUTDIR/janus.log; vps logs to stdout)")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        values = render(
            args.target,
            args.outdir,
            port=args.port,
            admin_port=args.admin_port,
            session_timeout=args.session_timeout,
            rtp_port_range=args.rtp_port_range,
            log_file=args.log_file,
        )
    except RenderError as exc:
        print(exc, file=sys.stderr)
        return 1

    if not args.quiet:
        print(message("written", target=args.target, outdir=values["configs_folder"]))
        print(message("api_url", port=values["http_port"]))
        enforce = values["ice_enforce_line"].strip()
        if enforce.startswith("ice_enforce_list"):
            print(message("ice", value=enforce.split("=", 1)[1].strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
