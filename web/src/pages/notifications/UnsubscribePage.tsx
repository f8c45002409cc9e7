/** Opened from a mail's "Unsubscribe" link, signed in or not. Opening it changes nothing
 * (link scanners open links too); the button does. */
import { Alert, Anchor, Button, Stack, Text } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import { AuthCard } from "../auth/AuthPages";

export default function UnsubscribePage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const unsubscribe = useMutation({
    mutationFn: () => must(api.POST("/notifications/unsubscribe", { body: { token } })),
  });
  return (
    <AuthCard title="Unsubscribe">
      {unsubscribe.isSuccess ? (
        <Alert color="teal" role="status">
          {unsubscribe.data.detail}
        </Alert>
      ) : !token ? (
        <Alert color="red" role="alert">
          This link has no token. Open the link from the email again, or choose which emails you get on your account page.
        </Alert>
      ) : (
        <Stack>
          <Text size="sm">Stop getting this kind of email from Mock Interviews?</Text>
          {unsubscribe.isError && (
            <Alert color="red" role="alert">
              {messageOf(unsubscribe.error)}
            </Alert>
          )}
          <Button onClick={() => unsubscribe.mutate()} loading={unsubscribe.isPending}>
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
