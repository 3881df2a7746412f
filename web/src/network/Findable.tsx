import { useEffect, useState } from "preact/hooks";
import { api, call } from "../api/client";
import { t, type MessageKey } from "../i18n";
import { asError, ErrorText } from "../ui/ErrorText";

/**
 * Whether people who have your number may find you by it (off until you turn it on): on the
 * waiting list to let you in, or among the suggestions of members who uploaded their contacts.
 */
export function FindableChoice(props: { label: MessageKey }) {
  const [findable, setFindable] = useState<boolean | null>(null);
  const [error, setError] = useState<{ code: string; retryAfter: number | null } | null>(null);

  useEffect(() => {
    call(api.GET("/api/v1/me/contacts/findable")).then(
      (answer) => setFindable(answer.findable),
      (e: unknown) => setError(asError(e)),
    );
  }, []);

  async function change(wanted: boolean) {
    setError(null);
    try {
      const answer = await call(api.PUT("/api/v1/me/contacts/findable", { body: { findable: wanted } }));
      setFindable(answer.findable);
    } catch (e) {
      setError(asError(e));
    }
  }

  return (
    <div class="card findable-card">
      <label class="check">
        <input
          type="checkbox"
          data-testid="findable"
          checked={findable === true}
          disabled={findable === null}
          aria-describedby="findable-hint"
          onChange={(e) => void change((e.currentTarget as HTMLInputElement).checked)}
        />
        <span>{t(props.label)}</span>
      </label>
      <p class="hint" id="findable-hint">
        {t("findable.hint")}
      </p>
      <ErrorText error={error} />
    </div>
  );
}
