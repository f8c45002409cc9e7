import { Alert, Badge, Button, Card, Group, List, Progress, RingProgress, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { auth, type Schemas, type Session } from "../../api/client";
import { ApiError, messageOf } from "../../api/problem";
import { EvidenceText } from "../../components/Evidence";
import { ErrorState, Loading } from "../../components/QueryState";
import { useLiveStatus, useSessionQuery } from "../../features/live";
import { FailureNotice, StatusSteps } from "../room/RoomPage";
import { ScrollTable } from "../../components/ScrollTable";

const VERDICT_COLOUR: Record<string, string> = { accepted: "teal" };

function scoreColour(score: number): string {
  return score >= 75 ? "teal" : score >= 50 ? "yellow" : "red";
}

function Tests({ tests, title }: { tests: Schemas["TestResultOut"][]; title: string }) {
  const passed = tests.filter((t) => t.verdict === "accepted").length;
  const notes = tests.some((t) => t.detail);
  const table = (
    <ScrollTable label={`Test results for ${title}`} minWidth={notes ? 360 : 240}>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Test</Table.Th>
            <Table.Th>Verdict</Table.Th>
            {notes && <Table.Th>Note</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tests.map((t, i) => (
            <Table.Tr key={t.test_id}>
              <Table.Td>{t.visible ? `Example ${i + 1}` : `Hidden ${i + 1}`}</Table.Td>
              <Table.Td>
                <Badge color={VERDICT_COLOUR[t.verdict] ?? "red"}>{t.verdict.replaceAll("_", " ")}</Badge>
              </Table.Td>
              {notes && (
                <Table.Td>
                  <Text size="xs">{t.detail ?? ""}</Text>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollTable>
  );
  const summary = (
    <Text size="sm" fw={600} span>
      Tests: {passed} of {tests.length} passed
    </Text>
  );
  // every test passed: the list says nothing new, so it waits behind the summary
  return passed === tests.length ? (
    <details>
      <summary>{summary}</summary>
      {table}
    </details>
  ) : (
    <Stack gap={4}>
      {summary}
      {table}
    </Stack>
  );
}

function QuestionReport({ session, result, index }: { session: Session; result: Schemas["AnswerResultOut"]; index: number }) {
  const question = session.questions.find((q) => q.id === result.question_id);
  const answer = session.answers.find((a) => a.question_id === result.question_id);
  const quotes = result.dimensions.flatMap((d) => d.evidence);
  const insufficient = result.verdict === "insufficient";
  return (
    <Card withBorder component="section" aria-labelledby={`r-${index}`}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id={`r-${index}`}>
            {index + 1}. {question?.title ?? result.question_id}
          </Title>
          {insufficient ? (
            <Badge color="gray" size="lg">
              Not enough to score
            </Badge>
          ) : (
            <Badge color={scoreColour(result.score)} size="lg">
              {result.score} / 100
            </Badge>
          )}
        </Group>
        {insufficient && <Alert color="gray">{result.reason ?? "The answer said too little to be scored."}</Alert>}
        {result.dimensions.length > 0 && (
          <Stack gap={6}>
            {result.dimensions.map((d) => (
              <div key={d.dimension}>
                <Group justify="space-between" gap="xs">
                  <Text size="sm" fw={500} tt="capitalize">
                    {d.dimension}
                  </Text>
                  <Text size="sm">{d.score}</Text>
                </Group>
                <Progress value={d.score} color={scoreColour(d.score)} aria-label={`${d.dimension}: ${d.score} of 100`} />
                {d.comment && (
                  <Text size="xs" c="dimmed">
                    {d.comment}
                  </Text>
                )}
              </div>
            ))}
          </Stack>
        )}
        {result.tests.length > 0 && <Tests tests={result.tests} title={question?.title ?? result.question_id} />}
        {answer && (
          <div>
            <Text size="sm" fw={600}>
              Your answer {quotes.length > 0 && <Text span size="xs" c="dimmed">(highlighted: what the grader quoted as evidence)</Text>}
            </Text>
            <Card bg="gray.0" p="sm" mt={4}>
              <EvidenceText text={answer.response} quotes={quotes} mono={question?.type === "coding"} />
            </Card>
          </div>
        )}
        {result.strengths.length > 0 && (
          <div>
            <Text size="sm" fw={600}>
              Strengths
            </Text>
            <List size="sm">{result.strengths.map((s) => <List.Item key={s}>{s}</List.Item>)}</List>
          </div>
        )}
        {result.improvements.length > 0 && (
          <div>
            <Text size="sm" fw={600}>
              To improve
            </Text>
            <List size="sm">{result.improvements.map((s) => <List.Item key={s}>{s}</List.Item>)}</List>
          </div>
        )}
        {result.model_answer_outline && (
          <details>
            <summary>
              <Text span size="sm" fw={600}>
                Outline of a model answer
              </Text>
            </summary>
            <Text size="sm" style={{ whiteSpace: "pre-wrap" }} mt="xs">
              {result.model_answer_outline}
            </Text>
          </details>
        )}
      </Stack>
    </Card>
  );
}

function TranscriptDownload({ session }: { session: Session }) {
  const [error, setError] = useState<string | null>(null);
  async function download() {
    setError(null);
    try {
      const response = await auth.fetch(
        new Request(new URL(`/interviews/${session.id}/transcript`, window.location.origin), {
          headers: { Accept: "text/markdown" },
        }),
      );
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = `interview-${session.id}.md`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(messageOf(e));
    }
  }
  return (
    <Stack gap={4} align="flex-start">
      <Button variant="light" onClick={download}>
        Download the transcript
      </Button>
      {error && (
        <Text c="red" size="sm" role="alert">
          {error}
        </Text>
      )}
    </Stack>
  );
}

export default function ReportPage() {
  const { id = "" } = useParams();
  const query = useSessionQuery(id);
  const status = query.data?.status;
  const live = useLiveStatus(id, status === "queued" || status === "ready" || status === "scoring");
  if (query.isPending) return <Loading label="Loading the report" />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const session = query.data;

  return (
    <Stack>
      <Title order={1}>Interview report</Title>
      {session.status !== "completed" && <StatusSteps session={session} connection={live.state} />}
      {session.status === "failed" && <FailureNotice session={session} />}
      {(session.status === "ready" || session.status === "queued") && (
        <Button component={Link} to={`/room/${session.id}`} w="fit-content">
          Back to the interview
        </Button>
      )}
      {session.status === "completed" && (
        <>
          <Card withBorder>
            <Group>
              <RingProgress
                size={110}
                thickness={10}
                sections={[{ value: session.overall_score ?? 0, color: scoreColour(session.overall_score ?? 0) }]}
                label={
                  <Text ta="center" fw={700} size="xl" data-testid="overall-score">
                    {session.overall_score}
                  </Text>
                }
                aria-label={`Overall score ${session.overall_score} of 100`}
              />
              <Stack gap={4} style={{ flex: 1, minWidth: 200 }}>
                <Text fw={600}>Overall score</Text>
                {session.summary && <Text size="sm">{session.summary}</Text>}
                {!!session.insufficient_answers && (
                  <Text size="sm" c="dimmed">
                    {session.insufficient_answers} answer{session.insufficient_answers > 1 ? "s" : ""} said too little to be
                    scored and counted 0.
                  </Text>
                )}
              </Stack>
            </Group>
          </Card>
          {session.results.map((r, i) => (
            <QuestionReport key={r.question_id} session={session} result={r} index={i} />
          ))}
          <TranscriptDownload session={session} />
        </>
      )}
    </Stack>
  );
}
