import {
  Alert,
  Button,
  Card,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  Title,
} from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api, must, type Schemas } from "../../api/client";
import { ApiError, fieldErrors, messageOf } from "../../api/problem";
import { localTime, useMe } from "../../features/account";

type Kind = Schemas["StartInterviewRequest"]["type"];
type Difficulty = "easy" | "medium" | "hard";

export function StartPage() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const me = useMe();
  const [type, setType] = useState<Kind>("mixed");
  const [difficulty, setDifficulty] = useState<string | null>(null);
  const [tags, setTags] = useState<string[]>([]);
  const [count, setCount] = useState<number | string>(2);
  const [timed, setTimed] = useState(false);
  const [minutes, setMinutes] = useState<number | string>(45);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await must(
        api.POST("/interviews", {
          body: {
            type,
            difficulty: (difficulty as Difficulty | null) ?? null,
            tags: tags.length ? tags.map((t) => t.trim().toLowerCase()) : null,
            question_count: Number(count) || null,
            time_limit_minutes: timed ? Number(minutes) || null : null,
          },
        }),
      );
      void client.invalidateQueries({ queryKey: ["me"] });
      void client.invalidateQueries({ queryKey: ["interviews"] });
      navigate(`/room/${session.id}`);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }

  const quotaUsed = error instanceof ApiError && error.code === "quota_exceeded";
  const fields = error instanceof ApiError ? fieldErrors(error.problem) : {};
  const resetsAt =
    me.data?.quota.resets_at ??
    (error instanceof ApiError && error.retryAfter ? new Date(Date.now() + error.retryAfter * 1000).toISOString() : null);

  return (
    <Stack maw={560}>
      <Title order={1}>Start an interview</Title>
      {quotaUsed ? (
        <Alert color="orange" title="You have used this week's interviews" role="alert">
          <Stack gap="xs" align="flex-start">
            <Text size="sm">
              Your plan allows {me.data?.quota.weekly_limit ?? "a few"} interviews a week. The next one is free from{" "}
              <strong>{localTime(resetsAt)}</strong>.
            </Text>
            <Button component={Link} to="/billing" size="xs">
              Upgrade to premium
            </Button>
          </Stack>
        </Alert>
      ) : (
        error && (
          <Alert color="red" role="alert">
            {messageOf(error)}
          </Alert>
        )
      )}
      <Card withBorder>
        <form onSubmit={submit} noValidate>
          <Stack>
            <div>
              <Text size="sm" fw={500} id="type-label" mb={4}>
                Type
              </Text>
              <SegmentedControl
                aria-labelledby="type-label"
                value={type}
                onChange={(v) => setType(v as Kind)}
                data={[
                  { value: "mixed", label: "Mixed" },
                  { value: "coding", label: "Coding" },
                  { value: "behavioral", label: "Behavioural" },
                ]}
              />
            </div>
            <Select
              label="Difficulty"
              placeholder="Any"
              clearable
              value={difficulty}
              onChange={setDifficulty}
              data={[
                { value: "easy", label: "Easy" },
                { value: "medium", label: "Medium" },
                { value: "hard", label: "Hard" },
              ]}
              error={fields.difficulty}
            />
            <TagsInput
              label="Topics"
              description="Optional, e.g. arrays, conflict, ownership. Press Enter after each."
              value={tags}
              onChange={setTags}
              maxTags={10}
              error={fields.tags ?? fields["tags.0"]}
            />
            <NumberInput
              label="Number of questions"
              min={1}
              max={5}
              value={count}
              onChange={setCount}
              error={fields.question_count}
            />
            <Switch label="Timed interview" checked={timed} onChange={(e) => setTimed(e.currentTarget.checked)} />
            {timed && (
              <NumberInput
                label="Time limit (minutes)"
                description="At the deadline your saved draft is submitted for you."
                min={5}
                max={240}
                value={minutes}
                onChange={setMinutes}
                error={fields.time_limit_minutes}
              />
            )}
            <Button type="submit" loading={busy}>
              Start
            </Button>
          </Stack>
        </form>
      </Card>
    </Stack>
  );
}
