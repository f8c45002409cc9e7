/** RFC 9457 problem documents as the API sends them, and where their words go on a form. */
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    readonly retryAfter: number | null = null,
  ) {
    super(problem?.detail ?? problem?.title ?? `The server answered ${status}.`);
  }

  get code(): string | undefined {
    return this.problem?.code;
  }
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "code" in value;
}

/** Field name -> message, from a 422's `errors` (pydantic locations such as body.email). */
export function fieldErrors(problem: Problem | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const errors = (problem?.errors ?? []) as Array<{ loc?: unknown[]; msg?: string }>;
  for (const error of errors) {
    const loc = (error.loc ?? []).filter((part) => part !== "body");
    const field = loc.map(String).join(".");
    if (field && error.msg && !(field in out)) out[field] = error.msg.replace(/^Value error, /, "");
  }
  return out;
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "The server cannot be reached. Check your connection.";
  return error instanceof Error ? error.message : String(error);
}
