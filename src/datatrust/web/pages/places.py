"""Where recordings are wanted (issue 18 §5): the open tasks that pay a coverage bonus, and
for each its places by name with the bonus and the recordings already there.

The page is a plain list that reads without JavaScript. ``map.js`` adds a map when asked
(Leaflet and h3-js, vendored): the same places drawn as their H3 cells on a blank
background, or on the operator's own tile server (``Settings.map_tile_url``), never on
one fetched from elsewhere by default. The counts and the once-per-cell rule are
``services.campaigns.coverage_needs``'s, the ones that pay the bonus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends
from fastapi.responses import HTMLResponse

from datatrust.bootstrap import Services
from datatrust.domain.money import Money
from datatrust.domain.permissions import Permission
from datatrust.services import campaigns
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import services, unit_of_work
from datatrust.web.pages.common import Page, page_requires, page_router, render, show_money
from datatrust.web.pages.explain import Explain
from datatrust.web.security import PAGE_CSP

router = page_router()
IMAGES = "img-src 'self' data: blob:"


@dataclass
class PlaceRow:
    """One line of the list: a place by name (cells that read the same are one line)."""

    name: str
    bonus: Money | None
    recordings: int = 0
    cells: list[str] = field(default_factory=list)


def place_rows(explain: Explain, need: campaigns.CoverageNeed) -> list[PlaceRow]:
    rows: dict[tuple[str, bool], PlaceRow] = {}
    for place in [*need.wanted, *need.recorded]:
        name = explain.place(place.cell)
        row = rows.setdefault((name, place.bonus is None), PlaceRow(name, place.bonus))
        row.recordings += place.recordings
        row.cells.append(place.cell)
    return list(rows.values())


def map_cells(page: Page, tasks: list[tuple[Any, list[PlaceRow]]]) -> list[dict[str, Any]]:
    """What map.js draws: each cell once, with the words of its line (a cell some task
    still pays a bonus for is drawn as wanted)."""
    _ = page._
    cells: dict[str, dict[str, Any]] = {}
    for _need, rows in tasks:
        for row in rows:
            if row.bonus is None:
                label = _("%(place)s: already recorded, no bonus") % {"place": row.name}
            else:
                label = _("%(place)s: %(bonus)s for the first recording") % {
                    "place": row.name,
                    "bonus": show_money(page, row.bonus),
                }
            for cell in row.cells:
                if cell not in cells or row.bonus is not None:
                    cells[cell] = {"cell": cell, "label": label, "wanted": row.bonus is not None}
    return list(cells.values())


def tile_origin(url: str) -> str | None:
    """The scheme and host of an operator's tile URL template; None when it is none."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@router.get("/map")
def coverage_map(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    explain = Explain(page.tr, page.lang, str)
    tasks = [(n, place_rows(explain, n)) for n in campaigns.coverage_needs(unit, page.actor)]
    settings = svc.settings
    origin = tile_origin(settings.map_tile_url)
    response = render(
        page,
        "map.html",
        tasks=tasks,
        cells=map_cells(page, tasks),
        shown_from=campaigns.SHOWN_FROM_PEOPLE,
        tiles=settings.map_tile_url if origin else "",
        attribution=settings.map_tile_attribution,
    )
    if origin:
        response.headers["Content-Security-Policy"] = PAGE_CSP.replace(IMAGES, f"{IMAGES} {origin}")
    return response
