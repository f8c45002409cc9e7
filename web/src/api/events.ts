/**
 * A session's status changes over Server-Sent Events, read with fetch (EventSource cannot
 * send the Authorization header). After a dropped connection it reconnects with
 * `Last-Event-ID`, so the server sends only what was missed, until a final status.
 */

export type Frame = {
  sequence: number;
  status: "queued" | "ready" | "scoring" | "completed" | "failed";
  at: string;
  overall_score?: number | null;
  reason?: string | null;
};

export type StreamState = "connecting" | "open" | "reconnecting" | "closed" | "error";

export type SSEEvent = { id?: string; event: string; data: string; retry?: number };

const FINAL = new Set(["completed", "failed"]);

/** Splits buffered text into complete events and the unfinished rest. */
export function parseEvents(buffer: string): { events: SSEEvent[]; rest: string } {
  const events: SSEEvent[] = [];
  const normalised = buffer.replace(/\r\n?/g, "\n");
  const blocks = normalised.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const event: SSEEvent = { event: "message", data: "" };
    const data: string[] = [];
    let meaningful = false;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue; // comment: heartbeat
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) event.retry = Number(value);
      else continue;
      meaningful = true;
    }
    if (!meaningful) continue;
    event.data = data.join("\n");
    events.push(event);
  }
  return { events, rest };
}

export type FollowOptions = {
  fetch: (request: Request) => Promise<Response>;
  origin: string;
  onFrame: (frame: Frame) => void;
  onState?: (state: StreamState, detail?: string) => void;
  signal?: AbortSignal;
  lastEventId?: number;
  /** waits between reconnections (ms), doubled up to maxDelay */
  delay?: number;
  maxDelay?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
};

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Follows a session until a final status, the signal aborts, or the server says 4xx. */
export async function followSession(sessionId: string, options: FollowOptions): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  let lastId = options.lastEventId ?? 0;
  let delay = options.delay ?? 1000;
  const maxDelay = options.maxDelay ?? 15000;
  let first = true;
  while (!options.signal?.aborted) {
    options.onState?.(first ? "connecting" : "reconnecting");
    first = false;
    let finished = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastId > 0) headers["Last-Event-ID"] = String(lastId);
      const response = await options.fetch(
        new Request(new URL(`/interviews/${encodeURIComponent(sessionId)}/events`, options.origin), {
          headers,
          signal: options.signal,
        }),
      );
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        let detail = `HTTP ${response.status}`;
        try {
          detail = ((await response.json()) as { detail?: string }).detail ?? detail;
        } catch {
          /* not a problem document */
        }
        options.onState?.("error", detail);
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      options.onState?.("open");
      delay = options.delay ?? 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseEvents(buffer + value);
        buffer = parsed.rest;
        for (const event of parsed.events) {
          if (event.retry !== undefined) delay = event.retry;
          if (event.event !== "status" || !event.data) continue;
          const frame = JSON.parse(event.data) as Frame;
          if (frame.sequence <= lastId) continue; // seen before the drop
          lastId = frame.sequence;
          options.onFrame(frame);
          if (FINAL.has(frame.status)) finished = true;
        }
        if (finished) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) break;
      options.onState?.("reconnecting", error instanceof Error ? error.message : String(error));
    }
    if (finished) {
      options.onState?.("closed");
      return;
    }
    // the stream ended (or broke) before a final status: come back for what follows
    await sleep(delay, options.signal);
    delay = Math.min(delay * 2, maxDelay);
  }
  options.onState?.("closed");
}
