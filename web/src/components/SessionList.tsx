import { Anchor, Badge, Table, Text } from "@mantine/core";
import { Link } from "react-router";
import type { Session } from "../api/client";
import { Empty } from "./QueryState";
import { ScrollTable } from "./ScrollTable";

export const STATUS_COLOUR: Record<string, string> = {
  queued: "gray",
  ready: "blue",
  scoring: "violet",
  completed: "teal",
  failed: "red",
};

export function sessionLink(s: Pick<Session, "id" | "status">): string {
  return s.status === "completed" || s.status === "failed" ? `/report/${s.id}` : `/room/${s.id}`;
}

export function SessionTable({ sessions }: { sessions: Session[] }) {
  if (!sessions.length) return <Empty>No interviews yet. Start one to see it here.</Empty>;
  return (
    // fits a 375 px phone without scrolling: the type gives way there, so the status and
    // the score stay whole and in view
    <ScrollTable label="Your interviews" minWidth={300}>
      <Table striped highlightOnHover horizontalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Started</Table.Th>
            <Table.Th visibleFrom="sm">Type</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Score</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sessions.map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td>
                <Anchor component={Link} to={sessionLink(s)}>
                  {s.created_at ? new Date(s.created_at).toLocaleString() : s.id}
                </Anchor>
              </Table.Td>
              <Table.Td visibleFrom="sm">
                {s.type}
                {s.difficulty ? ` · ${s.difficulty}` : ""}
              </Table.Td>
              <Table.Td>
                {/* a badge may shrink to its ellipsis where a column is squeezed: this one keeps
                    its word, and the date column wraps instead */}
                <Badge size="sm" color={STATUS_COLOUR[s.status]} style={{ minWidth: "max-content" }}>
                  {s.status}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{s.overall_score ?? "—"}</Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollTable>
  );
}
