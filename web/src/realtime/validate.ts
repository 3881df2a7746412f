// Every message from a socket is checked against the server's JSON Schemas before use.
// The validators are standalone code generated at build time (no eval at run time).
import { validators } from "../../generated/validators.js";

/** A server message that passed its schema. */
export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

/** The message if it is valid for its `type`, else null (with a console warning). */
export function validateMessage(data: unknown): ServerMessage | null {
  const type = (data as { type?: unknown } | null)?.type;
  if (typeof type !== "string") {
    console.warn("mitalk: dropped a message without a type", data);
    return null;
  }
  const validate = validators[type];
  if (!validate) {
    console.warn(`mitalk: dropped a message of unknown type ${type}`);
    return null;
  }
  if (!validate(data)) {
    console.warn(`mitalk: dropped an invalid ${type} message`, validate.errors);
    return null;
  }
  return data as ServerMessage;
}

/** Parse one WebSocket text frame and validate it. */
export function parseFrame(text: string): ServerMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    console.warn("mitalk: dropped a frame that is not JSON");
    return null;
  }
  return validateMessage(data);
}
