import { Alert, Button, Card, Group, Progress, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useState } from "react";
import { Link } from "react-router";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import { Empty, Loading, QueryState } from "../../components/QueryState";
import { SessionTable } from "../../components/SessionList";
import { localTime, useMe } from "../../features/account";

const ProgressChart = lazy(() => import("./ProgressChart"));

/** Unverified accounts may practise; the reminder offers the link again. */
function VerifyReminder({ email }: { email: string }) {
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  async function resend() {
    try {
      await must(api.POST("/auth/verify-email/resend"));
      setState({ ok: true, text: `A new link is on its way to ${email}.` });
    } catch (error) {
      setState({ ok: false, text: messageOf(error) });
    }
  }
  return (
    <Alert color="yellow" title="Verify your email address">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">We sent a link to {email}. You can practise meanwhile.</Text>
        {state ? (
          <Text size="sm" c={state.ok ? undefined : "red"} role="status">
            {state.text}
          </Text>
        ) : (
          <Button size="xs" variant="light" onClick={resend}>
            Send the link again
          </Button>
        )}
      </Stack>
    </Alert>
  );
}

export function DashboardPage() {
  const me = useMe();
  const recent = useQuery({
    queryKey: ["interviews", 0, 5],
    queryFn: () => must(api.GET("/interviews", { params: { query: { limit: 5, offset: 0 } } })),
  });
  const progress = useQuery({ queryKey: ["progress"], queryFn: () => must(api.GET("/user/me/progress")) });

  return (
    <Stack>
      <Title order={1}>Dashboard</Title>
      <QueryState query={me} label="Loading your account">
        {(user) => (
          <>
          {!user.email_verified && <VerifyReminder email={user.email} />}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Card withBorder>
              <Stack gap="xs">
                <Text size="sm" c="dimmed">
                  Plan
                </Text>
                <Text fw={700} size="xl" tt="capitalize">
                  {user.plan}
                </Text>
                {user.plan === "free" && (
                  <Button component={Link} to="/billing" variant="light" size="xs" w="fit-content">
                    Upgrade for more interviews
                  </Button>
                )}
              </Stack>
            </Card>
            <Card withBorder>
              <Stack gap="xs">
                <Text size="sm" c="dimmed">
                  This week
                </Text>
                <Text fw={700} size="xl">
                  {user.quota.remaining} of {user.quota.weekly_limit} interviews left
                </Text>
                <Progress
                  value={(100 * user.quota.used) / Math.max(1, user.quota.weekly_limit)}
                  aria-label={`${user.quota.used} of ${user.quota.weekly_limit} used`}
                />
                <Text size="sm">Resets {localTime(user.quota.resets_at)}</Text>
              </Stack>
            </Card>
          </SimpleGrid>
          </>
        )}
      </QueryState>
      <Group justify="space-between">
        <Title order={2} size="h3">
          Recent interviews
        </Title>
        <Button component={Link} to="/start">
          Start an interview
        </Button>
      </Group>
      <QueryState query={recent} label="Loading your interviews">
        {(page) => <SessionTable sessions={page.items} />}
      </QueryState>
      <Title order={2} size="h3">
        Progress by competency
      </Title>
      <QueryState query={progress} label="Loading your progress">
        {(p) =>
          p.competencies.length ? (
            <Suspense fallback={<Loading label="Drawing the chart" />}>
              <ProgressChart lines={p.competencies} />
            </Suspense>
          ) : (
            <Empty>Your scores per competency appear here after your first scored interview.</Empty>
          )
        }
      </QueryState>
    </Stack>
  );
}
