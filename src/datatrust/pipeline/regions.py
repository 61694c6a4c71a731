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


# An H3 index: 4 bits of mode and reserved bits, the resolution in bits 52-55, the base
# cell, then fifteen 3-bit digits (digit d in bits 3 * (15 - d)), those finer than the
# resolution set to 7.
_RESOLUTION_SHIFT = 52


def cell_ranges(region: str) -> tuple[tuple[str, str], ...]:
    """The cells ``within`` ``region`` as (lowest, highest) pairs of H3 strings, one per
    resolution from the region's to the finest: a canonical cell string (lower case, as
    H3 writes it; every cell the pipeline stores is one) lies inside ``region`` exactly
    when it lies between the two strings of one pair, so a database narrows by the
    ``h3_cell`` column with string comparisons. The descendants at one resolution share
    the region's leading bits and differ only in the digits below its resolution (0-6),
    so they fill one contiguous range; H3 strings are all 15 hex digits long, so string
    order is number order. Empty for a region that is not a canonical H3 cell (then no
    cell is ``within`` it either)."""
    try:
        if not h3.is_valid_cell(region) or format(int(region, 16), "x") != region:
            return ()
        resolution = h3.get_resolution(region)
    except Exception:
        return ()
    index = int(region, 16)
    out = []
    for finer in range(resolution, 16):
        low = (index & ~(0xF << _RESOLUTION_SHIFT)) | (finer << _RESOLUTION_SHIFT)
        high = low
        for digit in range(resolution + 1, finer + 1):
            shift = 3 * (15 - digit)
            low &= ~(7 << shift)
            high = (high & ~(7 << shift)) | (6 << shift)
        out.append((format(low, "x"), format(high, "x")))
    return tuple(out)


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
