// WCAG 2.x contrast of every text/background pair the stylesheet uses (AA: 4.5:1 for text).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const css = readFileSync(join(__dirname, "..", "src", "styles.css"), "utf8");
const vars = Object.fromEntries([...css.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1]!, m[2]!]));

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) =>
    c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4,
  );
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

// [text, background] as used in styles.css.
const TEXT_PAIRS: [string, string][] = [
  ["text", "bg"],
  ["text", "surface"],
  ["muted-text", "bg"],
  ["muted-text", "surface"],
  ["brand-text", "brand"],
  ["brand", "surface"],
  ["brand-text", "accent"],
  ["accent", "surface"],
  ["accent", "bg"],
  ["danger-text", "danger"],
  ["danger", "surface"],
  ["chip-text", "chip-bg"],
  ["text", "chip-bg"],
  ["error-text", "error-bg"],
  ["success-text", "surface"],
  ["avatar-text", "avatar-bg"],
];
// Non-text parts (focus outline, speaking ring, input borders) need 3:1 (WCAG 1.4.11).
const UI_PAIRS: [string, string][] = [
  ["focus", "surface"],
  ["focus", "bg"],
  ["ring", "surface"],
  ["border", "surface"],
  ["brand-text", "brand"],
];

describe("colour contrast", () => {
  it("computes WCAG contrast correctly", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
  });

  it.each(TEXT_PAIRS)("text %s on %s meets 4.5:1", (fg, bg) => {
    expect(vars[fg], fg).toBeDefined();
    expect(vars[bg], bg).toBeDefined();
    expect(contrast(vars[fg]!, vars[bg]!)).toBeGreaterThanOrEqual(4.5);
  });

  it.each(UI_PAIRS)("control %s on %s meets 3:1", (fg, bg) => {
    expect(contrast(vars[fg]!, vars[bg]!)).toBeGreaterThanOrEqual(3);
  });
});
