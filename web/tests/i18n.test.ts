// Every key in all four languages, the same placeholders, and no user-visible text in the code.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { catalogs, errorText, LANGUAGES, pickLanguage, plurals, setLanguage, t, waitText } from "../src/i18n";
import { pickRegion } from "../src/signin/regions";

const SRC = join(__dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

// Placeholders and plural arguments (`{count, plural, …}`), once each.
const placeholders = (text: string) => [...new Set([...text.matchAll(/\{(\w+)(?:\}|, *plural)/g)].map((m) => m[1]))].sort();

describe("translations", () => {
  it("every language has exactly the English keys, non-empty, with the same placeholders", () => {
    const keys = Object.keys(catalogs.en).sort();
    for (const lang of LANGUAGES) {
      const catalog = catalogs[lang];
      expect(Object.keys(catalog).sort(), lang).toEqual(keys);
      for (const key of keys) {
        expect(catalog[key]!.trim(), `${lang} ${key}`).not.toBe("");
        expect(placeholders(catalog[key]!), `${lang} ${key}`).toEqual(placeholders(catalogs.en[key]!));
      }
    }
  });

  it("every key used in the code exists", () => {
    const used = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/\bt\(\s*"([\w.-]+)"/g)) used.add(match[1]!);
      // Keys passed around as values (MessageKey-typed props and tables), e.g. label="nav.hallway".
      if (file.endsWith(".tsx")) for (const match of text.matchAll(/"((?:room|profile|nav|language)\.[\w-]+)"/g)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(50);
    for (const key of used) expect(catalogs.en, key).toHaveProperty([key]);
  });

  it("the code has no user-visible text outside the translation files", () => {
    // Parse each component with the TypeScript compiler: JSX text with a letter in it, and
    // literal strings in attributes people read or hear, must come from t() instead.
    const SPOKEN = new Set(["aria-label", "title", "placeholder", "alt", "aria-description", "aria-roledescription"]);
    const offences: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
      const visit = (node: ts.Node) => {
        if (ts.isJsxText(node) && /\p{L}/u.test(node.text)) offences.push(`${file}: text "${node.text.trim()}"`);
        if (ts.isJsxAttribute(node) && node.initializer && ts.isStringLiteral(node.initializer)) {
          const name = node.name.getText(source);
          if (SPOKEN.has(name) && /\p{L}/u.test(node.initializer.text)) offences.push(`${file}: ${name}="${node.initializer.text}"`);
        }
        if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
          const target = node.left.getText(source);
          if (/\.(textContent|innerText|innerHTML)$/.test(target) && ts.isStringLiteralLike(node.right)) offences.push(`${file}: ${target}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(offences).toEqual([]);
  });

  it("the lint finds text that does not come from t()", () => {
    const source = ts.createSourceFile("x.tsx", '<p aria-label="Close">Hello {name}</p>', ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
    const found: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isJsxText(node) && /\p{L}/u.test(node.text)) found.push(node.text.trim());
      ts.forEachChild(node, visit);
    };
    visit(source);
    expect(found).toEqual(["Hello"]);
  });

  it("one form of address per language: German says du, Chinese says 你", () => {
    // Formal German (Sie, Ihnen, Ihre…) and the polite 您 mixed into an informal app read as
    // two voices; see the glossary in web/README.md. ("Ihr seid" is the plural du.)
    for (const [key, text] of Object.entries(catalogs.de)) expect(text, `de ${key}`).not.toMatch(/\b(Sie|Ihnen|Ihre[mnrs]?)\b/);
    for (const lang of ["zh-Hans", "zh-Hant"] as const) {
      for (const [key, text] of Object.entries(catalogs[lang])) expect(text, `${lang} ${key}`).not.toContain("您");
    }
  });

  it("t() fills placeholders and follows the chosen language", () => {
    setLanguage("de");
    expect(t("room.stage", { count: 3 })).toBe("Auf der Bühne (3)");
    setLanguage("zh-Hant");
    expect(t("nav.hallway")).toBe("大廳");
    setLanguage("en");
    expect(t("room.stage", { count: 2 })).toBe("On stage (2)");
  });

  it("plurals follow each language's rules (Intl.PluralRules), # is the number", () => {
    setLanguage("en");
    expect(t("letin.stored", { count: 1 })).toBe("1 contact stored.");
    expect(t("letin.stored", { count: 1200 })).toBe("1,200 contacts stored.");
    setLanguage("de");
    expect(t("letin.stored", { count: 1 })).toBe("1 Kontakt gespeichert.");
    expect(t("letin.stored", { count: 2 })).toBe("2 Kontakte gespeichert.");
    setLanguage("zh-Hans");
    expect(t("letin.stored", { count: 1 })).toBe("已保存 1 个通讯录号码。");
    setLanguage("en");
  });

  it("every plural has an `other` branch, and parses", () => {
    for (const lang of LANGUAGES) {
      for (const [key, text] of Object.entries(catalogs[lang])) {
        for (const match of text.matchAll(/\{\w+, *plural,/g)) {
          expect(text.slice(match.index), `${lang} ${key}`).toMatch(/other *\{/);
        }
        if (text.includes("plural,")) expect(() => plurals(text, lang, { count: 3 }), `${lang} ${key}`).not.toThrow();
      }
    }
  });

  it("a suspension's refusal says until when, in the reader's language", () => {
    setLanguage("en");
    const until = "2026-12-01T09:30:00+00:00";
    const date = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" }).format(new Date(until));
    expect(errorText("account_suspended", null, until)).toBe(`This account is suspended until ${date}. If you think this is a mistake, write to the service.`);
    expect(errorText("account_suspended")).toBe(t("errors.account_suspended"));
    setLanguage("de");
    expect(errorText("account_suspended", null, until)).toContain("Dieses Konto ist bis ");
    setLanguage("en");
  });

  it("error codes become messages, with the wait time", () => {
    setLanguage("en");
    expect(errorText("invalid_code")).toBe("That code is wrong or has expired.");
    expect(errorText("rate_limited", 240)).toBe("Too many tries. Try again in 4 min.");
    expect(errorText("rate_limited", 30)).toBe("Too many tries. Try again in 30 s.");
    expect(errorText("something_new")).toBe(t("errors.unknown"));
    expect(waitText(61)).toBe("Try again in 61 s.");
  });
});

describe("choosing from the browser", () => {
  it("maps browser languages to ours", () => {
    expect(pickLanguage(["de-CH", "en"])).toBe("de");
    expect(pickLanguage(["zh-TW"])).toBe("zh-Hant");
    expect(pickLanguage(["zh-HK"])).toBe("zh-Hant");
    expect(pickLanguage(["zh-Hant-TW"])).toBe("zh-Hant");
    expect(pickLanguage(["zh-CN"])).toBe("zh-Hans");
    expect(pickLanguage(["zh-SG"])).toBe("zh-Hans");
    expect(pickLanguage(["zh"])).toBe("zh-Hans");
    expect(pickLanguage(["fr-FR", "de"])).toBe("de");
    expect(pickLanguage(["fr-FR"])).toBe("en");
    expect(pickLanguage([])).toBe("en");
  });

  it("picks the default country from the browser language", () => {
    const all = () => true;
    expect(pickRegion(["de"], all)).toBe("DE");
    expect(pickRegion(["zh-Hant"], all)).toBe("TW");
    expect(pickRegion(["zh-TW"], all)).toBe("TW");
    expect(pickRegion(["zh-HK"], all)).toBe("HK");
    expect(pickRegion(["zh-CN"], all)).toBe("CN");
    expect(pickRegion(["zh"], all)).toBe("CN");
    expect(pickRegion(["en-US"], all)).toBe("US");
    expect(pickRegion(["en-GB"], all)).toBe("GB");
    expect(pickRegion(["en"], all)).toBe("US");
    expect(pickRegion(["xx-invalid-tag!"], all)).toBe("US");
  });
});

// The glossary in web/README.md: every word it names is in its catalog, the avoided ones are not.
describe("glossary", () => {
  const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
  const glossary = readme.slice(readme.indexOf("## Glossary"));
  const rows = glossary
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| Term") && !line.startsWith("| ---"))
    .map((line) => line.slice(2, -2).split(" | "));
  const order = ["en", "de", "zh-Hans", "zh-Hant"] as const;

  it("has a row for each key term, in the four languages", () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) expect(row, row[0]).toHaveLength(5);
  });

  it("names only words the catalogs use (… stands for a gap)", () => {
    for (const row of rows) {
      order.forEach((lang, i) => {
        const texts = Object.values(catalogs[lang]).map((text) => text.toLowerCase());
        for (const form of row[i + 1]!.split(" / ")) {
          const parts = form.toLowerCase().split("…");
          const used = texts.some((text) => parts.every((part) => text.includes(part)));
          expect(used, `${lang} "${form}" (${row[0]})`).toBe(true);
        }
      });
    }
  });

  it("keeps the avoided words out", () => {
    const avoided: Record<string, RegExp> = {
      de: /(^|[^\wäöüß])(Sie|Ihnen|Ihre[mnrs]?|Warteschlange|Kontaktanfrage|Hinweis)([^\wäöüß]|$)/,
      "zh-Hans": /您/,
      "zh-Hant": /您/,
    };
    for (const [lang, pattern] of Object.entries(avoided)) {
      for (const [key, text] of Object.entries(catalogs[lang as keyof typeof catalogs])) {
        expect(pattern.test(text), `${lang} ${key}: ${text}`).toBe(false);
      }
    }
    expect(glossary).toContain("Warteschlange");
  });

  it("keeps a phone's contacts and connections apart in Chinese", () => {
    // The texts about a phone's contacts (their English says "contacts") name the address book,
    // the texts about connections name 联系人 / 聯絡人, and no text names both ideas with one word.
    const words = { "zh-Hans": ["通讯录", "联系人"], "zh-Hant": ["通訊錄", "聯絡人"] } as const;
    let phone = 0;
    let connection = 0;
    for (const [key, en] of Object.entries(catalogs.en)) {
      for (const [lang, [book, connected]] of Object.entries(words)) {
        const text = catalogs[lang as keyof typeof words][key as keyof typeof catalogs.en];
        if (/\bcontacts?\b/i.test(en) && !/contact card/i.test(en)) {
          phone += 1;
          expect(text, `${lang} ${key}`).toContain(book);
          expect(text, `${lang} ${key}`).not.toContain(connected);
        } else if (/\bconnections?\b/i.test(en)) {
          connection += 1;
          expect(text, `${lang} ${key}`).not.toContain(book);
        }
      }
    }
    expect(phone).toBeGreaterThanOrEqual(10);
    expect(connection).toBeGreaterThanOrEqual(4);
  });
});
