import { Alert, Anchor, Button, Card, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { api, auth, must } from "../../api/client";
import { ApiError, fieldErrors, messageOf } from "../../api/problem";
import { useAuthState } from "../../features/account";

const REASONS: Record<string, string> = {
  expired: "Your session ended. Please sign in again.",
  refresh_token_reused:
    "You were signed out because your session was used from somewhere else. Sign in again; if it was not you, change your password.",
};

function safeNext(next: string | null): string {
  // only a path on this site: never an absolute URL or //host
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
}

async function signIn(email: string, password: string) {
  const tokens = await must(api.POST("/auth/login", { body: { email, password } }));
  auth.signIn(tokens.access_token); // the refresh token stays in its httpOnly cookie
}

type Errors = Record<string, string>;

function errorsFrom(error: unknown): { fields: Errors; general: string | null } {
  if (!(error instanceof ApiError)) return { fields: {}, general: messageOf(error) };
  const fields = fieldErrors(error.problem);
  if (error.code === "invalid_credentials") return { fields: { password: error.message }, general: null };
  if (error.code === "email_taken") return { fields: { email: error.message }, general: null };
  if (Object.keys(fields).length) return { fields, general: null };
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
  return { fields: {}, general: error.message + wait };
}

export function AuthCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Card withBorder maw={420} mx="auto" mt="xl" p="lg">
      <Stack>
        <Title order={1} size="h2">
          {title}
        </Title>
        {children}
      </Stack>
    </Card>
  );
}

export function SignInPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const { status } = useAuthState();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ fields: Errors; general: string | null }>({ fields: {}, general: null });
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get("next"));
  const reason = params.get("reason");

  if (status === "in" && !busy) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await signIn(email, password);
      client.clear();
      navigate(next, { replace: true });
    } catch (error) {
      setErrors(errorsFrom(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Sign in">
      {reason && REASONS[reason] && <Alert color="yellow">{REASONS[reason]}</Alert>}
      {errors.general && (
        <Alert color="red" role="alert">
          {errors.general}
        </Alert>
      )}
      <form onSubmit={submit} noValidate>
        <Stack>
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={errors.fields.email}
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={errors.fields.password}
          />
          <Button type="submit" loading={busy}>
            Sign in
          </Button>
          <Anchor component={Link} to="/forgot-password" size="sm">
            Forgot your password?
          </Anchor>
        </Stack>
      </form>
      <Text size="sm">
        New here?{" "}
        <Anchor component={Link} to="/signup">
          Create an account
        </Anchor>
      </Text>
    </AuthCard>
  );
}

export function SignUpPage() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ fields: Errors; general: string | null }>({ fields: {}, general: null });
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await must(api.POST("/auth/register", { body: { name, email, password } }));
      await signIn(email, password);
      client.clear();
      navigate("/dashboard", { replace: true });
    } catch (error) {
      setErrors(errorsFrom(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Create an account">
      <Text size="sm" c="dimmed">
        Two free interviews every week. No card needed.
      </Text>
      {errors.general && (
        <Alert color="red" role="alert">
          {errors.general}
        </Alert>
      )}
      <form onSubmit={submit} noValidate>
        <Stack>
          <TextInput
            label="Name"
            autoComplete="name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={errors.fields.name}
          />
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={errors.fields.email}
          />
          <PasswordInput
            label="Password"
            description="10 to 128 characters, mixing letters with digits or symbols; not your name or email."
            autoComplete="new-password"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={errors.fields.password}
          />
          <Button type="submit" loading={busy}>
            Create account
          </Button>
        </Stack>
      </form>
      <Text size="sm">
        Already have an account?{" "}
        <Anchor component={Link} to="/signin">
          Sign in
        </Anchor>
      </Text>
    </AuthCard>
  );
}
