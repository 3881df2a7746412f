// Which fields a 422 `invalid_request` names: the server lists `field.index: reason` parts in its
// message ("The request is not valid. skills.2: ...; links.0: ..."), from pydantic's locations.
import { ApiError } from "./client";

/** The top-level fields an error names (in order, once each); empty when it names none. */
export function invalidFields(error: unknown): string[] {
  if (!(error instanceof ApiError) || error.code !== "invalid_request") return [];
  const found: string[] = [];
  for (const match of error.message.matchAll(/(?:^|[.;]\s+)([a-z_]+)(?:\.\d+)?(?:\.[\w.]+)?:\s/g)) {
    const field = match[1]!;
    if (!found.includes(field)) found.push(field);
  }
  return found;
}
