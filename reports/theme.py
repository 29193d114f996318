"""The project's colours and type scale, shared by the PDF, the charts and the maps."""

from __future__ import annotations

NAVY = "#0B3C5D"  # headings, cover band
SUN = "#F2A900"  # solar accent, production
GREEN = "#2E8B57"  # good / ok
RED = "#C0392B"  # exclusion / risk
ORANGE = "#E67E22"  # penalty
INK = "#1F2933"  # body text
GREY = "#6B7785"  # captions
LIGHT = "#EEF2F6"  # table stripes, panels
RULE = "#C9D2DC"  # hairlines

# Protected-zone colours by env_zones.zone_type (legend of the context map).
ZONE_COLOURS = {
    "natura2000_zsc": "#2E86AB",
    "natura2000_zps": "#5DADE2",
    "znieff1": "#8E44AD",
    "znieff2": "#C39BD3",
    "parc_national_coeur": "#1E8449",
    "parc_national_adhesion": "#82E0AA",
    "pnr": "#A9DFBF",
    "rnn": "#B03A2E",
    "rnr": "#E74C3C",
    "reserve_biologique": "#922B21",
    "appb": "#D35400",
    "ramsar": "#148F77",
    "site_classe": "#7D6608",
    "zone_humide": "#48C9B0",
    "ppri_rouge": "#CB4335",
    "foret": "#196F3D",
    "friche": "#A04000",
    "zone_acceleration": "#F4D03F",
}
ZONE_LABELS = {
    "natura2000_zsc": "Natura 2000 ZSC/SIC",
    "natura2000_zps": "Natura 2000 ZPS",
    "znieff1": "ZNIEFF type I",
    "znieff2": "ZNIEFF type II",
    "parc_national_coeur": "Parc national (cœur)",
    "parc_national_adhesion": "Parc national (adhésion)",
    "pnr": "Parc naturel régional",
    "rnn": "Réserve naturelle nationale",
    "rnr": "Réserve naturelle régionale",
    "reserve_biologique": "Réserve biologique",
    "appb": "APPB",
    "ramsar": "Site Ramsar",
    "site_classe": "Site classé",
    "zone_humide": "Zone humide",
    "ppri_rouge": "PPRI zone rouge",
    "foret": "Forêt",
    "friche": "Friche",
    "zone_acceleration": "Zone d'accélération",
}
