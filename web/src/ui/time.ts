// Dates and times in the reader's time zone and language (Intl, no library).
import { language } from "../i18n";

// Kept with the catalogs (an error's end date is worded there), used by the screens from here.
export { formatDateTime } from "../i18n";

/** A `datetime-local` input's value (local wall time) as an ISO 8601 instant with zone (UTC). */
export function localInputToIso(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return null;
  const date = new Date(value); // a date-time without zone is local time
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The `datetime-local` value of a Date, in local time (minutes precision). */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/**
 * "5 minutes ago", "vor 2 Stunden", "3 天前", "in 10 minutes": the largest unit that fits,
 * in the current language (`Intl.RelativeTimeFormat`, whose plural rules each language has).
 */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(language.get(), { numeric: "auto" });
  if (Math.abs(seconds) < 45) return format.format(0, "second");
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, "second");
}
