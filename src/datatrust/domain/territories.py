"""ISO 3166-1 alpha-2 territories, and ``WORLD`` for "everywhere".

The list is embedded (not read from Babel or a package) because the domain layer does no
I/O and imports no framework. It holds the 249 officially assigned codes, without the
exceptionally reserved ones (``EU``, ``UN``, ``AC``, ``IC``…) and without ``XK`` (Kosovo has
no assigned code; a buyer there declares no known territory and is denied).
"""

from __future__ import annotations

WORLD = "WORLD"

# Kept as one block of text so the list reads like the standard's table.
_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE
    BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD
    CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF
    GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
    SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK
    TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
ISO_3166_ALPHA2: frozenset[str] = frozenset(_CODES.split())


def is_known_territory(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code (upper case only); False for ``WORLD``.

    ``WORLD`` is a licence scope, not a place a buyer can be in, so a ``Use`` must name a
    real country.
    """
    return code in ISO_3166_ALPHA2


def is_valid_licence_territory(code: str) -> bool:
    """True for a code a licence may name in its territories: an ISO code or ``WORLD``."""
    return code == WORLD or code in ISO_3166_ALPHA2
