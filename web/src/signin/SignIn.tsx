import { useEffect, useMemo, useState } from "preact/hooks";
import { language, t } from "../i18n";
import { LanguageSelect } from "../app";
import { requestCode, verifyCode } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";
import { pickRegion } from "./regions";

type Phones = typeof import("libphonenumber-js/min");

/** Country metadata is loaded with this screen only (it is the largest part of the app). */
function usePhones(): Phones | null {
  const [phones, setPhones] = useState<Phones | null>(null);
  useEffect(() => {
    void import("libphonenumber-js/min").then(setPhones);
  }, []);
  return phones;
}

function browserLanguages(): readonly string[] {
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

/** Sign in: phone number with a country, then the code from the text message. */
export function SignInScreen() {
  const lang = useObservable(language);
  const phones = usePhones();
  const [country, setCountry] = useState<string | null>(null);
  const [number, setNumber] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);

  const countries = useMemo(() => {
    if (!phones) return [];
    const names = new Intl.DisplayNames([lang], { type: "region" });
    return phones
      .getCountries()
      .map((id) => ({ id, name: names.of(id) ?? id, dial: phones.getCountryCallingCode(id) }))
      .sort((a, b) => a.name.localeCompare(b.name, lang));
  }, [phones, lang]);

  const region = country ?? (phones ? pickRegion(browserLanguages(), (r) => phones.isSupportedCountry(r)) : "");

  function fullNumber(): string {
    const typed = number.trim();
    if (typed.startsWith("+") || !phones) return typed;
    return `+${phones.getCountryCallingCode(region as Parameters<Phones["getCountryCallingCode"]>[0])} ${typed}`;
  }

  async function send(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const sent = await requestCode(fullNumber());
      setSentTo(sent.phone);
      setCode("");
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  }

  async function verify(event: Event) {
    event.preventDefault();
    if (!sentTo) return;
    setBusy(true);
    setError(null);
    try {
      await verifyCode(sentTo, code.trim());
    } catch (e) {
      setError(asError(e));
      setBusy(false);
    }
  }

  return (
    <section class="signin card">
      <div class="signin-head">
        <LanguageSelect />
      </div>
      <h1 tabIndex={-1}>{t("app.name")}</h1>
      <p class="lead">{t("signin.tagline")}</p>
      {sentTo === null ? (
        <form onSubmit={send} noValidate>
          <h2>{t("signin.title")}</h2>
          <label class="field">
            <span>{t("signin.country")}</span>
            <select
              data-testid="phone-country"
              value={region}
              autocomplete="country"
              onChange={(e) => setCountry((e.currentTarget as HTMLSelectElement).value)}
            >
              {countries.map((c) => (
                <option value={c.id} key={c.id}>
                  {t("signin.country_option", { name: c.name, code: c.dial })}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>{t("signin.phone")}</span>
            <input
              data-testid="phone-input"
              type="tel"
              inputMode="tel"
              autocomplete="tel"
              required
              value={number}
              onInput={(e) => setNumber((e.currentTarget as HTMLInputElement).value)}
              aria-describedby="phone-hint"
            />
          </label>
          <p class="hint" id="phone-hint">
            {t("signin.phone_hint")}
          </p>
          <ErrorText error={error} testId="signin-error" />
          <button class="primary" type="submit" data-testid="send-code" disabled={busy || !number.trim()}>
            {t("signin.send_code")}
          </button>
        </form>
      ) : (
        <form onSubmit={verify} noValidate>
          <h2>{t("signin.code_title")}</h2>
          <p>{t("signin.code_sent", { phone: sentTo })}</p>
          <label class="field">
            <span>{t("signin.code")}</span>
            <input
              data-testid="code-input"
              type="text"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]*"
              maxLength={6}
              required
              value={code}
              onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value.replace(/\D/g, ""))}
            />
          </label>
          <ErrorText error={error} testId="signin-error" />
          <button class="primary" type="submit" data-testid="verify-code" disabled={busy || code.length < 6}>
            {t("signin.verify")}
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setSentTo(null);
              setError(null);
            }}
          >
            {t("signin.change_number")}
          </button>
        </form>
      )}
    </section>
  );
}
