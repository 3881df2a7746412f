import { useEffect, useState } from "preact/hooks";
import { api, call, type Invite } from "../api/client";
import { t } from "../i18n";
import { asError, ErrorText } from "../ui/ErrorText";
import { composeNumber, PhoneFields, usePhoneFormat, usePhones } from "../ui/phone";
import { useAction } from "../ui/useAction";
import { LetInSection } from "./LetIn";

/** Invites: how many are left, invite a number, the pending ones (revocable). */
export function InvitesScreen(props: { phone: string }) {
  const [invites, setInvites] = useState<Invite[] | null>(null);
  const [left, setLeft] = useState<number | null>(null);
  const [phone, setPhone] = useState("");
  const phones = usePhones();
  const [country, setCountry] = useState<string | null>(null);
  const show = usePhoneFormat();
  // Local numbers are read in the member's own country unless they pick another.
  const region = country ?? (phones?.parsePhoneNumberFromString(props.phone)?.country ?? "");
  const { busy, error, setError, run } = useAction({ reload: load });
  // The number just invited, said back to the member (the same words whoever owns it).
  const [sent, setSent] = useState<string | null>(null);

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

  function send(event: Event) {
    event.preventDefault();
    setSent(null);
    void run(async () => {
      const made = await call(api.POST("/api/v1/invites", { body: { phone: composeNumber(phones, region, phone) } }));
      setPhone("");
      setSent(made.phone);
    });
  }

  const revoke = (id: string) =>
    run(() => call(api.DELETE("/api/v1/invites/{invite_id}", { params: { path: { invite_id: id } } })));

  return (
    <section class="invites">
      <h1 tabIndex={-1}>{t("invites.title")}</h1>
      <p class="card invites-left">
        {t("invites.left_label")} <strong data-testid="invites-left">{left ?? "–"}</strong>
      </p>
      <form class="card" onSubmit={send}>
        <PhoneFields
          phones={phones}
          region={region}
          onRegion={setCountry}
          number={phone}
          onNumber={setPhone}
          numberLabel={t("invites.phone")}
          hintId="invite-hint"
          testIds={{ country: "invite-country", number: "invite-phone" }}
        />
        <p class="hint" id="invite-hint">
          {t("invites.phone_hint")}
        </p>
        {error?.code === "phone_not_mobile" ? (
          <p class="error" role="alert">
            {t("invites.not_mobile")}
          </p>
        ) : (
          <ErrorText error={error} />
        )}
        {sent && !error && (
          <p class="success" role="status" data-testid="invite-sent">
            {t("invites.sent", { phone: show(sent) })}
          </p>
        )}
        {left === 0 && (
          <p class="hint" data-testid="invites-none-left">
            {t("invites.none_left")}
          </p>
        )}
        <button class="primary" type="submit" data-testid="send-invite" disabled={busy || !phone.trim() || left === 0}>
          {t("invites.send")}
        </button>
      </form>
      <LetInSection phone={props.phone} onInvitesLeft={setLeft} />
      <h2>{t("invites.list_title")}</h2>
      <p class="hint" data-testid="invites-pending-hint">
        {t("invites.pending_hint")}
      </p>
      {invites === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : invites.length === 0 ? (
        <p class="empty">{t("invites.empty")}</p>
      ) : (
        <ul class="invite-list">
          {invites.map((invite) => (
            <li class="card invite-row" data-testid="invite-row" data-status={invite.status} key={invite.id}>
              <span class="invite-phone" data-testid="invite-number">
                {show(invite.phone)}
              </span>
              <span class="invite-status">
                {invite.status === "pending" ? t("invites.status_pending") : t("invites.status_used")}
              </span>
              {invite.status === "pending" && (
                <button
                  type="button"
                  class="secondary small"
                  data-testid="revoke-invite"
                  aria-label={t("invites.revoke_for", { phone: show(invite.phone) })}
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
