// "Exporter (GeoJSON / KML)": the lead's outline and main properties as a file
// (GET /api/leads/{id}/export.geojson | export.kml).
import { useState } from "react";
import toast from "react-hot-toast";
import { Download } from "lucide-react";
import { downloadFile } from "../../api/client";
import { errorMessage } from "../../components/ui";

const FORMATS = [
  { format: "geojson", label: "GeoJSON (QGIS, web)" },
  { format: "kml", label: "KML (Google Earth)" },
] as const;

export default function ExportMenu({ leadId, name }: { leadId: number; name: string }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="relative">
      <button
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
        className="inline-flex items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
      >
        <Download className="h-4 w-4" aria-hidden /> Exporter (GeoJSON / KML)
      </button>
      {open && (
        <ul role="menu" className="absolute right-0 z-20 mt-1 w-56 rounded-md border border-slate-200 bg-white py-1 text-sm shadow-lg">
          {FORMATS.map((f) => (
            <li key={f.format} role="none">
              <button
                type="button"
                role="menuitem"
                className="w-full px-3 py-1.5 text-left hover:bg-slate-50 focus:bg-slate-50 focus:outline-none"
                onClick={() => {
                  setOpen(false);
                  downloadFile(`/api/leads/${leadId}/export.${f.format}`, `${name}.${f.format}`).catch((err) =>
                    toast.error(`Export impossible : ${errorMessage(err)}`),
                  );
                }}
              >
                {f.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
