/** The account page's "Emails" card: one switch per kind of mail, saved as it is flipped. */
import { Card, Stack, Switch, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import type { components } from "../../api/schema";
import { QueryState } from "../../components/QueryState";

type Preferences = components["schemas"]["NotificationPreferences"];
type Kind = keyof Preferences;

export const MAIL_KINDS: { kind: Kind; label: string; description: string }[] = [
  { kind: "report_ready", label: "Report ready", description: "Your score and a link to the report when an interview is scored." },
  { kind: "session_failed", label: "Interview could not be finished", description: "What happened, and that the credit came back." },
  { kind: "quota_reached", label: "Last interview of the week", description: "When you start the last interview your plan allows this week." },
  { kind: "billing", label: "Receipts and payments", description: "Receipts, failed payments and plan changes." },
];

export function MailPreferences() {
  const client = useQueryClient();
  const preferences = useQuery({
    queryKey: ["mail-preferences"],
    queryFn: () => must(api.GET("/user/me/notifications")),
  });
  const change = useMutation({
    mutationFn: (body: Partial<Preferences>) => must(api.PUT("/user/me/notifications", { body })),
    onSuccess: (saved) => client.setQueryData(["mail-preferences"], saved),
  });
  return (
    <Card withBorder component="section" aria-labelledby="emails">
      <Stack>
        <Title order={2} size="h4" id="emails">
          Emails
        </Title>
        <QueryState query={preferences} label="Loading your email settings">
          {(current) => (
            <Stack gap="sm">
              {MAIL_KINDS.map(({ kind, label, description }) => (
                <Switch
                  key={kind}
                  label={label}
                  description={description}
                  checked={current[kind]}
                  disabled={change.isPending}
                  onChange={(e) => change.mutate({ [kind]: e.currentTarget.checked })}
                />
              ))}
              {change.isError && (
                <Text c="red" size="sm" role="alert">
                  {messageOf(change.error)}
                </Text>
              )}
              {change.isSuccess && (
                <Text c="teal" size="sm" role="status">
                  Saved.
                </Text>
              )}
              <Text size="xs" c="dimmed">
                Email verification and password reset emails are always sent.
              </Text>
            </Stack>
          )}
        </QueryState>
      </Stack>
    </Card>
  );
}
