import { describe, expect, it } from "vitest";
import { followSession, parseEvents, type Frame } from "../src/api/events";

const frame = (sequence: number, status: Frame["status"]) =>
  `id: ${sequence}\nevent: status\ndata: ${JSON.stringify({ sequence, status, at: "2026-12-03T12:00:00Z" })}\n\n`;

function stream(chunks: string[], breakAfter = false): Response {
  const queue = [...chunks];
  // one chunk per read, then the connection breaks (or ends), as on a real network
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = queue.shift();
      if (chunk !== undefined) controller.enqueue(new TextEncoder().encode(chunk));
      else if (breakAfter) controller.error(new TypeError("network error"));
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

describe("parseEvents", () => {
  it("keeps an unfinished event for the next chunk and skips heartbeats", () => {
    const first = parseEvents("retry: 3000\n\n: heartbeat\n\nid: 1\nevent: status\ndata: {\"a\":");
    expect(first.events).toEqual([{ event: "message", data: "", retry: 3000 }]);
    const second = parseEvents(first.rest + "1}\n\n");
    expect(second.events).toEqual([{ id: "1", event: "status", data: '{"a":1}' }]);
    expect(second.rest).toBe("");
  });

  it("reads CRLF line endings", () => {
    expect(parseEvents("id: 2\r\nevent: status\r\ndata: x\r\n\r\n").events).toEqual([
      { id: "2", event: "status", data: "x" },
    ]);
  });
});

describe("followSession", () => {
  it("reconnects after a drop with Last-Event-ID and stops at a final status", async () => {
    const sent: Array<string | null> = [];
    const answers = [
      () => stream(["retry: 10\n\n", frame(1, "queued"), frame(2, "ready")], true),
      () => stream([frame(2, "ready"), frame(3, "scoring"), frame(4, "completed")]),
    ];
    const frames: number[] = [];
    const states: string[] = [];
    await followSession("s1", {
      origin: "http://app.test",
      fetch: async (request) => {
        sent.push(request.headers.get("Last-Event-ID"));
        return answers[sent.length - 1]!();
      },
      onFrame: (f) => frames.push(f.sequence),
      onState: (s) => states.push(s),
      sleep: async () => undefined,
    });
    expect(sent).toEqual([null, "2"]);
    expect(frames).toEqual([1, 2, 3, 4]); // the repeated 2 is not delivered twice
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("closed");
  });

  it("backs off while the server cannot be reached, then resumes", async () => {
    let calls = 0;
    const waits: number[] = [];
    const frames: string[] = [];
    await followSession("s1", {
      origin: "http://app.test",
      delay: 100,
      maxDelay: 300,
      fetch: async () => {
        calls += 1;
        if (calls <= 3) throw new TypeError("Failed to fetch");
        return stream([frame(1, "failed")]);
      },
      onFrame: (f) => frames.push(f.status),
      sleep: async (ms) => void waits.push(ms),
    });
    expect(waits).toEqual([100, 200, 300]);
    expect(frames).toEqual(["failed"]);
  });

  it("gives up on a 404 with the problem's detail", async () => {
    const states: Array<[string, string | undefined]> = [];
    await followSession("nope", {
      origin: "http://app.test",
      fetch: async () =>
        new Response(JSON.stringify({ status: 404, code: "not_found", detail: "No such interview." }), { status: 404 }),
      onFrame: () => undefined,
      onState: (s, d) => states.push([s, d]),
      sleep: async () => undefined,
    });
    expect(states.at(-1)).toEqual(["error", "No such interview."]);
  });
});
