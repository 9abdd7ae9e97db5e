"""htmx helpers: one place decides whether a request wants a fragment or the full page."""
from __future__ import annotations

import json

from flask import Response, redirect, request


def is_fragment() -> bool:
    """True for an htmx request that swaps part of a page (not boosted navigation, not history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def redirect_to(url: str, code: int = 303) -> Response:
    """Redirect that also works for htmx fragment requests (HX-Redirect makes the browser navigate)."""
    if is_fragment():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=code)


def trigger(response: Response, event: str, detail=None) -> Response:
    response.headers["HX-Trigger"] = json.dumps({event: detail}) if detail is not None else event
    return response


def add_vary(response: Response) -> Response:
    vary = response.headers.get("Vary", "")
    if "HX-Request" not in vary:
        response.headers["Vary"] = f"{vary}, HX-Request" if vary else "HX-Request"
    return response
