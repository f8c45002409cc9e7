import { Box } from "@mantine/core";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export default function BarFigure({ name, values }: { name: string; values: Record<string, number> }) {
  const rows = Object.entries(values).map(([key, value]) => ({ key, value }));
  const text = rows.map((r) => `${r.key}: ${r.value}`).join(", ");
  return (
    <Box h={220} role="img" aria-label={`${name}: ${text}`}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 8, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="key" fontSize={12} />
          <YAxis fontSize={12} allowDecimals={false} />
          <Tooltip />
          <Bar dataKey="value" fill="#364fc7" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </Box>
  );
}
