// Translations: every user-visible string comes from these JSON files through t().
import { Observable } from "../store/observable";
import de from "./de.json";
import en from "./en.json";
import zhHans from "./zh-Hans.json";
import zhHant from "./zh-Hant.json";

export const LANGUAGES = ["en", "de", "zh-Hans", "zh-Hant"] as const;
export type Language = (typeof LANGUAGES)[number];
export type MessageKey = keyof typeof en;

export const catalogs: Record<Language, Record<string, string>> = {
  en,
  de,
  "zh-Hans": zhHans,
  "zh-Hant": zhHant,
};

const STORAGE_KEY = "mitalk.language";

/** The best of our languages for a browser's preference list (zh-TW/HK/Hant → Traditional). */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) {
      if (/^zh-(hant|tw|hk|mo)/.test(lower)) return "zh-Hant";
      return "zh-Hans";
    }
    if (lower === "de" || lower.startsWith("de-")) return "de";
    if (lower === "en" || lower.startsWith("en-")) return "en";
  }
  return "en";
}

function initialLanguage(): Language {
  try {
    const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (stored && (LANGUAGES as readonly string[]).includes(stored)) return stored as Language;
  } catch {
    // Storage may be blocked (private mode): fall back to the browser's languages.
  }
  const nav = globalThis.navigator;
  return pickLanguage(nav ? (nav.languages?.length ? nav.languages : [nav.language]) : []);
}

export const language = new Observable<Language>(initialLanguage());

/** Switch language, remember it, and update `<html lang>`. */
export function setLanguage(lang: Language): void {
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered; still switched.
  }
  language.set(lang);
  applyDocumentLanguage();
}

/** Set `<html lang>` to the current language. */
export function applyDocumentLanguage(): void {
  if (typeof document !== "undefined") document.documentElement.lang = language.get();
}

/** The text for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text = catalogs[language.get()][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name: string) =>
    name in params ? String(params[name]) : match,
  );
}

/** The translated message for an API error code, falling back to a generic one. */
export function errorText(code: string, retryAfter: number | null = null): string {
  const key = `errors.${code}`;
  const base = key in en ? t(key as MessageKey) : t("errors.unknown");
  if (retryAfter === null) return base;
  return `${base} ${waitText(retryAfter)}`;
}

/** "Try again in 4 min" / "in 30 s". */
export function waitText(seconds: number): string {
  if (seconds >= 90) return t("errors.retry_minutes", { minutes: Math.ceil(seconds / 60) });
  return t("errors.retry_seconds", { seconds: Math.max(1, Math.ceil(seconds)) });
}
