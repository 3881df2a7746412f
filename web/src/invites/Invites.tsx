import { useEffect, useState } from "preact/hooks";
import { api, call, type Invite } from "../api/client";
import { t } from "../i18n";
import { asError, ErrorText } from "../ui/ErrorText";
import { LetInSection } from "./LetIn";

/** Invites: how many are left, invite a number, the pending ones (revocable). */
export function InvitesScreen(props: { phone: string }) {
  const [invites, setInvites] = useState<Invite[] | null>(null);
  const [left, setLeft] = useState<number | null>(null);
  const [phone, setPhone] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);

  async function load() {
    try {
      const list = await call(api.GET("/api/v1/invites"));
      setInvites(list.invites);
      setLeft(list.invites_left);
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void load();
  }, []);

  async function send(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(api.POST("/api/v1/invites", { body: { phone: phone.trim() } }));
      setPhone("");
      await load();
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(id: string) {
    setError(null);
    try {
      await call(api.DELETE("/api/v1/invites/{invite_id}", { params: { path: { invite_id: id } } }));
      await load();
    } catch (e) {
      setError(asError(e));
    }
  }

  return (
    <section class="invites">
      <h1 tabIndex={-1}>{t("invites.title")}</h1>
      <p class="card invites-left">
        {t("invites.left_label")} <strong data-testid="invites-left">{left ?? "–"}</strong>
      </p>
      <form class="card" onSubmit={send}>
        <label class="field">
          <span>{t("invites.phone")}</span>
          <input
            data-testid="invite-phone"
            type="tel"
            inputMode="tel"
            value={phone}
            aria-describedby="invite-hint"
            onInput={(e) => setPhone((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <p class="hint" id="invite-hint">
          {t("invites.phone_hint")}
        </p>
        <ErrorText error={error} />
        <button class="primary" type="submit" data-testid="send-invite" disabled={busy || !phone.trim() || left === 0}>
          {t("invites.send")}
        </button>
      </form>
      <LetInSection phone={props.phone} onInvitesLeft={setLeft} />
      <h2>{t("invites.list_title")}</h2>
      {invites === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : invites.length === 0 ? (
        <p class="empty">{t("invites.empty")}</p>
      ) : (
        <ul class="invite-list">
          {invites.map((invite) => (
            <li class="card invite-row" data-testid="invite-row" data-status={invite.status} key={invite.id}>
              <span class="invite-phone">{invite.phone}</span>
              <span class="invite-status">
                {invite.status === "pending" ? t("invites.status_pending") : t("invites.status_used")}
              </span>
              {invite.status === "pending" && (
                <button
                  type="button"
                  class="secondary small"
                  data-testid="revoke-invite"
                  aria-label={t("invites.revoke_for", { phone: invite.phone })}
                  onClick={() => void revoke(invite.id)}
                >
                  {t("invites.revoke")}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
