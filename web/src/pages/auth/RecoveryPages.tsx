import { Alert, Anchor, Button, Loader, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { ApiError, fieldErrors, messageOf } from "../../api/problem";
import { AuthCard } from "./AuthPages";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const forgot = useMutation({ mutationFn: () => must(api.POST("/auth/password/forgot", { body: { email } })) });
  function submit(event: FormEvent) {
    event.preventDefault();
    forgot.mutate();
  }
  return (
    <AuthCard title="Forgot your password?">
      {forgot.isSuccess ? (
        <Alert color="teal" role="status">
          If an account uses {email}, a link to choose a new password is on its way. It works once, for 30 minutes.
        </Alert>
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <Text size="sm">We will email you a link to choose a new password.</Text>
            {forgot.isError && (
              <Alert color="red" role="alert">
                {messageOf(forgot.error)}
              </Alert>
            )}
            <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <Button type="submit" loading={forgot.isPending}>
              Send the link
            </Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} to="/signin" size="sm">
        Back to sign in
      </Anchor>
    </AuthCard>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const reset = useMutation({
    mutationFn: () => must(api.POST("/auth/password/reset", { body: { token, new_password: password } })),
  });
  const field = reset.error instanceof ApiError ? fieldErrors(reset.error.problem).new_password : undefined;
  const error = reset.isError ? (field ? { field } : { general: messageOf(reset.error) }) : {};
  function submit(event: FormEvent) {
    event.preventDefault();
    reset.mutate();
  }
  return (
    <AuthCard title="Choose a new password">
      {reset.isSuccess ? (
        <Alert color="teal" role="status">
          Your password is changed and every device was signed out.{" "}
          <Anchor component={Link} to="/signin">
            Sign in
          </Anchor>
        </Alert>
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            {error.general && (
              <Alert color="red" role="alert">
                {error.general}{" "}
                <Anchor component={Link} to="/forgot-password">
                  Ask for a new link
                </Anchor>
              </Alert>
            )}
            <PasswordInput
              label="New password"
              autoComplete="new-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={error.field}
            />
            <Button type="submit" loading={reset.isPending} disabled={!token}>
              Change password
            </Button>
          </Stack>
        </form>
      )}
    </AuthCard>
  );
}

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [state, setState] = useState<{ kind: "working" | "done" | "failed"; message?: string }>({ kind: "working" });
  const sent = useRef(false);
  const client = useQueryClient();
  useEffect(() => {
    if (sent.current) return; // the token is single use: send it once
    sent.current = true;
    must(api.POST("/auth/verify-email", { body: { token } }))
      .then(() => {
        // a /user/me read while the link was being checked says "not verified": the
        // dashboard one click away must not show that reminder from the cache
        void client.invalidateQueries({ queryKey: ["me"] });
        setState({ kind: "done" });
      })
      .catch((e) => setState({ kind: "failed", message: messageOf(e) }));
  }, [token, client]);
  return (
    <AuthCard title="Verify your email">
      {state.kind === "working" && <Loader size="sm" aria-label="Verifying" />}
      {state.kind === "done" && (
        <Alert color="teal" role="status">
          Your email address is verified.{" "}
          <Anchor component={Link} to="/dashboard">
            Go to the dashboard
          </Anchor>
        </Alert>
      )}
      {state.kind === "failed" && (
        <Alert color="red" role="alert">
          {state.message} Sign in and ask for a new link from the dashboard.
        </Alert>
      )}
    </AuthCard>
  );
}
