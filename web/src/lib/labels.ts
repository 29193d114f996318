// French names of the codes the API returns as data (zone types, PLU families), so the user
// reads "ZNIEFF de type II", never "znieff2". Same wording as the server's
// (enrichment/wording.py ZONE_LABELS, used in the reasons and the PDF).

export const ZONE_LABEL: Record<string, string> = {
  natura2000_zsc: "Natura 2000 ZSC/SIC",
  natura2000_zps: "Natura 2000 ZPS",
  znieff1: "ZNIEFF de type I",
  znieff2: "ZNIEFF de type II",
  parc_national_coeur: "Cœur de parc national",
  parc_national_adhesion: "Aire d'adhésion de parc national",
  pnr: "Parc naturel régional",
  rnn: "Réserve naturelle nationale",
  rnr: "Réserve naturelle régionale",
  reserve_biologique: "Réserve biologique",
  appb: "Arrêté de protection de biotope (APPB)",
  ramsar: "Site Ramsar",
  site_classe: "Site classé",
  zone_humide: "Zone humide",
  ppri_rouge: "PPRI zone rouge",
  foret: "Forêt",
  friche: "Friche",
  zone_acceleration: "Zone d'accélération des EnR",
};

export const PLU_LABEL: Record<string, string> = {
  U: "U — urbaine",
  AU: "AU — à urbaniser",
  AUc: "AUc — à urbaniser",
  AUs: "AUs — à urbaniser (stricte)",
  A: "A — agricole",
  N: "N — naturelle",
};

/** The French name of a protected-zone type; an unknown code is shown as "autre zone (code)". */
export function zoneLabel(type: unknown): string {
  const t = typeof type === "string" ? type : "";
  if (!t) return "zone";
  return ZONE_LABEL[t] ?? `autre zone (${t})`;
}

/** The French name of a PLU zone family. */
export function pluLabel(type: unknown): string {
  const t = typeof type === "string" ? type : "";
  return PLU_LABEL[t] ?? (t || "—");
}
