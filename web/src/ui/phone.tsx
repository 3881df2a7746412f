// Phone numbers as people read and type them: a country chooser like the sign-in's, and
// numbers shown formatted ("+49 151 23456789"), never as raw E.164. The country metadata
// (libphonenumber-js, the largest part of the app) loads with the first screen that needs it.
import { useEffect, useMemo, useState } from "preact/hooks";
import { language, t } from "../i18n";
import { useObservable } from "../store/hooks";

export type Phones = typeof import("libphonenumber-js/min");
type Country = Parameters<Phones["getCountryCallingCode"]>[0];

let loading: Promise<Phones> | null = null;

/** The phone-number library, once loaded (null until then). */
export function usePhones(): Phones | null {
  const [phones, setPhones] = useState<Phones | null>(null);
  useEffect(() => {
    loading ??= import("libphonenumber-js/min");
    let live = true;
    void loading.then((loaded) => live && setPhones(loaded));
    return () => {
      live = false;
    };
  }, []);
  return phones;
}

/** "+49 151 23456789" for "+4915123456789" (the number as given when it cannot be read). */
export function formatPhone(phones: Phones | null, e164: string): string {
  if (!phones) return e164;
  const parsed = phones.parsePhoneNumberFromString(e164);
  return parsed ? parsed.formatInternational() : e164;
}

/** A formatter for numbers on screen: raw until the library has loaded, formatted after. */
export function usePhoneFormat(): (e164: string) => string {
  const phones = usePhones();
  return (e164: string) => formatPhone(phones, e164);
}

/** The number to send: as typed when it starts with +, else with the chosen country's code. */
export function composeNumber(phones: Phones | null, region: string, typed: string): string {
  const number = typed.trim();
  if (number.startsWith("+") || !phones || !region) return number;
  return `+${phones.getCountryCallingCode(region as Country)} ${number}`;
}

/** The countries in the reader's language, by name. */
export function useCountries(phones: Phones | null): { id: string; name: string; dial: string }[] {
  const lang = useObservable(language);
  return useMemo(() => {
    if (!phones) return [];
    const names = new Intl.DisplayNames([lang], { type: "region" });
    return phones
      .getCountries()
      .map((id) => ({ id, name: names.of(id) ?? id, dial: phones.getCountryCallingCode(id) }))
      .sort((a, b) => a.name.localeCompare(b.name, lang));
  }, [phones, lang]);
}

/** A country chooser and a number field (sign-in, invites). */
export function PhoneFields(props: {
  phones: Phones | null;
  region: string;
  onRegion: (region: string) => void;
  number: string;
  onNumber: (number: string) => void;
  numberLabel: string;
  hintId: string;
  testIds: { country: string; number: string };
  autocomplete?: boolean;
}) {
  const countries = useCountries(props.phones);
  return (
    <>
      <label class="field">
        <span>{t("signin.country")}</span>
        <select
          data-testid={props.testIds.country}
          value={props.region}
          autocomplete={props.autocomplete ? "country" : "off"}
          onChange={(e) => props.onRegion((e.currentTarget as HTMLSelectElement).value)}
        >
          {countries.map((c) => (
            <option value={c.id} key={c.id}>
              {t("signin.country_option", { name: c.name, code: c.dial })}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>{props.numberLabel}</span>
        <input
          data-testid={props.testIds.number}
          type="tel"
          inputMode="tel"
          autocomplete={props.autocomplete ? "tel" : "off"}
          required
          value={props.number}
          onInput={(e) => props.onNumber((e.currentTarget as HTMLInputElement).value)}
          aria-describedby={props.hintId}
        />
      </label>
    </>
  );
}
