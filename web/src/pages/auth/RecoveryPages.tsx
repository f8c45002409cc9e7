import { Alert, Anchor, Button, Loader, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { ApiError, fieldErrors, messageOf } from "../../api/problem";
import { AuthCard } from "./AuthPages";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await must(api.POST("/auth/password/forgot", { body: { email } }));
      setSent(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <AuthCard title="Forgot your password?">
      {sent ? (
        <Alert color="teal" role="status">
          If an account uses {email}, a link to choose a new password is on its way. It works once, for 30 minutes.
        </Alert>
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <Text size="sm">We will email you a link to choose a new password.</Text>
            {error != null && (
              <Alert color="red" role="alert">
                {messageOf(error)}
              </Alert>
            )}
            <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <Button type="submit" loading={busy}>
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
  const [done, setDone] = useState(false);
  const [error, setError] = useState<{ field?: string; general?: string }>({});
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError({});
    try {
      await must(api.POST("/auth/password/reset", { body: { token, new_password: password } }));
      setDone(true);
    } catch (e) {
      const field = e instanceof ApiError ? fieldErrors(e.problem).new_password : undefined;
      setError(field ? { field } : { general: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }
  return (
    <AuthCard title="Choose a new password">
      {done ? (
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
            <Button type="submit" loading={busy} disabled={!token}>
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
  useEffect(() => {
    if (sent.current) return; // the token is single use: send it once
    sent.current = true;
    must(api.POST("/auth/verify-email", { body: { token } }))
      .then(() => setState({ kind: "done" }))
      .catch((e) => setState({ kind: "failed", message: messageOf(e) }));
  }, [token]);
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
