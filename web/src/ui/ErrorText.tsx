import { errorText } from "../i18n";

/** An error shown through translations (`errors.<code>`), announced to screen readers. */
export function ErrorText(props: { error: { code: string; retryAfter?: number | null; until?: string | null } | null; testId?: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert" data-testid={props.testId}>
      {errorText(props.error.code, props.error.retryAfter ?? null, props.error.until ?? null)}
    </p>
  );
}

/** The code, wait time and end of a refusal of anything thrown by the API client. */
export function asError(error: unknown): { code: string; retryAfter: number | null; until?: string | null } {
  const e = error as { code?: unknown; retryAfter?: unknown; until?: unknown };
  return {
    code: typeof e?.code === "string" ? e.code : "unknown",
    retryAfter: typeof e?.retryAfter === "number" ? e.retryAfter : null,
    ...(typeof e?.until === "string" ? { until: e.until } : {}),
  };
}
