"""The process-wide logging state ``ServerLog.install`` changes (as ``serve`` owns its process), saved
and put back around a test that installs it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from commandpost.logfilter import ACCESS_LOGGER

LOGGERS = ("", "uvicorn", "uvicorn.error", ACCESS_LOGGER)
GLOBALS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@contextmanager
def restored_logging() -> Iterator[None]:
    """The loggers' handlers, levels and propagation, the record-lookup flags and the record factory."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    flags = {name: getattr(logging, name) for name in GLOBALS}
    factory = logging.getLogRecordFactory()
    try:
        yield
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers, logger.level, logger.propagate = handlers, level, propagate
        for name, value in flags.items():
            setattr(logging, name, value)
        logging.setLogRecordFactory(factory)
