import { Alert, Button, Card, Modal, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, auth, must } from "../../api/client";
import { ApiError, fieldErrors, messageOf } from "../../api/problem";
import { useMe } from "../../features/account";
import { clearAllLocal } from "../../features/drafts";
import { MailPreferences } from "./MailPreferences";

function ProfileForm() {
  const me = useMe();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => setName(me.data?.name ?? ""), [me.data?.name]);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await must(api.PATCH("/user/me", { body: { name } }));
      await client.invalidateQueries({ queryKey: ["me"] });
      setMessage({ ok: true, text: "Saved." });
    } catch (error) {
      setMessage({ ok: false, text: fieldErrors(error instanceof ApiError ? error.problem : null).name ?? messageOf(error) });
    }
  }
  return (
    <Card withBorder component="section" aria-labelledby="profile">
      <form onSubmit={submit}>
        <Stack>
          <Title order={2} size="h4" id="profile">
            Profile
          </Title>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Text size="sm">Email: {me.data?.email}</Text>
          {message && <Text c={message.ok ? "teal" : "red"} size="sm" role="status">{message.text}</Text>}
          <Button type="submit" w="fit-content">
            Save
          </Button>
        </Stack>
      </form>
    </Card>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [done, setDone] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(false);
    try {
      await must(api.POST("/auth/password", { body: { current_password: current, new_password: next } }));
      setErrors({});
      setDone(true);
      setCurrent("");
      setNext("");
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error.problem) : {};
      if (error instanceof ApiError && error.status === 401) fields.current_password = error.message;
      setErrors(Object.keys(fields).length ? fields : { new_password: messageOf(error) });
    }
  }
  return (
    <Card withBorder component="section" aria-labelledby="password">
      <form onSubmit={submit}>
        <Stack>
          <Title order={2} size="h4" id="password">
            Change password
          </Title>
          <PasswordInput
            label="Current password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.currentTarget.value)}
            error={errors.current_password}
          />
          <PasswordInput
            label="New password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.currentTarget.value)}
            error={errors.new_password}
          />
          {done && (
            <Text c="teal" size="sm" role="status">
              Password changed. Other devices were signed out.
            </Text>
          )}
          <Button type="submit" w="fit-content">
            Change password
          </Button>
        </Stack>
      </form>
    </Card>
  );
}

function DeleteAccount() {
  const [opened, { open, close }] = useDisclosure(false);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(null);
  const navigate = useNavigate();
  const client = useQueryClient();
  async function remove() {
    try {
      await must(api.DELETE("/user/me"));
      clearAllLocal();
      auth.signOut();
      client.clear();
      navigate("/signin");
    } catch (e) {
      setError(e);
    }
  }
  return (
    <Card withBorder component="section" aria-labelledby="delete">
      <Stack align="flex-start">
        <Title order={2} size="h4" id="delete">
          Delete account
        </Title>
        <Text size="sm">Deletes your account, interviews and reports, and cancels any subscription. This cannot be undone.</Text>
        <Button color="red" variant="light" onClick={open}>
          Delete my account
        </Button>
      </Stack>
      <Modal opened={opened} onClose={close} closeButtonProps={{ "aria-label": "Close" }} title="Delete your account?" centered>
        <Stack>
          <TextInput
            label='Type "delete" to confirm'
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
          />
          {error != null && (
            <Alert color="red" role="alert">
              {messageOf(error)}
            </Alert>
          )}
          <Button color="red" disabled={typed.trim().toLowerCase() !== "delete"} onClick={remove}>
            Delete for good
          </Button>
        </Stack>
      </Modal>
    </Card>
  );
}

export default function SettingsPage() {
  return (
    <Stack maw={560}>
      <Title order={1}>Account</Title>
      <ProfileForm />
      <PasswordForm />
      <MailPreferences />
      <DeleteAccount />
    </Stack>
  );
}
