import { Group, Pagination, Stack, Text, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { api, must } from "../../api/client";
import { QueryState } from "../../components/QueryState";
import { SessionTable } from "../../components/SessionList";

const PAGE = 10;

export default function HistoryPage() {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const query = useQuery({
    queryKey: ["interviews", page, PAGE],
    queryFn: () => must(api.GET("/interviews", { params: { query: { limit: PAGE, offset: (page - 1) * PAGE } } })),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack>
      <Title order={1}>History</Title>
      <QueryState query={query} label="Loading your interviews">
        {(data) => (
          <Stack>
            <SessionTable sessions={data.items} />
            {data.total > PAGE && (
              <Group justify="space-between">
                <Text size="sm" c="dimmed">
                  {data.total} interviews
                </Text>
                <Pagination
                  total={Math.ceil(data.total / PAGE)}
                  value={page}
                  onChange={(p) => setParams({ page: String(p) })}
                />
              </Group>
            )}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
