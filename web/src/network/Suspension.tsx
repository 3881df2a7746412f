import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { t } from "../i18n";
import { asError, ErrorText } from "../ui/ErrorText";
import { formatDateTime } from "../ui/time";
import { useAction } from "../ui/useAction";

type Suspension = Schemas["SuspensionOut"];

const DAY_MS = 24 * 3600 * 1000;
/** How long a suspension lasts, in days (null: until staff lift it). */
const DURATIONS: { key: "suspend.day" | "suspend.week" | "suspend.month" | "suspend.until_lifted"; days: number | null }[] = [
  { key: "suspend.day", days: 1 },
  { key: "suspend.week", days: 7 },
  { key: "suspend.month", days: 30 },
  { key: "suspend.until_lifted", days: null },
];
const REASON_MAX = 200;

/**
 * Staff only, on a person's page: whether the account is suspended, and suspending or lifting
 * it. A suspension signs the person out everywhere, takes them out of every room and refuses
 * their sign-in until it ends; the reason is for staff, never shown to the person or others.
 */
export function StaffSuspension(props: { userId: string; name: string }) {
  const [state, setState] = useState<Suspension | null>(null);
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [days, setDays] = useState<number | null>(7);
  const path = { params: { path: { user_id: props.userId } } };
  const load = async () => setState(await call(api.GET("/api/v1/admin/users/{user_id}/suspend", path)));
  const { busy, error, setError, run } = useAction({ reload: load });

  useEffect(() => {
    setState(null);
    setOpen(false);
    load().catch((e) => setError(asError(e)));
  }, [props.userId]);

  if (state === null) return <ErrorText error={error} testId="suspension-error" />;

  if (state.suspended) {
    return (
      <section class="card staff-suspension" data-testid="suspension" data-suspended="true" aria-labelledby="suspension-title">
        <h2 id="suspension-title">{t("suspend.section")}</h2>
        <p data-testid="suspension-state">
          {state.until ? t("suspend.active_until", { date: formatDateTime(state.until) }) : t("suspend.active")}
        </p>
        {state.reason && <p class="hint">{t("suspend.reason_shown", { reason: state.reason })}</p>}
        <button type="button" class="secondary" data-testid="suspension-lift" disabled={busy} onClick={() => void run(() => call(api.DELETE("/api/v1/admin/users/{user_id}/suspend", path)))}>
          {t("suspend.lift")}
        </button>
        <ErrorText error={error} testId="suspension-error" />
      </section>
    );
  }

  if (!state.can_suspend) return null; // staff cannot be suspended

  if (!open) {
    return (
      <button type="button" class="link-button danger-link" data-testid="suspension-open" onClick={() => setOpen(true)}>
        {t("suspend.open")}
      </button>
    );
  }

  const submit = () =>
    void run(async () => {
      const until = days === null ? null : new Date(Date.now() + days * DAY_MS).toISOString();
      await call(api.POST("/api/v1/admin/users/{user_id}/suspend", { ...path, body: { reason: reason.trim(), until } }));
      setOpen(false);
      setReason("");
    });

  return (
    <form
      class="card staff-suspension"
      data-testid="suspension"
      data-suspended="false"
      aria-labelledby="suspension-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (reason.trim()) submit();
      }}
    >
      <h2 id="suspension-title">{t("suspend.section")}</h2>
      <p class="hint">{t("suspend.question", { name: props.name })}</p>
      <label class="field">
        <span>{t("suspend.reason")}</span>
        <input data-testid="suspension-reason" value={reason} maxLength={REASON_MAX} required onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t("suspend.duration")}</span>
        <select data-testid="suspension-duration" value={days === null ? "" : String(days)} onChange={(e) => {
          const value = (e.currentTarget as HTMLSelectElement).value;
          setDays(value === "" ? null : Number(value));
        }}>
          {DURATIONS.map((d) => (
            <option key={d.key} value={d.days === null ? "" : String(d.days)}>
              {t(d.key)}
            </option>
          ))}
        </select>
      </label>
      <div class="row">
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          {t("common.cancel")}
        </button>
        <button type="submit" class="danger-button" data-testid="suspension-confirm" disabled={busy || !reason.trim()}>
          {t("suspend.confirm", { name: props.name })}
        </button>
      </div>
      <ErrorText error={error} testId="suspension-error" />
    </form>
  );
}
