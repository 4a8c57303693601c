"""Server-rendered pages (Jinja2) over the same services the API uses."""
