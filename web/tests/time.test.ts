// Relative times in each language (Intl.RelativeTimeFormat), as notices and people met show them.
import { afterEach, describe, expect, it } from "vitest";
import { setLanguage } from "../src/i18n";
import { formatRelative } from "../src/ui/time";

const NOW = Date.parse("2026-11-28T12:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

afterEach(() => setLanguage("en"));

describe("formatRelative", () => {
  it("picks the largest unit that fits, in English", () => {
    setLanguage("en");
    expect(formatRelative(ago(10), NOW)).toBe("now");
    expect(formatRelative(ago(5 * 60), NOW)).toBe("5 minutes ago");
    expect(formatRelative(ago(60), NOW)).toBe("1 minute ago");
    expect(formatRelative(ago(3 * 3600), NOW)).toBe("3 hours ago");
    expect(formatRelative(ago(24 * 3600), NOW)).toBe("yesterday");
    expect(formatRelative(ago(3 * 24 * 3600), NOW)).toBe("3 days ago");
    expect(formatRelative(ago(-10 * 60), NOW)).toBe("in 10 minutes");
  });

  it("speaks German and both Chinese scripts, with their plural rules", () => {
    setLanguage("de");
    expect(formatRelative(ago(2 * 3600), NOW)).toBe("vor 2 Stunden");
    expect(formatRelative(ago(3600), NOW)).toBe("vor 1 Stunde");
    setLanguage("zh-Hans");
    expect(formatRelative(ago(3 * 24 * 3600), NOW)).toBe("3天前");
    setLanguage("zh-Hant");
    expect(formatRelative(ago(5 * 60), NOW)).toBe("5 分鐘前");
  });
});
