// The HTTP client: generated from the OpenAPI schema (openapi-typescript types +
// openapi-fetch), plus what every call needs: the CSRF header of the cookie session, typed errors.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "../../generated/api";

export type Schemas = components["schemas"];
export type Account = Schemas["AccountOut"];
export type Room = Schemas["RoomOut"];
export type HallwayRoom = Schemas["HallwayRoom"];
export type RankedRoom = Schemas["RankedRoom"];
export type UpcomingRoom = Schemas["UpcomingRoom"];
export type StagePerson = Schemas["StagePerson"];
export type Participant = Schemas["ParticipantOut"];
export type Invite = Schemas["InviteOut"];
export type Profile = Schemas["ProfileOut"];
export type PublicUser = Schemas["PublicUser"];
export type Person = Schemas["PersonOut"];
export type PersonHit = Schemas["PersonHit"];
export type RoomHit = Schemas["RoomHit"];
export type Connection = Schemas["ConnectionOut"];
export type Notice = Schemas["NotificationOut"];
export type MetPerson = Schemas["MetPersonOut"];
export type Card = Schemas["CardOut"];
export type Vocabulary = Schemas["VocabularyOut"];

/** An error answered by the API: `{"error": {"code", "message"}}`, with `Retry-After` if sent. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again (from `Retry-After`), when the server said. */
    readonly retryAfter: number | null = null,
    /** When the refusal ends (ISO 8601), where the server said (`account_suspended`). */
    readonly until: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The value of a readable cookie. */
export function readCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== "GET" && request.method !== "HEAD") {
      // Served over https the cookie carries the __Host- prefix (the server sets one or the other).
      const csrf = readCookie("__Host-mitalk_csrf") ?? readCookie("mitalk_csrf");
      if (csrf) request.headers.set("X-CSRF-Token", csrf);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);

/** Turn a failed response into an ApiError (unknown shapes become `http_<status>`). */
export function toApiError(response: Response, body: unknown): ApiError {
  const retry = response.headers.get("Retry-After");
  const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null;
  const error = (body as { error?: { code?: unknown; message?: unknown; until?: unknown } } | null)?.error;
  if (error && typeof error.code === "string") {
    const until = typeof error.until === "string" ? error.until : null;
    return new ApiError(response.status, error.code, String(error.message ?? ""), retryAfter, until);
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText, retryAfter);
}

/** Called when any request answers 401: the session is gone. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/**
 * Await an openapi-fetch call and return its data, or throw an ApiError.
 * Network failures become `ApiError(0, "network")`.
 */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch {
    throw new ApiError(0, "network", "network error");
  }
  if (!result.response.ok) {
    if (result.response.status === 401) onUnauthorized();
    throw toApiError(result.response, result.error);
  }
  return result.data as T;
}
