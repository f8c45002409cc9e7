/** An answer with the grader's quoted evidence marked where it occurs. */
import { Text } from "@mantine/core";
import type { ReactNode } from "react";

export function highlight(text: string, quotes: string[]): Array<{ text: string; quote: boolean }> {
  const lower = text.toLowerCase();
  const spans: Array<[number, number]> = [];
  for (const quote of quotes) {
    const q = quote.trim().toLowerCase();
    if (q.length < 3) continue;
    let at = lower.indexOf(q);
    while (at !== -1) {
      spans.push([at, at + q.length]);
      at = lower.indexOf(q, at + q.length);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  const parts: Array<{ text: string; quote: boolean }> = [];
  let cursor = 0;
  for (const [start, end] of merged) {
    if (start > cursor) parts.push({ text: text.slice(cursor, start), quote: false });
    parts.push({ text: text.slice(start, end), quote: true });
    cursor = end;
  }
  if (cursor < text.length) parts.push({ text: text.slice(cursor), quote: false });
  return parts;
}

export function EvidenceText({ text, quotes, mono }: { text: string; quotes: string[]; mono?: boolean }): ReactNode {
  return (
    <Text
      size="sm"
      ff={mono ? "monospace" : undefined}
      // code keeps its lines (scrolling sideways on a phone); prose wraps
      style={mono ? { whiteSpace: "pre", overflowX: "auto" } : { whiteSpace: "pre-wrap" }}
      data-testid="answer-text"
    >
      {highlight(text, quotes).map((part, i) =>
        part.quote ? (
          <mark key={i} title="Quoted as evidence">
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </Text>
  );
}
