import { useEffect } from "preact/hooks";
import { api, call, type Account, type Schemas } from "../api/client";
import { t } from "../i18n";
import { FindableChoice } from "../network/Findable";
import { accountLive, claimWindow, refreshAccount } from "../session";
import { useObservable } from "../store/hooks";
import { ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";

type ClaimWindow = Schemas["ClaimWindowOut"];

/** While the live socket is down, the position and the claim window are polled this often. */
const POLL_MS = 10_000;

/** The waiting room: your place in line, live, and a pass to claim while a window is open. */
export function WaitingRoomScreen(props: { account: Account }) {
  const live = useObservable(accountLive);
  const window = useObservable(claimWindow);
  const { busy: claiming, error, run } = useAction({ reload: refreshAccount });
  const waitlist = props.account.waitlist;
  useEffect(() => {
    let stopped = false;
    async function poll() {
      try {
        const me = await call(api.GET("/api/v1/waitlist/me"));
        if (!stopped) claimWindow.set((me.claim_window as ClaimWindow | null | undefined) ?? null);
        if (!live) await refreshAccount();
      } catch {
        // A transient failure: the next poll tries again.
      }
    }
    void poll();
    const timer = live ? null : setInterval(() => void poll(), POLL_MS);
    return () => {
      stopped = true;
      if (timer !== null) clearInterval(timer);
    };
  }, [live]);

  const claim = () => run(() => call(api.POST("/api/v1/passes/claim")));

  return (
    <section class="waiting">
      <h1 tabIndex={-1}>{t("waiting.title")}</h1>
      <div class="card position-card" aria-live="polite">
        <p class="position-label">{t("waiting.position_label")}</p>
        <p class="position">
          <span data-testid="waitlist-position">{waitlist?.position ?? "–"}</span>
        </p>
        <p class="position-total">
          {t("waiting.total_label")} <span data-testid="waitlist-total">{waitlist?.total ?? "–"}</span>
        </p>
      </div>
      {window?.state === "open" && (
        <div class="card claim-card">
          <h2>{t("waiting.window_open")}</h2>
          <p>{t("waiting.window_remaining", { remaining: window.remaining, total: window.total })}</p>
          <button class="primary" type="button" data-testid="claim-pass" disabled={claiming} onClick={() => void claim()}>
            {t("waiting.claim")}
          </button>
        </div>
      )}
      {window?.state === "scheduled" && (
        <p class="card">{t("waiting.window_scheduled", { time: new Date(window.opens_at).toLocaleString() })}</p>
      )}
      <ErrorText error={error} />
      <FindableChoice label="waiting.findable" />
      <div class="card">
        <h2>{t("waiting.next_title")}</h2>
        <ul class="steps">
          <li>{t("waiting.next_1")}</li>
          <li>{t("waiting.next_2")}</li>
          <li>{t("waiting.next_3")}</li>
        </ul>
        <p>
          <a href="#/profile">{t("waiting.profile_link")}</a>
        </p>
      </div>
    </section>
  );
}
