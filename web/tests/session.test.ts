import { describe, expect, it } from "vitest";
import { AuthSession } from "../src/api/session";

const ORIGIN = "http://app.test";
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** A fake API: /user/me accepts only the current token; /auth/refresh issues the next one. */
function server(options: { refresh?: "ok" | "reused" | "invalid" } = {}) {
  let valid = "t1";
  let issued = 1;
  const calls: string[] = [];
  const send = async (request: Request) => {
    const path = new URL(request.url).pathname;
    calls.push(`${request.method} ${path} ${request.headers.get("Authorization") ?? "-"}`);
    if (path === "/auth/refresh") {
      await new Promise((r) => setTimeout(r, 5));
      if (options.refresh === "reused") return json(401, { code: "refresh_token_reused", status: 401 });
      if (options.refresh === "invalid") return json(401, { code: "invalid_token", status: 401 });
      valid = `t${++issued}`;
      return json(200, { access_token: valid, token_type: "bearer", expires_in: 900 });
    }
    if (path === "/auth/login") return json(401, { code: "invalid_credentials", status: 401 });
    const body = request.method === "POST" ? await request.text() : null;
    return request.headers.get("Authorization") === `Bearer ${valid}`
      ? json(200, { ok: true, body })
      : json(401, { code: "invalid_token", status: 401 });
  };
  return { send, calls, expire: () => (valid = "rotated-away") };
}

describe("AuthSession", () => {
  it("sends the access token from memory", async () => {
    const api = server();
    const session = new AuthSession(api.send, ORIGIN);
    session.signIn("t1");
    const response = await session.fetch(new Request(`${ORIGIN}/user/me`));
    expect(response.status).toBe(200);
    expect(api.calls).toEqual(["GET /user/me Bearer t1"]);
  });

  it("refreshes once on a 401 and retries the request with its body", async () => {
    const api = server();
    const session = new AuthSession(api.send, ORIGIN);
    session.signIn("t1");
    api.expire();
    const response = await session.fetch(new Request(`${ORIGIN}/interviews`, { method: "POST", body: '{"type":"mixed"}' }));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { body: string }).body).toBe('{"type":"mixed"}');
    expect(api.calls.filter((c) => c.startsWith("POST /auth/refresh"))).toHaveLength(1);
    expect(session.accessToken).toBe("t2");
  });

  it("shares one refresh between requests that expired together", async () => {
    const api = server();
    const session = new AuthSession(api.send, ORIGIN);
    session.signIn("t1");
    api.expire();
    const answers = await Promise.all([1, 2, 3].map(() => session.fetch(new Request(`${ORIGIN}/user/me`))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(api.calls.filter((c) => c.startsWith("POST /auth/refresh"))).toHaveLength(1);
  });

  it("signs out when the refresh token was reused, and says why", async () => {
    const api = server({ refresh: "reused" });
    const session = new AuthSession(api.send, ORIGIN);
    const seen: Array<[boolean, string | undefined]> = [];
    session.subscribe((signedIn, reason) => seen.push([signedIn, reason]));
    session.signIn("t1");
    api.expire();
    const response = await session.fetch(new Request(`${ORIGIN}/user/me`));
    expect(response.status).toBe(401);
    expect(session.signedIn).toBe(false);
    expect(seen.at(-1)).toEqual([false, "refresh_token_reused"]);
  });

  it("does not refresh on a wrong password", async () => {
    const api = server();
    const session = new AuthSession(api.send, ORIGIN);
    const response = await session.fetch(new Request(`${ORIGIN}/auth/login`, { method: "POST", body: "{}" }));
    expect(response.status).toBe(401);
    expect(api.calls).toHaveLength(1);
  });

  it("keeps the session when the network is down during a refresh", async () => {
    const session = new AuthSession(async () => {
      throw new TypeError("Failed to fetch");
    }, ORIGIN);
    session.signIn("t1");
    expect(await session.refresh()).toBe(false);
    expect(session.signedIn).toBe(true);
  });
});

describe("AuthSession when the server throttles", () => {
  it("waits out a 429 on refresh (Retry-After) and does not sign out", async () => {
    const answers = [
      new Response(JSON.stringify({ code: "too_many_requests", status: 429 }), {
        status: 429,
        headers: { "Retry-After": "2" },
      }),
      json(200, { access_token: "t9", token_type: "bearer", expires_in: 900 }),
    ];
    const waited: number[] = [];
    const session = new AuthSession(async () => answers.shift()!, ORIGIN, async (ms) => void waited.push(ms));
    session.signIn("t1");
    expect(await session.refresh()).toBe(true);
    expect(waited).toEqual([2000]);
    expect(session.accessToken).toBe("t9");
  });

  it("keeps the session through a server error on refresh", async () => {
    const session = new AuthSession(async () => json(503, { code: "unavailable", status: 503 }), ORIGIN, async () => undefined);
    session.signIn("t1");
    expect(await session.refresh()).toBe(false);
    expect(session.signedIn).toBe(true);
  });
});
