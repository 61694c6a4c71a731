"""An area as ranges of cell strings (``regions.cell_ranges``) holds exactly the cells
``regions.within`` it, so the catalogue can narrow by the ``h3_cell`` column in the
database and find the same items the rule finds."""

from __future__ import annotations

import random

import h3

from datatrust.pipeline.regions import REGION_RESOLUTION, cell_ranges, within


def inside(cell: str, region: str) -> bool:
    return any(low <= cell <= high for low, high in cell_ranges(region))


def test_the_ranges_hold_every_cell_within_an_area_and_no_other():
    rng = random.Random(15)
    checked = 0
    for _ in range(60):
        lat, lng = rng.uniform(-85, 85), rng.uniform(-180, 180)
        region = h3.latlng_to_cell(lat, lng, rng.choice([0, 2, REGION_RESOLUTION, 6]))
        # Cells of every resolution in and around the area, pentagons' included.
        around = h3.grid_disk(h3.latlng_to_cell(lat, lng, 7), 25)[::29]
        cells = {c for near in around for c in (near, h3.cell_to_parent(near, 5))}
        cells |= {h3.cell_to_center_child(region, 15), *h3.get_pentagons(3)}
        for cell in cells:
            assert inside(cell, region) == within(cell, region), (cell, region)
            checked += 1
    assert checked > 1000


def test_a_region_that_is_not_a_canonical_cell_holds_nothing():
    region = h3.latlng_to_cell(-33.92, 18.42, REGION_RESOLUTION)
    cell = h3.latlng_to_cell(-33.92, 18.42, 8)
    assert inside(cell, region)
    for other in (region.upper(), "nowhere", "", "0"):
        assert cell_ranges(other) == ()
        assert not within(cell, other)
