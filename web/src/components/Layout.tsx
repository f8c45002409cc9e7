import { AppShell, Burger, Button, Group, NavLink, Stack, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Link, Navigate, Outlet, useLocation, useNavigate } from "react-router";
import { useAuthState, useMe, useSignOut } from "../features/account";
import { Loading } from "./QueryState";

const LINKS = [
  { to: "/dashboard", label: "Dashboard" },
  { to: "/start", label: "New interview" },
  { to: "/history", label: "History" },
  { to: "/billing", label: "Plan" },
  { to: "/settings", label: "Account" },
];

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure(false);
  const { status } = useAuthState();
  const me = useMe();
  const location = useLocation();
  const navigate = useNavigate();
  const signOut = useSignOut();
  const signedIn = status === "in";
  const links = me.data?.role === "admin"
    ? [...LINKS, { to: "/admin", label: "Admin: stats" }, { to: "/admin/questions", label: "Admin: questions" }]
    : LINKS;

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={signedIn ? { width: 220, breakpoint: "sm", collapsed: { mobile: !opened } } : undefined}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            {signedIn && (
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Open the menu" />
            )}
            <Text component={Link} to="/" fw={700} size="lg" style={{ whiteSpace: "nowrap" }}>
              Mock interviews
            </Text>
          </Group>
          {signedIn ? (
            <Group gap="xs" wrap="nowrap">
              <Text size="sm" c="dimmed" visibleFrom="sm">
                {me.data?.name}
              </Text>
              <Button
                variant="subtle"
                size="xs"
                onClick={async () => {
                  await signOut();
                  navigate("/signin");
                }}
              >
                Sign out
              </Button>
            </Group>
          ) : (
            <Group gap="xs" wrap="nowrap">
              <Button component={Link} to="/signin" variant="subtle" size="xs">
                Sign in
              </Button>
              <Button component={Link} to="/signup" size="xs">
                Sign up
              </Button>
            </Group>
          )}
        </Group>
      </AppShell.Header>
      {signedIn && (
        <AppShell.Navbar p="sm" aria-label="Main">
          <Stack gap={2}>
            {links.map((l) => (
              <NavLink
                key={l.to}
                component={Link}
                to={l.to}
                label={l.label}
                active={location.pathname === l.to}
                onClick={close}
              />
            ))}
          </Stack>
        </AppShell.Navbar>
      )}
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}

export function RequireAuth() {
  const { status, reason } = useAuthState();
  const location = useLocation();
  if (status === "checking") return <Loading label="Signing you in" />;
  if (status === "out") {
    const next = encodeURIComponent(location.pathname + location.search);
    const why = reason && reason !== "signed_out" ? `&reason=${reason}` : "";
    return <Navigate to={`/signin?next=${next}${why}`} replace />;
  }
  return <Outlet />;
}

export function RequireAdmin() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.data?.role !== "admin") return <Navigate to="/dashboard" replace />;
  return <Outlet />;
}
