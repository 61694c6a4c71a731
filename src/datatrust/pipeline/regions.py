"""The one resolution at which a place leaves the platform.

Items keep the H3 cell their upload was coarsened to (resolution 8 by default). Whatever a
buyer sees of it — the catalogue's region facet, a snapshot's records, its Croissant
manifest — is that cell's parent at ``REGION_RESOLUTION``: the same figure everywhere, and a
region, never a street.
"""

from __future__ import annotations

import h3

REGION_RESOLUTION = 4  # an H3 cell of about 1,770 km²


def region_cell(cell: str | None, resolution: int = REGION_RESOLUTION) -> str | None:
    """``cell``'s parent at ``resolution`` (the cell itself when already that coarse);
    ``None`` for no cell or a malformed one, which reads as unknown, never as a place."""
    if not cell:
        return None
    try:
        if h3.get_resolution(cell) <= resolution:
            return cell
        return str(h3.cell_to_parent(cell, resolution))
    except Exception:
        return None


def within(cell: str | None, region: str) -> bool:
    """Whether ``cell`` lies inside ``region`` (an H3 cell as coarse or coarser); False for
    no cell or a malformed one."""
    if not cell:
        return False
    try:
        resolution = h3.get_resolution(region)
        return h3.get_resolution(cell) >= resolution and (
            h3.cell_to_parent(cell, resolution) == region
        )
    except Exception:
        return False


def is_region(cell: str) -> bool:
    """Whether ``cell`` is an H3 cell at ``REGION_RESOLUTION`` or coarser: the only areas a
    buyer may search by. A finer one would let ~28 searches, halving the area each time,
    find the cell an item was stored under (resolution 8, well under a km²)."""
    try:
        return bool(h3.is_valid_cell(cell)) and h3.get_resolution(cell) <= REGION_RESOLUTION
    except Exception:
        return False
