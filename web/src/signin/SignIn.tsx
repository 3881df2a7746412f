import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { requestCode, verifyCode } from "../session";
import { ErrorText } from "../ui/ErrorText";
import { LanguageSelect } from "../ui/LanguageSelect";
import { composeNumber, formatPhone, PhoneFields, usePhones } from "../ui/phone";
import { useAction } from "../ui/useAction";
import { pickRegion } from "./regions";

function browserLanguages(): readonly string[] {
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

/** Seconds left until `until` (a Date.now() time), ticking once a second; 0 when passed. */
function useCountdown(until: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (until <= Date.now()) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/** Sign in: phone number with a country, then the code from the text message. */
export function SignInScreen() {
  const phones = usePhones();
  const [country, setCountry] = useState<string | null>(null);
  const [number, setNumber] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  // The ticket of the newest code asked for here: its tries are ours alone.
  const [ticket, setTicket] = useState<string | null>(null);
  const [resendAt, setResendAt] = useState(0);
  const [resent, setResent] = useState(false);
  const [code, setCode] = useState("");
  const { busy, error, setError, run } = useAction();
  const resendIn = useCountdown(resendAt);

  const region = country ?? (phones ? pickRegion(browserLanguages(), (r) => phones.isSupportedCountry(r)) : "");

  async function ask(phone: string) {
    const sent = await requestCode(phone);
    setSentTo(sent.phone);
    setTicket(sent.ticket);
    setResendAt(Date.now() + sent.resend_in * 1000);
  }

  function send(event: Event) {
    event.preventDefault();
    void run(async () => {
      await ask(composeNumber(phones, region, number));
      setCode("");
      setResent(false);
    });
  }

  function resend() {
    if (!sentTo) return;
    void run(async () => {
      await ask(sentTo);
      setResent(true);
    });
  }

  function verify(event: Event) {
    event.preventDefault();
    if (!sentTo) return;
    // Signed in, this screen goes away: it stays busy until then.
    void run(() => verifyCode(sentTo, code.trim(), ticket), { keepBusy: true });
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
          <PhoneFields
            phones={phones}
            region={region}
            onRegion={setCountry}
            number={number}
            onNumber={setNumber}
            numberLabel={t("signin.phone")}
            hintId="phone-hint"
            testIds={{ country: "phone-country", number: "phone-input" }}
            autocomplete
          />
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
          <p data-testid="code-sent-to">{t("signin.code_sent", { phone: formatPhone(phones, sentTo) })}</p>
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
          <div aria-live="polite">
            {resent && resendIn > 0 && <p class="success" data-testid="code-resent">{t("signin.code_resent")}</p>}
          </div>
          <button type="button" class="secondary" data-testid="resend-code" disabled={busy || resendIn > 0} onClick={resend}>
            {resendIn > 0 ? t("signin.resend_in", { seconds: resendIn }) : t("signin.resend")}
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
