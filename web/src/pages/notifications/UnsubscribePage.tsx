/** Opened from a mail's "Unsubscribe" link, signed in or not. Opening it changes nothing
 * (link scanners open links too); the button does. */
import { Alert, Anchor, Button, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import type { components } from "../../api/schema";
import { AuthCard } from "../auth/AuthPages";

type Unsubscribed = components["schemas"]["Unsubscribed"];

export default function UnsubscribePage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [done, setDone] = useState<Unsubscribed | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      setDone(await must(api.POST("/notifications/unsubscribe", { body: { token } })));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <AuthCard title="Unsubscribe">
      {done ? (
        <Alert color="teal" role="status">
          {done.detail}
        </Alert>
      ) : !token ? (
        <Alert color="red" role="alert">
          This link has no token. Open the link from the email again, or choose which emails you get on your account page.
        </Alert>
      ) : (
        <Stack>
          <Text size="sm">Stop getting this kind of email from Mock Interviews?</Text>
          {error != null && (
            <Alert color="red" role="alert">
              {messageOf(error)}
            </Alert>
          )}
          <Button onClick={confirm} loading={busy}>
            Unsubscribe
          </Button>
        </Stack>
      )}
      <Anchor component={Link} to="/settings" size="sm">
        Choose which emails you get
      </Anchor>
    </AuthCard>
  );
}
