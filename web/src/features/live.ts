/** A session and its live status: the page's copy is refreshed on every status change. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, auth, must } from "../api/client";
import { followSession, type Frame, type StreamState } from "../api/events";

export function useSessionQuery(id: string) {
  return useQuery({
    queryKey: ["session", id],
    queryFn: () => must(api.GET("/interviews/{session_id}", { params: { path: { session_id: id } } })),
  });
}

/** Follows the session's events until a final status; reconnects after a drop. */
export function useLiveStatus(id: string, follow: boolean) {
  const client = useQueryClient();
  const [state, setState] = useState<StreamState>("connecting");
  const [last, setLast] = useState<Frame | null>(null);
  useEffect(() => {
    if (!follow) return;
    const abort = new AbortController();
    void followSession(id, {
      fetch: auth.fetch,
      origin: window.location.origin,
      signal: abort.signal,
      onState: (s) => setState(s),
      onFrame: (frame) => {
        setLast(frame);
        // the stream replays the history first: read the session again only on news
        const cached = client.getQueryData<{ status: string }>(["session", id]);
        if (cached?.status !== frame.status) void client.invalidateQueries({ queryKey: ["session", id] });
        if (frame.status === "completed" || frame.status === "failed") {
          void client.invalidateQueries({ queryKey: ["me"] });
          void client.invalidateQueries({ queryKey: ["interviews"] });
        }
      },
    });
    return () => abort.abort();
  }, [id, follow, client]);
  return { state, last };
}
