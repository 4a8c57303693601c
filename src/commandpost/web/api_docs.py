"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served from commandpost itself, for air-gapped installs.

FastAPI's own pages load both from a CDN and start them with an inline script, which the pages'
Content-Security-Policy forbids. These pages load the copies vendored under
``/static/vendor/`` (pinned npm packages, see ``static/vendor/VENDORED.json``) and start them from
``/static/api-docs.js``: no inline script, nothing from another origin.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>commandpost API — {title}</title>
<link rel="icon" href="data:,">
{head}
</head>
<body>
<div id="{element}" data-openapi-url="{root}/openapi.json"></div>
<script src="{root}/static/vendor/{script}"></script>
<script src="{root}/static/api-docs.js"></script>
</body>
</html>
"""


def _page(request: Request, *, title: str, element: str, script: str, head: str = "") -> HTMLResponse:
    root = escape(request.scope.get("root_path", "").rstrip("/"))
    html = _PAGE.format(title=title, head=head.format(root=root), element=element, root=root, script=script)
    return HTMLResponse(html)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    css = '<link rel="stylesheet" href="{root}/static/vendor/swagger-ui/swagger-ui.css">'
    return _page(
        request, title="Swagger UI", element="swagger-ui", script="swagger-ui/swagger-ui-bundle.js", head=css
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _page(request, title="ReDoc", element="redoc", script="redoc/redoc.standalone.js")
