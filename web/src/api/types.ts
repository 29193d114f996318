// API types: taken from the generated OpenAPI schema (schema.d.ts, `npm run gen:api`).
// While a router is not in the spec yet, the agreed contract's shape stands in (Gen<…, Fallback>);
// once the router lands and the schema is regenerated, the generated type wins automatically.
import type { components } from "./schema";

type Schemas = components["schemas"];
type Gen<K extends string, Fallback> = K extends keyof Schemas ? Schemas[K] : Fallback;

export type Role = "ADMIN" | "MANAGER" | "OPS" | "COMMERCIAL";
export type LeadStatus =
  | "NEW"
  | "ENRICHED"
  | "QUALIFIED"
  | "IN_REVIEW"
  | "CLIENT_READY"
  | "SOLD"
  | "REJECTED"
  | "ARCHIVED";

export type UserOut = Schemas["UserOut"];
export type UserPage = Schemas["UserPage"];
export type TokenOut = Schemas["TokenOut"];
export type UserCreate = Schemas["UserCreate"];
export type UserUpdate = Schemas["UserUpdate"];

export interface LatLon {
  lat: number;
  lon: number;
}

export type Geometry = { type: string; coordinates: unknown };

export interface LeadOutShape {
  id: number;
  internal_name: string;
  name?: string | null;
  status: LeadStatus;
  assignee_id?: number | null;
  assignee_name?: string | null;
  commune_insee?: string | null;
  commune_name?: string | null;
  department?: string | null;
  area_m2?: number | null;
  quality_score?: number | null;
  completeness?: number | null;
  is_public: boolean;
  enrichment_stale: boolean;
  version: number;
  created_at: string;
  updated_at: string;
  status_changed_at: string;
  centroid?: LatLon | null;
  geometry?: Geometry | null;
}
export type LeadOut = Gen<"LeadOut", LeadOutShape>;

type Rec = Record<string, unknown> | null | undefined;

export interface CommentShape {
  id: number;
  author_id?: number | null;
  author_name?: string | null;
  body: string;
  created_at: string;
  updated_at?: string | null;
}
export type CommentOut = Gen<"CommentOut", CommentShape>;

export interface ActivityShape {
  id: number;
  action: string;
  user_id?: number | null;
  user_name?: string | null;
  created_at: string;
  before?: Rec;
  after?: Rec;
  detail?: Rec;
}
export type ActivityOut = Gen<"ActivityOut", ActivityShape>;

export interface DocumentShape {
  id: number;
  filename: string;
  category: string;
  content_type?: string | null;
  size_bytes?: number | null;
  created_at: string;
  uploaded_by_name?: string | null;
  download_url?: string | null;
}
export type DocumentOut = Gen<"DocumentOut", DocumentShape>;

export interface LeadDetailShape extends LeadOutShape {
  sourcing?: Rec;
  technical?: Rec;
  regulatory?: Rec;
  network?: Rec;
  foncier?: Rec;
  economic?: Rec;
  score_breakdown?: Rec;
  documents?: DocumentShape[];
  comments?: CommentShape[];
  activity?: ActivityShape[];
  allowed_transitions?: LeadStatus[];
}
export type LeadDetail = Gen<"LeadDetail", LeadDetailShape>;

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface LeadCreate {
  geometry?: Geometry;
  parcel_ids?: string[];
  point?: LatLon;
  name?: string;
  commune_insee?: string;
  source?: "map" | "site_finder" | "import" | "referral";
  notes?: string;
  is_public?: boolean;
  assignee_id?: number;
  /** Create it although a parcel is in an active lead (else 409 lead.parcels_taken); with a reason. */
  allow_duplicate?: boolean;
  duplicate_reason?: string;
}

export interface SearchItem {
  kind: "commune" | "parcel" | "address";
  id: string;
  label: string;
  bbox: [number, number, number, number];
  center: [number, number];
  /** An address (the geocoder's): housenumber, street, locality or municipality. */
  type?: string | null;
  city?: string | null;
}

export interface ParcelFeature {
  type: "Feature";
  id?: string;
  geometry: Geometry;
  properties: Record<string, unknown>;
}

export interface JobOut {
  id: number | string;
  status: string;
  total: number;
  done: number;
  failed: number;
  failures: { lead_id: number; reason: string }[];
}

export interface PdfOut {
  document_id: number;
  download_url: string;
  summary_source: "openai" | "template";
}

export interface LeadFilters {
  status?: LeadStatus[];
  assignee_id?: number | string;
  score_min?: number | string;
  score_max?: number | string;
  department?: string;
  commune?: string;
  bbox?: string;
  q?: string;
  sort?: string;
  page?: number;
  page_size?: number;
}

export interface PipelineCardShape {
  id: number;
  internal_name: string;
  name: string | null;
  commune_insee: string | null;
  commune_name: string | null;
  quality_score: number | null;
  area_m2: number | null;
  assignee_id: number | null;
  assignee_name: string | null;
  status_changed_at: string;
  days_in_status?: number;
  version: number;
  rejection_reason?: string | null;
  allowed_transitions?: LeadStatus[];
}
export type PipelineCard = Gen<"PipelineCard", PipelineCardShape>;
export interface PipelineColumnShape {
  status: LeadStatus;
  count: number;
  cards: PipelineCard[];
}
export type Pipeline = Gen<"Pipeline", { columns: PipelineColumnShape[]; cards_per_status: number }>;

/** A Kanban card: a pipeline card, or a lead from the list, with its status. */
export interface BoardCard {
  id: number;
  internal_name: string;
  name?: string | null;
  status: LeadStatus;
  commune_name?: string | null;
  commune_insee?: string | null;
  department?: string | null;
  quality_score?: number | null;
  area_m2?: number | null;
  assignee_name?: string | null;
  status_changed_at: string;
  /** Why the lead was rejected (REJECTED cards). */
  rejection_reason?: string | null;
  /** The moves the server would accept now for this user (role, assignment, enrichment, score). */
  allowed_transitions?: LeadStatus[];
}
export interface BoardColumn {
  status: LeadStatus;
  count: number;
  cards: BoardCard[];
}

export type Funnel = Gen<"Funnel", never>;
export type Weekly = Gen<"Weekly", never>;
export type Scores = Gen<"Scores", never>;
export type Departments = Gen<"Departments", never>;
export type StageTimes = Gen<"StageTimes", never>;
export type Throughput = Gen<"Throughput", never>;
