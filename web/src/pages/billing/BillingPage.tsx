import { Alert, Button, Card, Group, Modal, Stack, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { messageOf } from "../../api/problem";
import { QueryState } from "../../components/QueryState";
import { localTime } from "../../features/account";

export default function BillingPage() {
  const [params] = useSearchParams();
  const client = useQueryClient();
  const returned = params.get("checkout");
  const subscription = useQuery({
    queryKey: ["subscription"],
    queryFn: () => must(api.GET("/billing/subscription")),
    // back from a payment: the upgrade lands when Stripe's webhook does, within seconds
    refetchInterval: (q) => (returned === "success" && q.state.data?.plan === "free" ? 1500 : false),
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, { open, close }] = useDisclosure(false);

  async function upgrade() {
    setBusy(true);
    setError(null);
    try {
      const started = await must(api.POST("/billing/checkout", { body: { plan: "premium" } }));
      window.location.assign(started.checkout_url);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  async function cancel() {
    setBusy(true);
    setError(null);
    try {
      await must(api.POST("/billing/subscription/cancel"));
      close();
      await client.invalidateQueries({ queryKey: ["subscription"] });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const plan = subscription.data?.plan;
  if (plan === "premium") void client.invalidateQueries({ queryKey: ["me"] });

  return (
    <Stack maw={640}>
      <Title order={1}>Your plan</Title>
      {returned === "success" && plan !== "premium" && <Alert color="blue">Payment received. Your plan updates in a few seconds…</Alert>}
      {returned === "success" && plan === "premium" && <Alert color="teal">Welcome to premium.</Alert>}
      {returned === "cancelled" && <Alert color="gray">Checkout cancelled: nothing was charged.</Alert>}
      {error != null && (
        <Alert color="red" role="alert">
          {messageOf(error)}
        </Alert>
      )}
      <QueryState query={subscription} label="Loading your plan">
        {(sub) => (
          <Card withBorder>
            <Stack gap="xs">
              <Group justify="space-between">
                <Text fw={700} size="xl" tt="capitalize" data-testid="plan-name">
                  {sub.plan}
                </Text>
                <Text size="sm" c="dimmed">
                  {sub.status}
                </Text>
              </Group>
              <Text size="sm">{sub.weekly_limit} interviews a week</Text>
              {sub.cancel_at_period_end ? (
                <Text size="sm" data-testid="renewal">
                  Cancelled: premium stays until{" "}
                  {sub.next_billing_date ? localTime(sub.next_billing_date) : "the end of the period you paid for"}, then
                  the free plan.
                </Text>
              ) : (
                sub.next_billing_date && (
                  <Text size="sm" data-testid="renewal">
                    Renews {localTime(sub.next_billing_date)}
                  </Text>
                )
              )}
              {sub.plan === "free" ? (
                <Stack gap={4} align="flex-start">
                  <Text size="sm">Premium: up to 20 interviews a week, cancel any time.</Text>
                  <Button onClick={upgrade} loading={busy}>
                    Upgrade to premium
                  </Button>
                </Stack>
              ) : (
                !sub.cancel_at_period_end && (
                  <Button color="red" variant="light" onClick={open} w="fit-content">
                    Cancel subscription
                  </Button>
                )
              )}
            </Stack>
          </Card>
        )}
      </QueryState>
      <Modal opened={confirming} onClose={close} closeButtonProps={{ "aria-label": "Close" }} title="Cancel your subscription?" centered>
        <Stack>
          <Text size="sm">You keep premium until the end of the period you paid for, then return to the free plan.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Keep premium
            </Button>
            <Button color="red" onClick={cancel} loading={busy}>
              Cancel subscription
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
