/**
 * The signed-in session: the access token lives in this object's memory only (never in
 * localStorage); the refresh token is the httpOnly cookie the API sets on /auth, which
 * script cannot read. A 401 triggers one refresh (shared by every request that hit it at
 * the same time) and one retry; a reused or unknown refresh token signs the user out.
 */

export type SignedOutReason = "signed_out" | "expired" | "refresh_token_reused";

type Fetch = (input: Request) => Promise<Response>;

const REFRESH_PATH = "/auth/refresh";
// calls whose 401 means "wrong credentials", not "token expired"
const NO_RETRY = ["/auth/login", "/auth/register", REFRESH_PATH, "/auth/password"];

export class AuthSession {
  private token: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<(signedIn: boolean, reason?: SignedOutReason) => void>();

  constructor(
    private readonly send: Fetch,
    private readonly origin: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  get accessToken(): string | null {
    return this.token;
  }

  get signedIn(): boolean {
    return this.token !== null;
  }

  subscribe(listener: (signedIn: boolean, reason?: SignedOutReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  signIn(accessToken: string): void {
    this.token = accessToken;
    this.listeners.forEach((l) => l(true));
  }

  signOut(reason: SignedOutReason = "signed_out"): void {
    const was = this.token !== null;
    this.token = null;
    if (was || reason !== "signed_out") this.listeners.forEach((l) => l(false, reason));
  }

  /** Trade the refresh cookie for a new access token; one call at a time. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    let response: Response;
    const send = () =>
      this.send(
        new Request(new URL(REFRESH_PATH, this.origin), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
        }),
      );
    try {
      // one refresh at a time across this browser's tabs: each rotation replaces the cookie,
      // and two tabs sending the same cookie at once would look like a stolen token (the
      // server revokes the whole login)
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      const once = () => (locks ? locks.request("mock-interview-refresh", send) : send());
      response = await once();
      // throttled or the server is struggling: not a reason to sign anyone out; wait once
      if (response.status === 429 || response.status >= 500) {
        const wait = Number(response.headers.get("Retry-After")) || 1;
        await this.sleep(Math.min(wait, 10) * 1000);
        response = await once();
      }
    } catch {
      return false; // offline: keep the session, the caller shows the network error
    }
    if (response.ok) {
      const body = (await response.json()) as { access_token: string };
      this.signIn(body.access_token);
      return true;
    }
    if (response.status !== 401) return false;
    let code: string | undefined;
    try {
      code = ((await response.json()) as { code?: string }).code;
    } catch {
      code = undefined;
    }
    // no token before (a first visit, a reload without a cookie): nothing ended
    this.signOut(code === "refresh_token_reused" ? "refresh_token_reused" : this.token ? "expired" : "signed_out");
    return false;
  }

  /** fetch with the access token; on a 401, refresh once and retry once. */
  fetch = async (request: Request): Promise<Response> => {
    const retry = request.clone();
    const response = await this.send(this.authorised(request));
    const path = new URL(request.url).pathname;
    if (response.status !== 401 || NO_RETRY.includes(path)) return response;
    const sentWith = request.headers.get("Authorization");
    // another request may have refreshed while this one was out
    const current = this.token ? `Bearer ${this.token}` : null;
    const refreshed = current !== null && current !== sentWith ? true : await this.refresh();
    if (!refreshed) return response;
    return this.send(this.authorised(retry));
  };

  private authorised(request: Request): Request {
    if (this.token) request.headers.set("Authorization", `Bearer ${this.token}`);
    return request;
  }
}
