"""The settings of ``palabra serve``: one table for the flags and the config file.

Every flag ``--some-name`` is the key ``some_name`` of the TOML file (a
repeatable flag takes a list). The file is read with ``tomllib``; flags given
on the command line override it. Every value is checked here, before anything
starts, and an error names the key to fix. No I/O beyond reading the files.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .config import ServerConfig
from .credentials import CredentialError, read_or_create
from .turn import TurnUrl, parse_turn_url

# Each credential: its key, its environment variable, its file in the state folder.
CREDENTIALS = (
    ("secret", "PALABRA_SECRET", "secret", "token signing key"),
    ("admin_token", "PALABRA_ADMIN_TOKEN", "admin-token", "admin API token"),
    ("metrics_token", "PALABRA_METRICS_TOKEN", "metrics-token", "metrics token"),
)
# Reports where a credential read from (or made into) the state folder is kept.
CredentialFileSeen = Callable[[str, Path, bool], None]

Kind = Literal["str", "int", "port", "seconds", "bool", "path", "list", "networks", "turn_urls"]


MAX_WORKERS = 64


class ConfigError(Exception):
    """A setting that cannot be used; the message names the key and what to do."""


@dataclass(frozen=True)
class Option:
    key: str
    kind: Kind
    help: str
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", "str", "address to listen on (default 127.0.0.1)"),
    Option("port", "port", "HTTP(S)/WebSocket port (default 8080)"),
    Option(
        "media_address",
        "list",
        "address announced as ICE host candidate (repeatable); default: the machine's interfaces",
        "ADDR",
    ),
    Option(
        "media_port",
        "port",
        "one UDP port for all media, e.g. 7882 (default: ephemeral ports per connection)",
        "PORT",
    ),
    Option(
        "secret",
        "str",
        "token signing key, >= 32 bytes (default: $PALABRA_SECRET, else STATE/secret)",
    ),
    Option(
        "admin_token",
        "str",
        "admin API bearer token, >= 32 bytes "
        "(default: $PALABRA_ADMIN_TOKEN, else STATE/admin-token)",
    ),
    Option(
        "metrics_token",
        "str",
        "GET /metrics bearer token, >= 32 bytes "
        "(default: $PALABRA_METRICS_TOKEN, else STATE/metrics-token)",
    ),
    Option(
        "state_dir",
        "path",
        "where credentials not given are generated and kept, mode 0600 (default ./state)",
        "DIR",
    ),
    Option("public_url", "str", "base URL of printed links (e.g. https://meet.example.org)"),
    Option(
        "allowed_origin",
        "list",
        "another origin (scheme://host[:port]) whose pages may connect (repeatable)",
        "ORIGIN",
    ),
    Option("demo", "bool", "create the demo conference"),
    Option(
        "conference_file",
        "path",
        "open the conference this JSON file describes (the admin API's body: "
        "delegations, settings, agenda)",
        "FILE",
    ),
    Option(
        "recordings",
        "path",
        "folder for recordings of floor and channels (default ./recordings)",
        "DIR",
    ),
    Option("redis_url", "str", "Redis for durable state and several nodes (default: in memory)"),
    Option("node_id", "str", "this node's name (with redis_url)"),
    Option(
        "workers",
        "int",
        "forwarding processes behind the one port, conferences spread across them "
        "(0: one per core; default 1: this process alone)",
        "N",
    ),
    Option("resume_grace", "seconds", "how long a dropped participant keeps its seat (default 30)"),
    Option(
        "media_timeout",
        "seconds",
        "a client whose media sent nothing this long must answer a ping as fast, "
        "or counts as gone (0: off; default 10)",
    ),
    Option(
        "last_n",
        "int",
        "videos forwarded at most to each participant: the floor, the chair and the "
        "most recent speakers; the others show their name (default 9)",
    ),
    Option(
        "heartbeat_timeout",
        "seconds",
        "a client whose WebSocket was silent this long counts as gone (default 45)",
    ),
    Option("log_level", "str", "Python logging level (default INFO)"),
    Option("log_json", "bool", "log JSON lines"),
    Option("access_log", "bool", "log every HTTP request at INFO (default: only at DEBUG)"),
    Option(
        "forwarding",
        "str",
        "packet forwarding path, native or python (default: $PALABRA_FASTPATH, "
        "else native when built)",
    ),
    Option("tls_cert", "path", "PEM certificate chain: serve HTTPS and WSS", "PEM"),
    Option("tls_key", "path", "PEM private key of tls_cert", "PEM"),
    Option(
        "redirect_http_port",
        "port",
        "also listen on this port with plain HTTP and redirect to HTTPS (e.g. 80)",
        "PORT",
    ),
    Option("hsts_max_age", "int", "Strict-Transport-Security max-age with TLS (default 1 year)"),
    Option(
        "trusted_proxy",
        "networks",
        "reverse proxy address or network whose X-Forwarded-* headers are honoured (repeatable)",
        "CIDR",
    ),
    Option(
        "turn_url",
        "turn_urls",
        "TURN server URL handed to clients, e.g. turns:turn.example.org:443?transport=tcp "
        "(repeatable)",
        "URL",
    ),
    Option(
        "turn_secret_file",
        "path",
        "file holding coturn's static-auth-secret (or $PALABRA_TURN_SECRET)",
        "PATH",
    ),
    Option("turn_ttl", "seconds", "lifetime of a seat's TURN credential (default 3600)"),
    Option("turn_check", "bool", "allocate on every TURN URL at start (default true)"),
)
_BY_KEY = {o.key: o for o in OPTIONS}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags; absent ones stay absent so the config file can supply them."""
    parser.add_argument("--config", metavar="TOML", help="settings file (flags override it)")
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": option.help}
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.kind in ("list", "networks", "turn_urls"):
            kwargs["action"] = "append"
        parser.add_argument(option.flag, **kwargs)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def merged_settings(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    credential_files: CredentialFileSeen | None = None,
) -> ServerConfig:
    """The file named by ``flags['config']`` (if any), overridden by the flags."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    source = "the command line"
    config_path = flags.get("config")
    if config_path:
        source = str(config_path)
        values.update(read_config_file(Path(config_path)))
    for key in values:
        if key not in _BY_KEY:
            raise ConfigError(
                f"{source}: unknown key {key!r} (known keys: {', '.join(sorted(_BY_KEY))})"
            )
    values.update({k: v for k, v in flags.items() if k != "config"})
    return build_config(values, environ, credential_files)


def build_config(
    values: Mapping[str, Any],
    environ: Mapping[str, str],
    credential_files: CredentialFileSeen | None = None,
) -> ServerConfig:
    """The checked settings. A credential given neither as a key nor in the
    environment is kept in the state folder when ``credential_files`` is given
    (it hears where), and made up for this process alone otherwise."""
    checked = {key: _check(_BY_KEY[key], value) for key, value in values.items()}
    state_dir = checked.get("state_dir", Path("state"))
    found: dict[str, str] = {}
    for key, variable, filename, what in CREDENTIALS:
        value = checked.get(key) or environ.get(variable, "")
        if not value and credential_files is not None:
            path = state_dir / filename
            try:
                value, made = read_or_create(path, what)
            except OSError as exc:
                raise ConfigError(f"state_dir: cannot keep {path}: {exc.strerror}") from None
            except CredentialError as exc:
                raise ConfigError(f"{path}: {exc}") from None
            credential_files(what, path, made)
        if value:
            found[key] = value
    try:
        config = ServerConfig(
            secret=found.get("secret", ""),
            admin_token=found.get("admin_token", ""),
            metrics_token=found.get("metrics_token", ""),
        )
    except CredentialError as exc:
        raise ConfigError(str(exc)) from None
    simple = {
        "host": "host",
        "port": "port",
        "media_address": "media_addresses",
        "media_port": "media_port",
        "public_url": "public_url",
        "allowed_origin": "allowed_origins",
        "demo": "demo",
        "conference_file": "conference_file",
        "recordings": "recordings",
        "redis_url": "redis_url",
        "node_id": "node_id",
        "workers": "workers",
        "resume_grace": "resume_grace",
        "media_timeout": "media_timeout",
        "last_n": "last_n",
        "heartbeat_timeout": "heartbeat_timeout",
        "log_level": "log_level",
        "log_json": "log_json",
        "access_log": "access_log",
        "forwarding": "forwarding",
        "tls_cert": "tls_cert",
        "tls_key": "tls_key",
        "redirect_http_port": "redirect_http_port",
        "hsts_max_age": "hsts_max_age",
        "trusted_proxy": "trusted_proxies",
        "turn_url": "turn_urls",
        "turn_ttl": "turn_ttl",
        "turn_check": "turn_check",
    }
    for key, attribute in simple.items():
        if key in checked:
            setattr(config, attribute, checked[key])
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {config.log_level!r}"
        )
    config.log_level = config.log_level.upper()
    if config.public_url and not config.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"public_url must start with http:// or https://: {config.public_url!r}")
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("tls_cert and tls_key go together: set both or neither")
    if config.redirect_http_port is not None and config.tls_cert is None:
        raise ConfigError("redirect_http_port needs TLS: set tls_cert and tls_key")
    if config.media_port is not None and any(":" in a for a in config.media_addresses):
        raise ConfigError("media_port is one IPv4 socket: media_address must be IPv4 addresses")
    if config.redirect_http_port is not None and config.redirect_http_port == config.port:
        raise ConfigError("redirect_http_port must differ from port")
    if config.hsts_max_age < 0:
        raise ConfigError(
            f"hsts_max_age must be 0 (off) or more seconds, not {config.hsts_max_age}"
        )
    if not 0 <= config.workers <= MAX_WORKERS:
        raise ConfigError(
            f"workers must be 0 (one per core) to {MAX_WORKERS}, not {config.workers}"
        )
    if config.resume_grace < 0 or config.turn_ttl <= 0:
        raise ConfigError("resume_grace must be ≥ 0 and turn_ttl > 0 seconds")
    if config.last_n < 0:
        raise ConfigError(f"last_n must be 0 or more videos, not {config.last_n}")
    if config.media_timeout < 0 or config.heartbeat_timeout < 2:
        raise ConfigError("media_timeout must be ≥ 0 and heartbeat_timeout ≥ 2 seconds")
    if "turn_secret_file" in checked:
        config.turn_secret = _read_secret(checked["turn_secret_file"])
    elif environ.get("PALABRA_TURN_SECRET"):
        config.turn_secret = environ["PALABRA_TURN_SECRET"]
    if config.turn_urls and not config.turn_secret:
        raise ConfigError(
            "turn_url needs the TURN shared secret: set turn_secret_file "
            "(coturn's static-auth-secret) or $PALABRA_TURN_SECRET"
        )
    return config


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"turn_secret_file: cannot read {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise ConfigError(f"turn_secret_file: {path} holds no secret of at least 16 characters")
    return secret


def _check(option: Option, value: Any) -> Any:
    """The value as the config wants it, or ConfigError naming the key."""
    key, kind = option.key, option.kind

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{key} must be {expected}, not {value!r}")

    match kind:
        case "str":
            if not isinstance(value, str):
                raise wrong("a string")
            return value
        case "bool":
            if not isinstance(value, bool):
                raise wrong("true or false")
            return value
        case "int" | "port":
            number = _integer(value)
            if number is None:
                raise wrong("an integer")
            if kind == "port" and not 0 < number < 65536:
                raise wrong("a port number (1-65535)")
            return number
        case "seconds":
            try:
                seconds = float(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                seconds = None
            if seconds is None or seconds != seconds:
                raise wrong("a number of seconds")
            return seconds
        case "path":
            if not isinstance(value, str) or not value:
                raise wrong("a file path (a string)")
            return Path(value)
        case "list":
            return _strings(key, value)
        case "networks":
            networks = []
            for item in _strings(key, value):
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ConfigError(f"{key}: {item!r} is not an address or network") from None
            return networks
        case "turn_urls":
            urls: list[TurnUrl] = []
            for item in _strings(key, value):
                try:
                    urls.append(parse_turn_url(item))
                except ValueError as exc:
                    raise ConfigError(f"{key}: {exc}") from None
            return urls
    raise AssertionError(kind)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _strings(key: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{key} must be a list of strings, not {value!r}")
    return list(items)
