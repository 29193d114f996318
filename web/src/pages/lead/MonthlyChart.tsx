// Monthly production of 1 kWc (PVGIS E_m), a Recharts bar chart.
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { num } from "../../lib/format";

const MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];

/** Bars of kWh/kWc per month. */
export default function MonthlyChart({ rows }: { rows: Record<string, unknown>[] }) {
  const data = rows.map((r, i) => ({
    month: MONTHS[(Number(r.month ?? i + 1) - 1) % 12],
    value: Number(r.e_m_kwh_kwc ?? r.E_m ?? r.value ?? 0),
  }));
  return (
    <ResponsiveContainer width="100%" height="100%">
      <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="month" tick={{ fontSize: 10 }} />
        <YAxis tick={{ fontSize: 10 }} />
        <Tooltip formatter={(v: number) => [`${num(v)} kWh/kWc`, "Production"]} />
        <Bar dataKey="value" fill="#f7b500" radius={[3, 3, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
