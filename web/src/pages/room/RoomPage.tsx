import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  List,
  Loader,
  Modal,
  Select,
  Stack,
  Stepper,
  Table,
  Text,
  Textarea,
  Title,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { lazy, Suspense, useState } from "react";
import { Link, useParams } from "react-router";
import { api, must, type Question, type Schemas, type Session } from "../../api/client";
import { messageOf } from "../../api/problem";
import { clearLocal, type Language } from "../../features/drafts";
import { useLiveStatus, useSessionQuery } from "../../features/live";
import { useDraft, type SaveState } from "../../features/useDraft";
import { ErrorState, Loading } from "../../components/QueryState";
import { Countdown } from "./Countdown";
import { Markdown } from "../../components/Markdown";
import { ScrollTable } from "../../components/ScrollTable";

const CodeEditor = lazy(() => import("../../components/CodeEditor"));

const STEPS = ["queued", "ready", "scoring", "completed"] as const;
const LANG_LABEL: Record<string, string> = { python: "Python", javascript: "JavaScript" };

function words(text: string): number {
  return text.trim() ? text.trim().split(/\s+/).length : 0;
}

const STEP_TEXT: Record<string, [string, string]> = {
  queued: ["Queued", "Picking questions"],
  ready: ["Ready", "Answering"],
  scoring: ["Scoring", "Running tests, grading"],
  completed: ["Completed", "Report ready"],
};

/** Where the session is: the steps it went through, and a failed step where it stopped. */
export function StatusSteps({ session, connection }: { session: Session; connection: string }) {
  const status = session.status;
  const reached = new Set([...session.history.map((h) => h.status), status]);
  const steps = status === "failed" ? [...STEPS.filter((s) => reached.has(s) && s !== "completed"), "failed"] : [...STEPS];
  const active = status === "completed" ? steps.length : status === "failed" ? steps.length - 1 : steps.indexOf(status);
  return (
    <Stack gap={4}>
      <Stepper active={active} size="xs" allowNextStepsSelect={false} aria-label="Interview status">
        {steps.map((s) =>
          s === "failed" ? (
            <Stepper.Step key={s} label="Failed" description="Stopped here" color="red" />
          ) : (
            <Stepper.Step key={s} label={STEP_TEXT[s]![0]} description={STEP_TEXT[s]![1]} />
          ),
        )}
      </Stepper>
      <Text size="xs" c="dimmed" aria-live="polite" data-testid="live-state">
        Status: <strong>{status}</strong>
        {connection === "reconnecting" ? " · connection lost, reconnecting…" : connection === "open" ? " · live" : ""}
      </Text>
    </Stack>
  );
}

/** The failure as the person should read it: the reason, and that the credit came back. */
export function FailureNotice({ session }: { session: Session }) {
  const reason = session.failure_reason ?? "Something went wrong while preparing or scoring it.";
  return (
    <Alert color="red" title="This interview could not be finished" role="alert">
      <Text size="sm">{reason}</Text>
      {!/credit/i.test(reason) && (
        <Text size="sm" mt="xs">
          The interview credit it used was given back to you.
        </Text>
      )}
      <Button component={Link} to="/start" mt="xs" size="xs">
        Start another
      </Button>
    </Alert>
  );
}

function SaveIndicator({ save }: { save: SaveState }) {
  const text =
    save.kind === "saving"
      ? "Saving…"
      : save.kind === "saved"
        ? `Draft saved ${save.at ? new Date(save.at).toLocaleTimeString() : ""}`
        : save.kind === "unsaved"
          ? "Unsaved changes"
          : save.kind === "error"
            ? `Not saved: ${save.message}`
            : "";
  return (
    <Text size="sm" c={save.kind === "error" ? "red" : "dimmed"} aria-live="polite" data-testid="save-state">
      {text}
    </Text>
  );
}

function Prompt({ question }: { question: Question }) {
  return <Markdown>{question.prompt}</Markdown>;
}

