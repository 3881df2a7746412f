import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { t } from "../i18n";
import { PersonRow } from "../network/PersonRow";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";

type Waiting = Schemas["WaitingContactOut"];
type Contacts = typeof import("./contacts");

interface ContactPicker {
  select(properties: ["tel"], options: { multiple: boolean }): Promise<{ tel?: string[] }[]>;
}

function contactPicker(): ContactPicker | null {
  const nav = navigator as Navigator & { contacts?: ContactPicker };
  return "ContactsManager" in window && nav.contacts ? nav.contacts : null;
}

/** Let waitlisted people you know in: upload your contacts' hashed numbers, see who waits. */
export function LetInSection(props: { phone: string; onInvitesLeft: (left: number) => void }) {
  const [text, setText] = useState("");
  const [stored, setStored] = useState<number | null>(null);
  const [invalid, setInvalid] = useState<string[]>([]);
  const [waiting, setWaiting] = useState<Waiting[] | null>(null);
  const [checked, setChecked] = useState(0);
  const { busy, error, setError, run } = useAction({ reload: loadWaiting });
  const picker = typeof window === "undefined" ? null : contactPicker();

  async function loadWaiting() {
    try {
      const list = await call(api.GET("/api/v1/me/contacts/waiting"));
      setWaiting(list.people);
      setChecked(list.contacts_stored);
      props.onInvitesLeft(list.invites_left);
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void loadWaiting();
  }, []);

  const upload = (source: string | string[]) =>
    run(async () => {
      const contacts: Contacts = await import("./contacts");
      const { numbers, invalid: bad } = contacts.normalizeNumbers(source, contacts.regionOf(props.phone));
      setInvalid(bad);
      if (numbers.length === 0) throw { code: "no_valid_numbers" };
      // Refused, not cut short: the person decides which numbers to leave out.
      if (numbers.length > contacts.MAX_CONTACTS) throw { code: "too_many_contacts" };
      const hashes = await contacts.contactHashes(numbers);
      const result = await call(api.PUT("/api/v1/me/contacts", { body: { hashes } }));
      setStored(result.count);
      setText("");
    });

  async function pick() {
    if (!picker) return;
    try {
      const chosen = await picker.select(["tel"], { multiple: true });
      const numbers = chosen.flatMap((contact) => contact.tel ?? []);
      if (numbers.length) await upload(numbers);
    } catch {
      // The person closed the picker.
    }
  }

  const letIn = (userId: string) =>
    run(async () => {
      const result = await call(api.POST("/api/v1/waitlist/{user_id}/let-in", { params: { path: { user_id: userId } } }));
      props.onInvitesLeft(result.invites_left);
    });

  return (
    <section class="letin" aria-labelledby="letin-heading">
      <h2 id="letin-heading">{t("letin.title")}</h2>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void upload(text);
        }}
      >
        <p class="hint-block">{t("letin.explain")}</p>
        <label class="field">
          <span>{t("letin.numbers")}</span>
          <textarea
            data-testid="contacts-input"
            rows={4}
            value={text}
            inputMode="tel"
            aria-describedby="letin-hint"
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <p class="hint" id="letin-hint">
          {t("letin.numbers_hint")}
        </p>
        {invalid.length > 0 && (
          <p class="field-error" data-testid="contacts-invalid">
            {t("letin.invalid", { numbers: invalid.slice(0, 5).join(", ") })}
          </p>
        )}
        {stored !== null && (
          <p class="letin-count" data-testid="contacts-stored" aria-live="polite">
            {t("letin.stored", { count: stored })}
          </p>
        )}
        <ErrorText error={error} />
        <button class="primary" type="submit" data-testid="contacts-upload" disabled={busy || !text.trim()}>
          {t("letin.upload")}
        </button>
        {picker && (
          <button class="secondary" type="button" data-testid="contacts-pick" disabled={busy} onClick={() => void pick()}>
            {t("letin.pick")}
          </button>
        )}
      </form>
      {waiting !== null &&
        (waiting.length === 0 ? (
          // Say "nobody waits" only when something was checked: before any upload, nothing was.
          checked > 0 ? (
            <p class="empty" data-testid="letin-none-waiting">
              {t("letin.none_waiting", { count: checked })}
            </p>
          ) : null
        ) : (
          <ul class="person-list" data-testid="waiting-contacts">
            {waiting.map((w) => (
              <PersonRow
                key={w.person.id}
                id={w.person.id}
                name={w.person.profile.name}
                headline={w.person.profile.headline}
                avatarUrl={w.person.profile.avatar_url}
                testId="waiting-contact"
                detail={<span class="person-skills">{w.via === "contacts" ? t("letin.via_contacts") : t("letin.via_connection")}</span>}
              >
                <button type="button" class="primary small" data-testid="let-in" disabled={busy} onClick={() => void letIn(w.person.id)}>
                  {t("letin.let_in")}
                </button>
              </PersonRow>
            ))}
          </ul>
        ))}
    </section>
  );
}
