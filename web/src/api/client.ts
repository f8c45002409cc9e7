/** The one API client: typed from the gateway's OpenAPI (schema.d.ts is generated). */
import createClient from "openapi-fetch";
import { ApiError, isProblem } from "./problem";
import type { components, paths } from "./schema";
import { AuthSession } from "./session";

export type Schemas = components["schemas"];
export type Session = Schemas["SessionOut"];
export type Question = Schemas["QuestionOut"];
export type Me = Schemas["Me"];

const origin = window.location.origin;
export const auth = new AuthSession((request) => fetch(request), origin);
export const api = createClient<paths>({ baseUrl: origin, fetch: auth.fetch });

/** Unwraps an openapi-fetch result: the data, or an ApiError carrying the problem. */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const retry = response.headers.get("Retry-After");
  throw new ApiError(
    response.status,
    isProblem(error) ? error : null,
    retry && /^\d+$/.test(retry) ? Number(retry) : null,
  );
}
