// Why a lead's enrichment should be redone, in French (the server compares the times).
import { date } from "../../lib/format";

const LAYER_CHANGED: Record<string, string> = {
  env_zones: "zones protégées mises à jour",
  urban_zones: "zonage d'urbanisme mis à jour",
  substations: "postes sources mis à jour",
};

export interface OutdatedReason {
  reason: string;
  layer?: string | null;
  at: string;
}

/**
 * The reasons of `enrichment_outdated`: the outline changed after the enrichment, or a reference
 * layer it reads was reloaded after it. Nothing when up to date ([]) or never enriched (null).
 */
export function outdatedReasons(reasons: OutdatedReason[] | null | undefined): string[] {
  return (reasons ?? []).map((r) =>
    r.reason === "geometry"
      ? `contour modifié le ${date(r.at)}`
      : `${LAYER_CHANGED[r.layer ?? ""] ?? "données de référence mises à jour"} le ${date(r.at)}`,
  );
}
