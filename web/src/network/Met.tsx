import { useEffect, useState } from "preact/hooks";
import { api, call, type Card, type MetPerson } from "../api/client";
import { t } from "../i18n";
import { noticeVersion } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";
import { formatRelative } from "../ui/time";
import { PersonRow } from "./PersonRow";

/**
 * People you met in rooms (one room, or all of the last 7 days) with "Offer my card", and the
 * cards inbox: cards offered to you to accept or decline, and the ones you offered.
 */
export function MetScreen(props: { roomId?: string }) {
  const version = useObservable(noticeVersion);
  const [people, setPeople] = useState<MetPerson[] | null>(null);
  const [cards, setCards] = useState<{ received: Card[]; sent: Card[] } | null>(null);
  const { busy, error, setError, run: act } = useAction({ reload: load });

  async function load() {
    try {
      const [met, inbox] = await Promise.all([
        props.roomId
          ? call(api.GET("/api/v1/rooms/{room_id}/people", { params: { path: { room_id: props.roomId } } }))
          : call(api.GET("/api/v1/me/met")),
        call(api.GET("/api/v1/cards")),
      ]);
      setPeople(met.people);
      setCards(inbox);
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void load();
  }, [props.roomId, version]);

  const pending = cards?.received.filter((card) => card.status === "pending") ?? [];
  const cardPath = (id: string) => ({ params: { path: { card_id: id } } });

  return (
    <section class="met">
      <h1 tabIndex={-1}>{props.roomId ? t("met.title_room") : t("met.title")}</h1>
      <p class="lead">{t("met.lead")}</p>
      <ErrorText error={error} />
      {pending.length > 0 && (
        <section aria-labelledby="cards-heading">
          <h2 id="cards-heading" class="section-title">
            {t("met.cards_received", { count: pending.length })}
          </h2>
          <ul class="person-list" data-testid="cards-inbox">
            {pending.map((card) => (
              <PersonRow
                key={card.id}
                id={card.person.id}
                name={card.person.profile.name}
                headline={card.person.profile.headline}
                avatarUrl={card.person.profile.avatar_url}
                testId="card-received"
                detail={card.room_title ? <span class="person-skills">{t("card.met_in", { room: card.room_title })}</span> : undefined}
              >
                <a class="button secondary small" href={`#/cards/${card.id}`} data-testid="open-card">
                  {t("card.open")}
                </a>
                <button type="button" class="primary small" data-testid="accept-card" disabled={busy}
                  onClick={() => void act(() => call(api.POST("/api/v1/cards/{card_id}/accept", cardPath(card.id))))}>
                  {t("met.card_accept")}
                </button>
                <button type="button" class="secondary small" data-testid="decline-card" disabled={busy}
                  onClick={() => void act(() => call(api.POST("/api/v1/cards/{card_id}/decline", cardPath(card.id))))}>
                  {t("person.decline")}
                </button>
              </PersonRow>
            ))}
          </ul>
        </section>
      )}
      {people === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : people.length === 0 ? (
        <p class="empty">{t("met.empty")}</p>
      ) : (
        <ul class="person-list" data-testid="met-list">
          {people.map((met) => (
            <PersonRow
              key={met.person.id}
              id={met.person.id}
              name={met.person.profile.name}
              headline={met.person.profile.headline}
              avatarUrl={met.person.profile.avatar_url}
              testId="met-person"
              detail={
                <>
                  <span class="person-skills" data-testid="met-rooms">
                    {t("met.met_in", { rooms: met.rooms.map((room) => room.title).join(", ") })}
                  </span>
                  <span class="person-skills">{t("met.met_at", { time: formatRelative(met.met_at) })}</span>
                </>
              }
            >
              {met.connection === "connected" ? (
                <span class="chip-note">{t("person.state_connected")}</span>
              ) : met.card_sent ? (
                <span class="chip-note" data-testid="card-sent">
                  {t("met.card_sent")}
                </span>
              ) : (
                <button type="button" class="primary small" data-testid="offer-card" disabled={busy}
                  onClick={() => void act(() => call(api.POST("/api/v1/cards", { body: { user_id: met.person.id, room_id: met.room_id } })))}>
                  {t("met.offer_card")}
                </button>
              )}
              {met.card_received && met.connection !== "connected" && <span class="chip-note">{t("met.card_received")}</span>}
            </PersonRow>
          ))}
        </ul>
      )}
    </section>
  );
}
