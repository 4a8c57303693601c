"""The intake request path: the bare-ASGI front, body parsing, rate limits, the group committer."""
