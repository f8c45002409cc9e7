import { Box } from "@mantine/core";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Schemas } from "../../api/client";

const COLOURS = ["#4c6ef5", "#12b886", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#e64980", "#82c91e"];

/** Average score per competency, by ISO week. */
export default function ProgressChart({ lines }: { lines: Schemas["ProgressLine"][] }) {
  const weeks = [...new Set(lines.flatMap((l) => l.weeks.map((w) => w.week)))].sort();
  const rows = weeks.map((week) => {
    const row: Record<string, string | number> = { week };
    for (const line of lines) {
      const point = line.weeks.find((w) => w.week === week);
      if (point) row[line.name] = Math.round(point.average);
    }
    return row;
  });
  const summary = lines
    .map((l) => `${l.name}: ${Math.round(l.weeks[l.weeks.length - 1]?.average ?? 0)}`)
    .join(", ");
  return (
    <Box h={280} role="img" aria-label={`Latest average score per competency: ${summary}`}>
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="week" fontSize={12} />
          <YAxis domain={[0, 100]} fontSize={12} />
          <Tooltip />
          <Legend />
          {lines.map((l, i) => (
            <Line key={l.name} type="monotone" dataKey={l.name} stroke={COLOURS[i % COLOURS.length]} connectNulls dot isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </Box>
  );
}
