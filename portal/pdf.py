"""PDF rendering with WeasyPrint: one helper for every print template.

The URL fetcher only opens data: URLs and files under static/ (images, CSS), so a template can never make the
server fetch something from the network or read other files. Fonts come from the system (fontconfig).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, static_dir: Path):
        super().__init__(allowed_protocols={"file", "data"})
        self.static_dir = static_dir

    def fetch(self, url, headers=None):
        if url.startswith("file:"):
            path = Path(unquote(urlsplit(url).path)).resolve()
            if self.static_dir not in path.parents:
                raise ValueError(f"PDF templates may only load files from static/: {url}")
        return super().fetch(url, headers)


def render_pdf(template: str, **context) -> bytes:
    """Render a print template (templates/**/pdf/*.html) to PDF bytes; relative URLs resolve in static/."""
    html = render_template(template, **context)
    static = Path(current_app.static_folder).resolve()
    return HTML(string=html, base_url=static.as_uri() + "/", url_fetcher=StaticOnlyFetcher(static)).write_pdf()
