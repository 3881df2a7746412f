// Where this account is signed in: each device, signing one out, and signing out everywhere.
import { useEffect, useState } from "preact/hooks";
import type { Schemas } from "../api/client";
import { t } from "../i18n";
import { endSession, listSessions, signOutEverywhere } from "../session";
import { asError, ErrorText } from "../ui/ErrorText";
import { formatRelative } from "../ui/time";
import { useAction } from "../ui/useAction";

type Session = Schemas["SessionOut"];

const BROWSERS: [RegExp, string][] = [
  [/Edg\//, "Edge"],
  [/Firefox\//, "Firefox"],
  [/Chrom(e|ium)\//, "Chrome"],
  [/Safari\//, "Safari"],
];
const SYSTEMS: [RegExp, string][] = [
  [/iPhone|iPad/, "iOS"],
  [/Android/, "Android"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Windows/, "Windows"],
  [/CrOS/, "ChromeOS"],
  [/Linux/, "Linux"],
];

/** "Chrome on Android" from a User-Agent; "App or script" when it names no browser or system. */
export function deviceName(userAgent: string | null | undefined): string {
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent ?? ""))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent ?? ""))?.[1];
  if (browser && system) return t("sessions.device", { browser, system });
  return browser ?? system ?? t("sessions.unknown_device");
}

/** The sessions card of the settings screen. */
export function SessionsCard() {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const { busy, error, setError, run } = useAction({ reload: load });

  async function load() {
    try {
      // This device first, then the others newest first (the server's order).
      const list = await listSessions();
      setSessions([...list.filter((s) => s.current), ...list.filter((s) => !s.current)]);
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void load();
  }, []);

  const others = sessions?.filter((s) => !s.current).length ?? 0;
  return (
    <section class="card sessions" data-testid="sessions">
      <h2>{t("sessions.title")}</h2>
      <p class="hint">{t("sessions.hint")}</p>
      {sessions === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : (
        <ul class="session-list">
          {sessions.map((session) => (
            <li class="session-row" data-testid="session-row" data-current={session.current} key={session.id}>
              <span class="session-device" title={session.device ?? undefined}>
                <strong>{deviceName(session.device)}</strong>
                <span class="session-since">
                  {session.current ? t("sessions.this_device") : t("sessions.signed_in", { when: formatRelative(session.created_at) })}
                </span>
              </span>
              {!session.current && (
                <button
                  type="button"
                  class="secondary small"
                  data-testid="end-session"
                  disabled={busy}
                  aria-label={t("sessions.sign_out_device", { device: deviceName(session.device) })}
                  onClick={() => void run(() => endSession(session.id))}
                >
                  {t("sessions.sign_out")}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ErrorText error={error} />
      <button
        type="button"
        class="secondary wide danger-outline"
        data-testid="sign-out-everywhere"
        disabled={busy}
        onClick={() => {
          if (window.confirm(t(others > 0 ? "sessions.confirm_everywhere" : "sessions.confirm_everywhere_alone"))) {
            void run(() => signOutEverywhere(), { keepBusy: true, reload: false });
          }
        }}
      >
        {t("sessions.sign_out_everywhere")}
      </button>
    </section>
  );
}
