"""Where the visible signatures go: the operator's seal and each signatory's field.

A layout is a list of ``{"name", "page", "box"}`` (page 0-based, -1 = last; box in PDF points)
stored on the contract when it is created: the template generator knows where its signature
area is; for an uploaded PDF the fields go in rows along the bottom of the last page.
"""

from __future__ import annotations

from typing import Any

from keiin.pdf import SignatureField

#: The operator's certification signature field.
SEAL_FIELD = "Keiin_Seal"
#: Stamp size and spacing for uploaded PDFs (three to a row on A4/Letter).
_WIDTH, _HEIGHT, _GAP, _MARGIN = 170, 62, 10, 36


def signer_field(position: int) -> str:
    """The signature field name of the signatory at ``position`` (1-based)."""
    return f"Signatory_{position}"


def default_layout(signatories: int) -> list[dict[str, Any]]:
    """Seal first, then the signatories, in rows of three from the bottom of the last page."""
    names = [SEAL_FIELD, *(signer_field(i) for i in range(1, signatories + 1))]
    layout = []
    for index, name in enumerate(names):
        row, col = divmod(index, 3)
        x1 = _MARGIN + col * (_WIDTH + _GAP)
        y1 = _MARGIN + row * (_HEIGHT + _GAP)
        layout.append({"name": name, "page": -1, "box": [x1, y1, x1 + _WIDTH, y1 + _HEIGHT]})
    return layout


def placement(layout: list[dict[str, Any]], name: str) -> tuple[int, tuple[int, int, int, int]]:
    """(page, box) of field ``name``."""
    for entry in layout:
        if entry["name"] == name:
            x1, y1, x2, y2 = (int(v) for v in entry["box"])
            return int(entry["page"]), (x1, y1, x2, y2)
    raise KeyError(name)


def signatory_fields(layout: list[dict[str, Any]]) -> list[SignatureField]:
    """The empty fields the operator's certification places for the signatories."""
    return [
        SignatureField(e["name"], page=int(e["page"]), box=tuple(int(v) for v in e["box"]))  # type: ignore[arg-type]
        for e in layout
        if e["name"] != SEAL_FIELD
    ]
