// Contacts for "let in from contacts": numbers normalised to E.164 with libphonenumber-js and
// hashed with SHA-256 (hex) in the browser; only the hashes are uploaded.
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/min";

/** At most this many hashes per upload (the server's limit: a list holds at most 1,000). */
export const MAX_CONTACTS = 1000;

/** The region of an E.164 number (to read national numbers in a member's list), if known. */
export function regionOf(e164: string): CountryCode | undefined {
  return parsePhoneNumberFromString(e164)?.country;
}

/**
 * Numbers from pasted text (one per line, or separated by commas or semicolons), as E.164:
 * national numbers are read in `region`; duplicates are dropped; what is not a valid number is
 * returned in `invalid`.
 */
export function normalizeNumbers(
  text: string | readonly string[],
  region: CountryCode | undefined,
): { numbers: string[]; invalid: string[] } {
  const parts = (typeof text === "string" ? text.split(/[\n,;]+/) : [...text]).map((p) => p.trim()).filter(Boolean);
  const numbers: string[] = [];
  const invalid: string[] = [];
  for (const part of parts) {
    const cleaned = part.replace(/^00/, "+");
    const parsed = parsePhoneNumberFromString(cleaned, region);
    if (parsed?.isValid()) {
      if (!numbers.includes(parsed.number)) numbers.push(parsed.number);
    } else {
      invalid.push(part);
    }
  }
  return { numbers, invalid };
}

/** The SHA-256 of a string's UTF-8 bytes, in lower-case hex (Web Crypto). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The hashes to upload for a list of E.164 numbers (the caller keeps it to MAX_CONTACTS). */
export async function contactHashes(numbers: readonly string[]): Promise<string[]> {
  return Promise.all(numbers.map(sha256Hex));
}
