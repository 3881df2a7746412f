import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { t } from "../i18n";
import { noticeVersion } from "../session";
import { useObservable } from "../store/hooks";
import { Avatar } from "../ui/Avatar";
import { asError, ErrorText } from "../ui/ErrorText";
import { usePhoneFormat } from "../ui/phone";
import { useAction } from "../ui/useAction";

type CardDetail = Schemas["CardDetailOut"];

/**
 * One contact card, opened from its notice: who offered it and in which room, what it carries
 * (the owner's public profile and what they chose to share), Accept / Decline while it waits,
 * and the card as a vCard for the phone's contacts.
 */
export function CardScreen(props: { cardId: string }) {
  const version = useObservable(noticeVersion);
  const [card, setCard] = useState<CardDetail | null>(null);
  const [loadError, setLoadError] = useState<ReturnType<typeof asError> | null>(null);
  const { busy, error, run } = useAction({ reload: load });
  const show = usePhoneFormat();
  const path = { params: { path: { card_id: props.cardId } } };

  async function load() {
    try {
      setCard(await call(api.GET("/api/v1/cards/{card_id}", path)));
      setLoadError(null);
    } catch (e) {
      setLoadError(asError(e));
    }
  }

  useEffect(() => {
    void load();
  }, [props.cardId, version]);

  if (loadError) {
    return (
      <section class="card-screen">
        <h1 tabIndex={-1}>{t("card.title")}</h1>
        <ErrorText error={loadError} testId="card-error" />
      </section>
    );
  }
  if (!card) return <p aria-busy="true">{t("app.loading")}</p>;

  const contact = card.contact;
  const owner = card.direction === "incoming" ? card.person : null;
  const name = contact.name || t("common.unnamed");
  const incomingPending = card.direction === "incoming" && card.status === "pending";
  return (
    <section class="card-screen" data-testid="card-view" data-status={card.status}>
      <h1 tabIndex={-1}>{card.direction === "incoming" ? t("card.title_from", { name }) : t("card.title_yours")}</h1>
      <p class="hint-block">{card.room_title ? t("card.met_in", { room: card.room_title }) : t("card.met")}</p>
      <div class="card contact-card" data-testid="card-contact">
        <div class="contact-card-head">
          <Avatar name={name} url={owner?.profile.avatar_url ?? null} size="large" />
          <div class="contact-card-name">
            <p class="person-name">{name}</p>
            {contact.headline && <p class="person-headline">{contact.headline}</p>}
            {(contact.role || contact.company) && (
              <p class="person-headline">{[contact.role, contact.company].filter(Boolean).join(" · ")}</p>
            )}
          </div>
        </div>
        <dl class="contact-lines">
          {contact.email && (
            <>
              <dt>{t("card.email")}</dt>
              <dd>
                <a href={`mailto:${contact.email}`} data-testid="card-email">
                  {contact.email}
                </a>
              </dd>
            </>
          )}
          {contact.phone && (
            <>
              <dt>{t("card.phone")}</dt>
              <dd>
                <a href={`tel:${contact.phone}`} data-testid="card-phone">
                  {show(contact.phone)}
                </a>
              </dd>
            </>
          )}
          {contact.links.map((link) => (
            <>
              <dt>{t("card.link")}</dt>
              <dd>
                <a href={link} target="_blank" rel="noopener noreferrer nofollow ugc" data-testid="card-link">
                  {link.replace(/^https?:\/\//, "")}
                </a>
              </dd>
            </>
          ))}
        </dl>
        {!contact.email && !contact.phone && contact.links.length === 0 && <p class="hint-inline">{t("card.profile_only")}</p>}
      </div>
      {incomingPending && (
        <div class="actions">
          <button type="button" class="primary" data-testid="card-accept" disabled={busy}
            onClick={() => void run(() => call(api.POST("/api/v1/cards/{card_id}/accept", path)))}>
            {t("met.card_accept")}
          </button>
          <button type="button" class="secondary" data-testid="card-decline" disabled={busy}
            onClick={() => void run(() => call(api.POST("/api/v1/cards/{card_id}/decline", path)), { reload: false }).then((ok) => ok && history.back())}>
            {t("person.decline")}
          </button>
        </div>
      )}
      {card.status === "accepted" && (
        <p class="success" data-testid="card-accepted">
          {card.direction === "incoming" ? t("card.accepted_incoming", { name }) : t("card.accepted_outgoing")}
        </p>
      )}
      <ErrorText error={error} />
      <p class="actions">
        <a class="button secondary" href={`/api/v1/cards/${encodeURIComponent(card.id)}/vcard`} download data-testid="card-vcard">
          {t("card.vcard")}
        </a>
        {owner && (
          <a class="button secondary" href={`#/people/${owner.id}`}>
            {t("card.view_profile")}
          </a>
        )}
      </p>
    </section>
  );
}

/** Your card's choices: an email, your profile's links, your phone number (only if you tick it). */
export function CardSharingEditor() {
  const [sharing, setSharing] = useState<Schemas["CardSharing"] | null>(null);
  const [saved, setSaved] = useState(false);
  const { busy, error, setError, run } = useAction({});

  useEffect(() => {
    call(api.GET("/api/v1/me/card")).then(setSharing, (e: unknown) => setError(asError(e)));
  }, []);

  if (!sharing) return null;
  const change = (next: Partial<Schemas["CardSharing"]>) => {
    setSaved(false);
    setSharing({ ...sharing, ...next });
  };
  return (
    <form
      class="card"
      data-testid="card-sharing"
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        void run(async () => setSharing(await call(api.PUT("/api/v1/me/card", { body: sharing })))).then(setSaved);
      }}
    >
      <h2 class="section-title">{t("card.sharing_title")}</h2>
      <p class="hint-block">{t("card.sharing_hint")}</p>
      <label class="field">
        <span>{t("card.email")}</span>
        <input type="email" inputMode="email" autocomplete="email" maxLength={254} data-testid="card-sharing-email"
          value={sharing.email ?? ""} onInput={(e) => change({ email: (e.currentTarget as HTMLInputElement).value })} />
      </label>
      <label class="check">
        <input type="checkbox" data-testid="card-sharing-links" checked={sharing.share_links ?? false}
          onChange={(e) => change({ share_links: (e.currentTarget as HTMLInputElement).checked })} />
        <span>{t("card.share_links")}</span>
      </label>
      <label class="check">
        <input type="checkbox" data-testid="card-sharing-phone" checked={sharing.share_phone ?? false}
          onChange={(e) => change({ share_phone: (e.currentTarget as HTMLInputElement).checked })} />
        <span>{t("card.share_phone")}</span>
      </label>
      <ErrorText error={error} testId="card-sharing-error" />
      <div aria-live="polite">{saved && <p class="success" data-testid="card-sharing-saved">{t("profile.saved")}</p>}</div>
      <button type="submit" class="secondary" data-testid="card-sharing-save" disabled={busy}>
        {t("card.sharing_save")}
      </button>
    </form>
  );
}
