import { Button, Card, Group, Progress, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link } from "react-router";
import { api, must } from "../../api/client";
import { Empty, Loading, QueryState } from "../../components/QueryState";
import { SessionTable } from "../../components/SessionList";
import { localTime, useMe } from "../../features/account";

const ProgressChart = lazy(() => import("./ProgressChart"));

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
