"""Logging setup: readable lines for a terminal, or JSON lines for a collector.

Every line is redacted: a join or resume token (a JWT, or any ``t=``,
``token=`` or ``resume=`` query value, as the access log writes request
URLs) is replaced by ``[redacted]`` before it is written.

INFO is what an operator follows: start-up, joins, leaves, the floor,
recordings; warnings and errors. Below DEBUG the libraries' chatter is
held back: aioice logs every connectivity check and aiortc its negotiation
at INFO (kept to WARNING), and aiohttp logs every HTTP request (the access
log, kept to WARNING unless asked for).
"""

from __future__ import annotations

import json
import logging
import re
import time

# A JWT (three base64url parts, the first a JSON header "{"...), and query values.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_QUERY_TOKEN = re.compile(r"([?&](?:t|token|resume)=)[^&\s\"'\\]+")
REDACTED = "[redacted]"
# Loggers kept to WARNING unless the level is DEBUG.
CHATTY = ("aioice", "aiortc")
ACCESS_LOG = "aiohttp.access"  # one line per HTTP request


def redact(text: str) -> str:
    return _QUERY_TOKEN.sub(r"\1" + REDACTED, _JWT.sub(REDACTED, text))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# Context a record may carry (``logger.info(..., extra={"conference": ...})``);
# ``worker``: the worker process that logged it (``--workers N``).
CONTEXT_FIELDS = ("conference", "participant", "role", "reason", "worker")


class _WorkerTag(logging.Filter):
    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


def configure(
    level: str, json_lines: bool, access_log: bool = False, worker: int | None = None
) -> None:
    """Log to stderr at ``level``; ``access_log``: every HTTP request too (at INFO);
    ``worker``: each line says which worker process wrote it."""
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        where = "" if worker is None else f"worker {worker} "
        handler.setFormatter(
            RedactingFormatter(f"%(asctime)s %(levelname)s {where}%(name)s: %(message)s")
        )
    if worker is not None:
        handler.addFilter(_WorkerTag(worker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    debug = root.getEffectiveLevel() <= logging.DEBUG
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    quiet_access = not (debug or access_log)
    logging.getLogger(ACCESS_LOG).setLevel(logging.WARNING if quiet_access else logging.NOTSET)
