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

/**
 * The text for `key` in the current language, with `{name}` placeholders filled in, and ICU
 * plurals chosen by the language's plural rules (`Intl.PluralRules`):
 * `{count, plural, =0 {none} one {# contact} other {# contacts}}` (`#` is the number).
 */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const lang = language.get();
  const text = catalogs[lang][key] ?? en[key] ?? key;
  return fill(plurals(text, lang, params), params);
}

function fill(text: string, params: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (match, name: string) => (name in params ? String(params[name]) : match));
}

/** Resolve every `{arg, plural, …}` in `text` (branches may hold `{placeholders}`, not plurals). */
export function plurals(text: string, lang: string, params: Record<string, string | number>): string {
  let out = "";
  let rest = text;
  for (;;) {
    const start = rest.search(/\{\w+, *plural, */);
    if (start < 0) return out + rest;
    out += rest.slice(0, start);
    const head = /^\{(\w+), *plural, */.exec(rest.slice(start))!;
    let i = start + head[0].length;
    const branches: Record<string, string> = {};
    // selector {body} pairs until the closing brace
    while (i < rest.length && rest[i] !== "}") {
      const sel = /^\s*(=\d+|zero|one|two|few|many|other)\s*\{/.exec(rest.slice(i));
      if (!sel) throw new Error(`bad plural in: ${text}`);
      i += sel[0].length;
      let depth = 1;
      let body = "";
      while (i < rest.length && depth > 0) {
        const ch = rest[i]!;
        if (ch === "{") depth += 1;
        if (ch === "}") depth -= 1;
        if (depth > 0) body += ch;
        i += 1;
      }
      branches[sel[1]!] = body;
      while (rest[i] === " ") i += 1;
    }
    const value = Number(params[head[1]!] ?? 0);
    const chosen = branches[`=${value}`] ?? branches[new Intl.PluralRules(lang).select(value)] ?? branches.other ?? "";
    out += chosen.replace(/#/g, new Intl.NumberFormat(lang).format(value));
    rest = rest.slice(i + 1);
  }
}

/** "21 Nov 2026, 18:30" in the current language and the browser's time zone. */
export function formatDateTime(iso: string): string {
  return new Intl.DateTimeFormat(language.get(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

/** The translated message for an API error code, falling back to a generic one; a refusal
 *  that ends (`until`, e.g. a suspension) says when. */
export function errorText(code: string, retryAfter: number | null = null, until: string | null = null): string {
  if (code === "account_suspended" && until) {
    return t("errors.account_suspended_until", { date: formatDateTime(until) });
  }
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
