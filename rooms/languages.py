"""ISO 639-1 language codes: the languages a floor, a channel or an interpreter may use."""

from __future__ import annotations

from ._checks import invalid

__all__ = ["FLOOR", "ISO_639_1", "check_language", "check_source"]

# The source that is the original speech, not a channel.
FLOOR = "floor"

_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co",
    "cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl",
    "gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg",
    "ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk",
    "ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps",
    "pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta",
    "te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za",
    "zh zu",
)
ISO_639_1 = frozenset(code for row in _CODES for code in row.split())


def check_language(value: str, field: str) -> None:
    if value not in ISO_639_1:
        raise invalid(f"{field}: {value!r} is not an ISO 639-1 language code (e.g. 'en')")


def check_source(value: str) -> None:
    """An interpreter's source: the floor, or a channel's language (relay)."""
    if value != FLOOR:
        check_language(value, "source")
