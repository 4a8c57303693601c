"""The console channel: pages printed to stdout, so a local run shows every page without any setup."""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from typing import TextIO

from commandpost.notify.channels.base import Outbound
from commandpost.notify.rules import Delivery


class ConsoleChannel:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: Outbound, now: datetime) -> Delivery:
        stream = self._stream or sys.stdout
        lines = [f"[commandpost] {now:%Y-%m-%d %H:%M:%S}Z page → {message.destination}: {message.subject}"]
        lines += [f"    {line}" for line in message.body.splitlines()]
        with self._lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return Delivery("delivered")
