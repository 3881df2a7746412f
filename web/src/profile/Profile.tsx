import { useState } from "preact/hooks";
import { api, call, type Account } from "../api/client";
import { t } from "../i18n";
import { refreshAccount } from "../session";
import { asError, ErrorText } from "../ui/ErrorText";

/** Your profile: name, headline and company. */
export function ProfileScreen(props: { account: Account }) {
  const profile = props.account.profile;
  const [name, setName] = useState(profile.name);
  const [headline, setHeadline] = useState(profile.headline);
  const [company, setCompany] = useState(profile.company);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    setSaved(false);
    setError(null);
    try {
      await call(api.PATCH("/api/v1/me/profile", { body: { name: name.trim(), headline: headline.trim(), company: company.trim() } }));
      await refreshAccount();
      setSaved(true);
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  }

  const field = (label: Parameters<typeof t>[0], testId: string, value: string, set: (v: string) => void, max: number, auto: string) => (
    <label class="field">
      <span>{t(label)}</span>
      <input
        data-testid={testId}
        value={value}
        maxLength={max}
        autocomplete={auto}
        onInput={(e) => {
          set((e.currentTarget as HTMLInputElement).value);
          setSaved(false);
        }}
      />
    </label>
  );

  return (
    <section class="profile">
      <h1 tabIndex={-1}>{t("profile.title")}</h1>
      <form class="card" onSubmit={save}>
        {field("profile.name", "profile-name", name, setName, 80, "name")}
        {field("profile.headline", "profile-headline", headline, setHeadline, 160, "off")}
        {field("profile.company", "profile-company", company, setCompany, 120, "organization")}
        <ErrorText error={error} />
        <div aria-live="polite">
          {saved && (
            <p class="success" data-testid="profile-saved">
              {t("profile.saved")}
            </p>
          )}
        </div>
        <button class="primary" type="submit" data-testid="save-profile" disabled={busy}>
          {t("profile.save")}
        </button>
      </form>
      <p class="hint">{t("profile.phone", { phone: props.account.phone })}</p>
    </section>
  );
}
