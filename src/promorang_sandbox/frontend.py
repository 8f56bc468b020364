"""A minimal stand-in for the Promorang frontend: an SPA shell and one bundle naming the API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .faults import FaultSet

WRONG_API = "http://localhost:3001"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

BUNDLE_TEMPLATE = """\
const API_BASE_URL=%s;
async function uploadImage(file){
  const fileData=await new Promise((ok,ko)=>{const r=new FileReader();
    r.onload=()=>ok(String(r.result).split(",")[1]);r.onerror=ko;r.readAsDataURL(file);});
  const res=await fetch(`${API_BASE_URL}/api/content/upload-image`,{method:"POST",
    credentials:"include",headers:{"Content-Type":"application/json"},
    body:JSON.stringify({fileName:file.name,fileType:file.type,fileData})});
  return res.json();
}
async function createContent(payload){
  const res=await fetch(`${API_BASE_URL}/api/content`,{method:"POST",credentials:"include",
    headers:{"Content-Type":"application/json"},body:JSON.stringify(payload)});
  return res.json();
}
const root=document.getElementById("root");
if(root){root.textContent=location.pathname==="/growth-hub"?"Growth Hub":"Promorang";}
export{uploadImage,createContent};
"""


def bundle_for(api_url: str) -> tuple[str, bytes]:
    """(path, bytes) of the JS bundle built against ``api_url``."""
    body = (BUNDLE_TEMPLATE % json.dumps(api_url)).encode()
    return f"/assets/index-{hashlib.sha256(body).hexdigest()[:8]}.js", body


def index_html(bundle_path: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="UTF-8" />\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0" />\n'
        f'<title>Promorang</title>\n<script type="module" src="{bundle_path}"></script>\n'
        '</head>\n<body>\n<div id="root"></div>\n</body>\n</html>\n'
    )


def create_frontend_app(api_url: str | Callable[[], str], faults: FaultSet) -> Starlette:
    """The frontend; ``api_url`` may be a callable when it is known only later."""

    def current_bundle() -> tuple[str, bytes]:
        url = WRONG_API if "frontend_wrong_api" in faults else api_url
        return bundle_for(url if isinstance(url, str) else url())

    async def serve(request: Request) -> Response:
        if "frontend_down" in faults:
            return PlainTextResponse("Service Unavailable", 503, headers=SECURITY_HEADERS)
        path = request.url.path
        bundle_path, bundle = current_bundle()
        if path == bundle_path:
            headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
            return Response(bundle, media_type="text/javascript", headers=headers)
        if path.startswith("/assets/") or path.endswith(".map"):
            return PlainTextResponse("Not Found", 404, headers=SECURITY_HEADERS)
        return HTMLResponse(index_html(bundle_path), headers=SECURITY_HEADERS)

    return Starlette(routes=[Route("/{path:path}", serve, methods=["GET", "HEAD"])])
