"""One module per alert source; each turns a request body into NormalizedEvents (see ``normalized.py``)."""
