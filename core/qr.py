"""QR codes as inline SVG, made on the server (segno; no network, no script in the page)."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str, *, title: str, scale: int = 5) -> str:
    """An `<svg>` element (no XML declaration) encoding `text`, with an accessible title."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=scale, xmldecl=False, svgns=True, title=title, svgclass="qr", border=4
    )
    return out.getvalue().decode()