function BehavioralAnswer({
  question,
  value,
  onChange,
  onBlur,
}: {
  question: Question;
  value: string;
  onChange: (v: string) => void;
  onBlur: () => void;
}) {
  return (
    <Stack gap="xs">
      <Prompt question={question} />
      {question.rubric && question.rubric.length > 0 && (
        <details>
          <summary>
            <Text span size="sm" fw={500}>
              What a strong answer covers
            </Text>
          </summary>
          <List size="sm" mt="xs">
            {question.rubric.map((r) => (
              <List.Item key={r.dimension}>
                <strong>{r.dimension}</strong>
                {r.description ? `: ${r.description}` : ""}
              </List.Item>
            ))}
          </List>
        </details>
      )}
      <Textarea
        label="Your answer"
        autosize
        minRows={8}
        maxRows={24}
        maxLength={20000}
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        onBlur={onBlur}
      />
      <Text size="xs" c="dimmed">
        {words(value)} words · a good story usually takes 200–400
      </Text>
    </Stack>
  );
}

function ExampleResults({ result, title }: { result: Schemas["RunResult"]; title: string }) {
  return (
    <Stack gap="xs" data-testid="run-result">
      <Text size="sm" fw={600}>
        {result.passed} of {result.total} examples passed
      </Text>
      {result.compile_error && (
        <Alert color="red" title="Your code did not compile">
          <Text size="xs" ff="monospace" style={{ whiteSpace: "pre-wrap" }}>
            {result.compile_error}
          </Text>
        </Alert>
      )}
      <ScrollTable label={`Example results for ${title}`} minWidth={600}>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Example</Table.Th>
              <Table.Th>Verdict</Table.Th>
              <Table.Th>Input</Table.Th>
              <Table.Th>Expected</Table.Th>
              <Table.Th>Got</Table.Th>
              <Table.Th>Time</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {result.examples.map((e, i) => (
              <Table.Tr key={e.test_id}>
                <Table.Td>{i + 1}</Table.Td>
                <Table.Td>
                  <Badge color={e.verdict === "accepted" ? "teal" : "red"}>
                    {e.verdict.replaceAll("_", " ")}
                  </Badge>
                  {e.detail && (
                    <Text size="xs" c="dimmed">
                      {e.detail}
                    </Text>
                  )}
                  {e.output && (
                    <Text size="xs" ff="monospace" style={{ whiteSpace: "pre-wrap" }}>
                      {e.output}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td ff="monospace">{JSON.stringify(e.input)}</Table.Td>
                <Table.Td ff="monospace">{JSON.stringify(e.expected)}</Table.Td>
                <Table.Td ff="monospace">{e.got === undefined ? "—" : JSON.stringify(e.got)}</Table.Td>
                <Table.Td>{e.time_ms != null ? `${e.time_ms} ms` : "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollTable>
    </Stack>
  );
}

function CodingAnswer({
  sessionId,
  question,
  value,
  language,
  onChange,
  onBlur,
}: {
  sessionId: string;
  question: Question;
  value: string | undefined;
  language: Language;
  onChange: (patch: { response?: string; language?: Language }) => void;
  onBlur: () => void;
}) {
  const languages = Object.keys(question.signatures ?? { python: "" });
  const signature = question.signatures?.[language] ?? "";
  const code = value ?? signature;
  const [result, setResult] = useState<Schemas["RunResult"] | null>(null);
  const [runError, setRunError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);

  async function run() {
    setRunning(true);
    setRunError(null);
    try {
      setResult(
        await must(
          api.POST("/interviews/{session_id}/run", {
            params: { path: { session_id: sessionId } },
            body: { question_id: question.id, language, code },
          }),
        ),
      );
    } catch (error) {
      setRunError(error);
    } finally {
      setRunning(false);
    }
  }

  return (
    <Stack gap="xs">
      <Prompt question={question} />
      {question.examples && question.examples.length > 0 && (
        <Text size="xs" c="dimmed">
          {question.examples.length} visible example{question.examples.length > 1 ? "s" : ""}; hidden tests are run when you
          submit.
        </Text>
      )}
      <Select
          label="Language"
          w={180}
          value={language}
          allowDeselect={false}
          data={languages.map((l) => ({ value: l, label: LANG_LABEL[l] ?? l }))}
          onChange={(l) => {
            if (!l) return;
            // a fresh signature for the new language unless code was written
            const untouched = !value || value === signature;
            onChange({ language: l as Language, ...(untouched ? { response: question.signatures?.[l] ?? "" } : {}) });
          }}
        />
      <Suspense fallback={<Loading label="Loading the editor" />}>
        <CodeEditor
          value={code}
          language={language}
          label={`Code for ${question.title}`}
          onChange={(response) => onChange({ response, language })}
          onBlur={onBlur}
        />
      </Suspense>
      <Button variant="light" onClick={run} loading={running} disabled={!code.trim()} w="fit-content">
        Run examples
      </Button>
      {runError != null && (
        <Alert color="red" role="alert">
          {messageOf(runError)}
        </Alert>
      )}
      {result && <ExampleResults result={result} title={question.title} />}
    </Stack>
  );
}

function AnswerRoom({ session, refetch }: { session: Session; refetch: () => Promise<{ data?: Session }> }) {
  const { answers, edit, flush, save, discardLocal } = useDraft(session, refetch);
  const [confirming, { open, close }] = useDisclosure(false);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>(null);

  async function submit() {
    setSubmitting(true);
    setSubmitError(null);
    try {
      await flush();
      await must(
        api.POST("/interviews/{session_id}/submit", {
          params: { path: { session_id: session.id } },
          body: {
            answers: session.questions.map((q) => ({
              question_id: q.id,
              response: answers[q.id]?.response ?? (q.type === "coding" ? (q.signatures?.python ?? "") : ""),
              ...(q.type === "coding" ? { language: answers[q.id]?.language ?? "python" } : {}),
            })),
          },
        }),
      );
      discardLocal();
      close();
      await refetch();
    } catch (error) {
      setSubmitError(error);
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <Stack>
      <Group justify="space-between">
        <SaveIndicator save={save} />
        {session.deadline_at && <Countdown deadline={session.deadline_at} />}
      </Group>
      {session.questions.map((q, i) => (
        <Card withBorder key={q.id} component="section" aria-labelledby={`q-${i}`}>
          <Stack gap="sm">
            <Group gap="xs">
              <Title order={2} size="h4" id={`q-${i}`}>
                {i + 1}. {q.title}
              </Title>
              <Badge>{q.type === "coding" ? "coding" : "behavioural"}</Badge>
              <Badge variant="outline" color="gray">
                {q.difficulty}
              </Badge>
            </Group>
            {q.type === "coding" ? (
              <CodingAnswer
                sessionId={session.id}
                question={q}
                value={answers[q.id]?.response}
                language={answers[q.id]?.language ?? "python"}
                onChange={(patch) => edit(q.id, { language: answers[q.id]?.language ?? "python", ...patch })}
                onBlur={() => void flush()}
              />
            ) : (
              <BehavioralAnswer
                question={q}
                value={answers[q.id]?.response ?? ""}
                onChange={(response) => edit(q.id, { response })}
                onBlur={() => void flush()}
              />
            )}
          </Stack>
        </Card>
      ))}
      <Group justify="flex-end">
        <Button size="md" onClick={open}>
          Submit answers
        </Button>
      </Group>
      <Modal opened={confirming} onClose={close} closeButtonProps={{ "aria-label": "Close" }} title="Submit your answers?" centered>
        <Stack>
          <Text size="sm">You cannot change your answers after this. Scoring takes up to a minute.</Text>
          {submitError != null && (
            <Alert color="red" role="alert">
              {messageOf(submitError)}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Keep answering
            </Button>
            <Button onClick={submit} loading={submitting}>
              Submit
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

export default function RoomPage() {
  const { id = "" } = useParams();
  const query = useSessionQuery(id);
  const status = query.data?.status;
  const live = useLiveStatus(id, status !== undefined && status !== "completed" && status !== "failed");

  if (query.isPending) return <Loading label="Opening the interview" />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const session = query.data;

  return (
    <Stack>
      <Title order={1}>Interview</Title>
      <StatusSteps session={session} connection={live.state} />
      {session.status === "queued" && (
        <Group>
          <Loader size="sm" />
          <Text>Picking your questions…</Text>
        </Group>
      )}
      {session.status === "ready" && <AnswerRoom session={session} refetch={query.refetch} />}
      {session.status === "scoring" && (
        <Group>
          <Loader size="sm" />
          <Text>Your answers are being scored: code runs against the hidden tests, then the grader reads it.</Text>
        </Group>
      )}
      {session.status === "completed" && (
        <Alert color="teal" title="Your report is ready">
          <Button component={Link} to={`/report/${session.id}`} mt="xs" onClick={() => clearLocal(session.id)}>
            Read your report
          </Button>
        </Alert>
      )}
      {session.status === "failed" && <FailureNotice session={session} />}
    </Stack>
  );
}
