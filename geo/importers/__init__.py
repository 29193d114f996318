"""Importers of the reference layers: ``import_file(session, LAYERS[name], path, options)``."""

from geo.importers import communes, env_zones, parcels, substations, urban_zones
from geo.importers.core import ImportOptions, ImportResult, LayerSpec, import_file
from geo.importers.errors import ImportFailed

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        parcels.SPEC,
        substations.SPEC,
        env_zones.SPEC,
        communes.SPEC,
        urban_zones.SPEC,
    )
}

__all__ = ["LAYERS", "ImportFailed", "ImportOptions", "ImportResult", "LayerSpec", "import_file"]
