"""ISO 639-1 languages: the languages a replica grant (and a replica use) may name.

Embedded, like ``territories``, because the domain does no I/O and imports no framework.
Codes are the two-letter primary language subtags of BCP 47 (``en``, ``hi``, ``zu``); a
region or script (``en-IN``) is not part of a grant: a voice licensed for Hindi is
licensed for Hindi wherever it is heard. Names are shown by the renderer (Babel), in the
reader's language.
"""

from __future__ import annotations

_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku
    kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
    no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg sh si sk sl
    sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve
    vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1: frozenset[str] = frozenset(_CODES.split())


def is_known_language(code: object) -> bool:
    """``code`` is an ISO 639-1 code, in lower case as BCP 47 writes it."""
    return isinstance(code, str) and code in ISO_639_1
