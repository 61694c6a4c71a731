"""Places people recognise, for the coarse H3 cells Datatrust keeps instead of coordinates.

A page never shows an H3 id ("88ad361519fffff"): it shows the nearest place of a small
bundled table (cities where the demo and the early campaigns record, and the large
cities of the regions they are in) and, when the cell's centre is far from every one of
them, how far. No network lookup and no gazetteer download: the table is here, and a
place missing from it reads as a distance from the nearest one it has, never as a code.

The names are msgids (the catalogues give "केप टाउन" and "iKapa"); the country comes
from CLDR in the reader's language (``i18n``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    name: str  # msgid
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lng: float


PLACES: tuple[Place, ...] = (
    # South Africa
    Place("Cape Town", "ZA", -33.9249, 18.4241),
    Place("Khayelitsha", "ZA", -34.0404, 18.6775),
    Place("Stellenbosch", "ZA", -33.9321, 18.8602),
    Place("Johannesburg", "ZA", -26.2041, 28.0473),
    Place("Soweto", "ZA", -26.2485, 27.8540),
    Place("Pretoria", "ZA", -25.7479, 28.2293),
    Place("Durban", "ZA", -29.8587, 31.0218),
    Place("Pietermaritzburg", "ZA", -29.6006, 30.3794),
    Place("Gqeberha", "ZA", -33.9608, 25.6022),
    # India
    Place("Ranchi", "IN", 23.3441, 85.3096),
    Place("Jamshedpur", "IN", 22.8046, 86.2029),
    Place("Patna", "IN", 25.5941, 85.1376),
    Place("Kolkata", "IN", 22.5726, 88.3639),
    Place("Delhi", "IN", 28.6139, 77.2090),
    Place("Mumbai", "IN", 19.0760, 72.8777),
    Place("Bengaluru", "IN", 12.9716, 77.5946),
    Place("Chennai", "IN", 13.0827, 80.2707),
    Place("Hyderabad", "IN", 17.3850, 78.4867),
    # United States
    Place("Chicago", "US", 41.8781, -87.6298),
    Place("Evanston", "US", 42.0451, -87.6877),
    Place("New York", "US", 40.7128, -74.0060),
    Place("San Francisco", "US", 37.7749, -122.4194),
    # elsewhere
    Place("London", "GB", 51.5074, -0.1278),
    Place("Nairobi", "KE", -1.2921, 36.8219),
    Place("Lagos", "NG", 6.5244, 3.3792),
    Place("São Paulo", "BR", -23.5505, -46.6333),
    Place("Jakarta", "ID", -6.2088, 106.8456),
    Place("Manila", "PH", 14.5995, 120.9842),
)
# Within this distance of a place's centre a cell is said to be in it.
NEAR_KM = 30.0
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Whereabouts:
    """A cell in words: ``place`` (a msgid) and, when farther than ``NEAR_KM``, how far."""

    place: Place
    distance_km: int | None


def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def nearest(lat: float, lng: float) -> Whereabouts:
    """The nearest place of the table to a point; its distance in whole km when over
    ``NEAR_KM`` (None inside it)."""
    place = min(PLACES, key=lambda p: _distance_km(lat, lng, p.lat, p.lng))
    km = _distance_km(lat, lng, place.lat, place.lng)
    return Whereabouts(place, None if km <= NEAR_KM else round(km))


def whereabouts(cell: str) -> Whereabouts | None:
    """An H3 cell's centre as a place of the table; None for a malformed cell."""
    import h3  # pure computation, no I/O

    try:
        lat, lng = h3.cell_to_latlng(cell)
    except Exception:  # a malformed stored cell is shown as no place, never as its id
        return None
    return nearest(lat, lng)
