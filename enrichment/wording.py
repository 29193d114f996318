"""French wording of the texts the engine stores and returns (reasons, part messages).

The users are French: every reason and message is written in French, with decimal commas and
no-break spaces as thousands separators. Machine-readable fields (keys, codes, enum values such
as ``exclusion``/``penalty``, zone type codes) stay as they are.
"""

from __future__ import annotations

NBSP = "\u00a0"

# env_zones.zone_type → how an analyst names it.
ZONE_LABELS: dict[str, str] = {
    "natura2000_zsc": "Natura 2000 ZSC/SIC",
    "natura2000_zps": "Natura 2000 ZPS",
    "znieff1": "ZNIEFF de type I",
    "znieff2": "ZNIEFF de type II",
    "parc_national_coeur": "Cœur de parc national",
    "parc_national_adhesion": "Aire d'adhésion de parc national",
    "pnr": "Parc naturel régional",
    "rnn": "Réserve naturelle nationale",
    "rnr": "Réserve naturelle régionale",
    "reserve_biologique": "Réserve biologique",
    "appb": "Arrêté de protection de biotope (APPB)",
    "ramsar": "Site Ramsar",
    "site_classe": "Site classé",
    "zone_humide": "Zone humide",
    "ppri_rouge": "PPRI zone rouge",
    "foret": "Forêt",
    "friche": "Friche",
    "zone_acceleration": "Zone d'accélération des EnR",
}

SEP = " ; "  # joins several reasons in one text (French typography)


def num(value: float, digits: int = 0, *, trim: bool = False) -> str:
    """``12345.6`` → ``12 345,6``; ``trim`` drops a zero fraction (``12,0`` → ``12``)."""
    s = f"{value:,.{digits}f}"
    if trim and digits and "." in s:
        s = s.rstrip("0").rstrip(".")
    return s.replace(",", NBSP).replace(".", ",")


def plural(count: float, word: str, plural_form: str | None = None) -> str:
    """French agreement: singular below 2 (``1,5 ha utile``), plural from 2."""
    return word if abs(count) < 2 else (plural_form or word + "s")


def zone_label(zone_type: str) -> str:
    """The French name of a zone type; the code itself when unknown."""
    return ZONE_LABELS.get(zone_type, zone_type)
