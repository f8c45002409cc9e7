import { Alert, Badge, Button, Card, Group, Pagination, Select, Stack, Table, Text, Textarea, Title } from "@mantine/core";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, must } from "../../api/client";
import { ApiError, messageOf } from "../../api/problem";
import { QueryState } from "../../components/QueryState";
import { ScrollTable } from "../../components/ScrollTable";

const PAGE = 20;

const TEMPLATE = {
  id: "new-question-id",
  type: "behavioral",
  title: "",
  prompt: "",
  difficulty: "medium",
  tags: [],
  competencies: [],
  rubric: [],
  sample_answer: "",
};

export default function AdminQuestionsPage() {
  const client = useQueryClient();
  const [page, setPage] = useState(1);
  const [type, setType] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ id: string | null; text: string } | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const list = useQuery({
    queryKey: ["questions", page, type],
    queryFn: () =>
      must(
        api.GET("/questions", {
          params: { query: { limit: PAGE, offset: (page - 1) * PAGE, type: (type as "coding" | "behavioral" | null) ?? undefined } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  async function save() {
    if (!editing) return;
    setBusy(true);
    setMessage(null);
    try {
      const body = JSON.parse(editing.text);
      const saved = editing.id
        ? await must(api.PUT("/questions/{question_id}", { params: { path: { question_id: editing.id } }, body }))
        : await must(api.POST("/questions", { body }));
      setMessage({ ok: true, text: `Saved ${saved.id}.` });
      setEditing({ id: saved.id, text: JSON.stringify(saved, null, 2) });
      await client.invalidateQueries({ queryKey: ["questions"] });
    } catch (error) {
      const text =
        error instanceof SyntaxError
          ? `Not valid JSON: ${error.message}`
          : error instanceof ApiError && error.problem?.errors
            ? `${error.message} ${JSON.stringify(error.problem.errors).slice(0, 600)}`
            : messageOf(error);
      setMessage({ ok: false, text });
    } finally {
      setBusy(false);
    }
  }

  async function remove(id: string) {
    try {
      await must(api.DELETE("/questions/{question_id}", { params: { path: { question_id: id } } }));
      setEditing(null);
      setMessage({ ok: true, text: `Deleted ${id}.` });
      await client.invalidateQueries({ queryKey: ["questions"] });
    } catch (error) {
      setMessage({ ok: false, text: messageOf(error) });
    }
  }

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Question bank</Title>
        <Button onClick={() => setEditing({ id: null, text: JSON.stringify(TEMPLATE, null, 2) })}>New question</Button>
      </Group>
      {message && (
        <Alert color={message.ok ? "teal" : "red"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </Alert>
      )}
      {editing && (
        <Card withBorder>
          <Stack>
            <Text fw={600}>{editing.id ? `Editing ${editing.id}` : "New question"}</Text>
            <Text size="xs" c="dimmed">
              A coding question is run against its own tests (reference solutions must pass, wrong ones must fail) before it
              is saved.
            </Text>
            <Textarea
              label="Question document (JSON)"
              autosize
              minRows={12}
              maxRows={30}
              styles={{ input: { fontFamily: "monospace", fontSize: 12 } }}
              value={editing.text}
              onChange={(e) => setEditing({ ...editing, text: e.currentTarget.value })}
            />
            <Group>
              <Button onClick={save} loading={busy}>
                Save
              </Button>
              <Button variant="default" onClick={() => setEditing(null)}>
                Close
              </Button>
              {editing.id && (
                <Button color="red" variant="light" onClick={() => remove(editing.id!)}>
                  Delete
                </Button>
              )}
            </Group>
          </Stack>
        </Card>
      )}
      <Select
        label="Type"
        placeholder="All"
        clearable
        w={200}
        value={type}
        onChange={(v) => {
          setType(v);
          setPage(1);
        }}
        data={[
          { value: "coding", label: "Coding" },
          { value: "behavioral", label: "Behavioural" },
        ]}
      />
      <QueryState query={list} label="Loading questions">
        {(data) => (
          <Stack>
            <ScrollTable label="Questions" minWidth={480}>
              <Table striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Title</Table.Th>
                    <Table.Th>Type</Table.Th>
                    <Table.Th>Difficulty</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.items.map((q) => (
                    <Table.Tr key={q.id}>
                      <Table.Td>{q.title}</Table.Td>
                      <Table.Td>
                        <Badge>{q.type}</Badge>
                      </Table.Td>
                      <Table.Td>{q.difficulty}</Table.Td>
                      <Table.Td>
                        <Button size="xs" variant="subtle" onClick={() => setEditing({ id: q.id, text: JSON.stringify(q, null, 2) })}>
                          Edit
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </ScrollTable>
            {data.total > PAGE && <Pagination
                  getControlProps={(control) => ({ "aria-label": `${control} page` })}
                  getItemProps={(n) => ({ "aria-label": `Page ${n}` })}
                  total={Math.ceil(data.total / PAGE)} value={page} onChange={setPage} />}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
