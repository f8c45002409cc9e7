import { Alert, Button, Card, Group, SimpleGrid, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useState, type FormEvent } from "react";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import { Loading, QueryState } from "../../components/QueryState";

const BarFigure = lazy(() => import("./BarFigure"));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const label = (key: string) => key.replaceAll("_", " ");

function Figures({ title, data }: { title?: string; data: { [key: string]: Json } }) {
  const numbers = Object.entries(data).filter(([, v]) => typeof v === "number") as Array<[string, number]>;
  const groups = Object.entries(data).filter(([, v]) => v !== null && typeof v === "object" && !Array.isArray(v)) as Array<
    [string, { [key: string]: Json }]
  >;
  return (
    <Stack>
      {title && (
        <Title order={2} size="h4" tt="capitalize">
          {label(title)}
        </Title>
      )}
      {numbers.length > 0 && (
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          {numbers.map(([k, v]) => (
            <Card withBorder key={k} p="sm">
              <Text size="xs" c="dimmed" tt="capitalize">
                {label(k)}
              </Text>
              <Text fw={700} size="lg">
                {Number.isInteger(v) ? v : v.toFixed(2)}
              </Text>
            </Card>
          ))}
        </SimpleGrid>
      )}
      {groups.map(([k, v]) => {
        const flat = Object.entries(v).every(([, x]) => typeof x === "number");
        return flat && Object.keys(v).length > 0 ? (
          <Card withBorder key={k}>
            <Text fw={600} tt="capitalize" mb="xs">
              {label(k)}
            </Text>
            <Suspense fallback={<Loading label="Drawing the chart" />}>
              <BarFigure name={label(k)} values={v as Record<string, number>} />
            </Suspense>
          </Card>
        ) : (
          <Figures key={k} title={k} data={v} />
        );
      })}
    </Stack>
  );
}

function Rescore() {
  const [id, setId] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      const accepted = await must(api.POST("/interviews/{session_id}/rescore", { params: { path: { session_id: id.trim() } } }));
      setMessage({ ok: true, text: `Re-scoring ${accepted.id}: ${accepted.status}.` });
    } catch (error) {
      setMessage({ ok: false, text: messageOf(error) });
    }
  }
  return (
    <Card withBorder component="section" aria-labelledby="rescore">
      <form onSubmit={submit}>
        <Stack>
          <Title order={2} size="h4" id="rescore">
            Re-score a session
          </Title>
          <Group align="flex-end">
            <TextInput label="Session id" value={id} onChange={(e) => setId(e.currentTarget.value)} style={{ flex: 1 }} />
            <Button type="submit" disabled={!id.trim()}>
              Re-score
            </Button>
          </Group>
          {message && (
            <Text size="sm" c={message.ok ? "teal" : "red"} role="status">
              {message.text}
            </Text>
          )}
        </Stack>
      </form>
    </Card>
  );
}

export default function AdminStatsPage() {
  const stats = useQuery({ queryKey: ["admin-stats"], queryFn: () => must(api.GET("/admin/stats")) });
  return (
    <Stack>
      <Title order={1}>Platform statistics</Title>
      <QueryState query={stats} label="Loading the figures">
        {(data) => {
          const { unavailable, ...rest } = data as { unavailable: string[] } & { [key: string]: Json };
          return (
            <Stack>
              {unavailable.length > 0 && <Alert color="yellow">Not answering now: {unavailable.join(", ")}</Alert>}
              <Figures data={rest as { [key: string]: Json }} />
            </Stack>
          );
        }}
      </QueryState>
      <Rescore />
    </Stack>
  );
}
