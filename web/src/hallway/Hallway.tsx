import { useEffect, useState } from "preact/hooks";
import { api, call, type RankedRoom, type Schemas, type UpcomingRoom } from "../api/client";
import { t } from "../i18n";
import { accountLive, hallwayVersion } from "../session";
import { useObservable } from "../store/hooks";
import { Avatar } from "../ui/Avatar";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";
import { formatDateTime, localInputToIso, toLocalInput } from "../ui/time";

type Visibility = Schemas["RoomCreate"]["visibility"];

/** Refetch the hallway this often while the live account socket is down. */
const POLL_MS = 15_000;

function StartRoomForm(props: { onCreated: (roomId: string) => void; onCancel: () => void }) {
  const [title, setTitle] = useState("");
  const [topics, setTopics] = useState("");
  const [visibility, setVisibility] = useState<Visibility>("open");
  const [later, setLater] = useState(false);
  const [startsAt, setStartsAt] = useState(() => toLocalInput(new Date(Date.now() + 60 * 60 * 1000)));
  const { busy, error, run } = useAction();

  function create(event: Event) {
    event.preventDefault();
    void run(async () => {
      const topicList = topics
        .split(",")
        .map((topic) => topic.trim())
        .filter(Boolean);
      const when = later ? localInputToIso(startsAt) : null;
      if (later && when === null) throw { code: "invalid_starts_at" };
      const room = await call(
        api.POST("/api/v1/rooms", {
          body: { title: title.trim(), topics: topicList, visibility, ...(when ? { starts_at: when } : {}) },
        }),
      );
      props.onCreated(room.id);
    }, { keepBusy: true });
  }

  return (
    <form class="card start-room" onSubmit={create}>
      <h2>{t("hallway.new_room")}</h2>
      <label class="field">
        <span>{t("hallway.room_title")}</span>
        <input
          data-testid="room-title-input"
          required
          maxLength={120}
          value={title}
          onInput={(e) => setTitle((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <label class="field">
        <span>{t("hallway.room_topics")}</span>
        <input
          data-testid="room-topics-input"
          value={topics}
          aria-describedby="topics-hint"
          onInput={(e) => setTopics((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <p class="hint" id="topics-hint">
        {t("hallway.room_topics_hint")}
      </p>
      <label class="field">
        <span>{t("hallway.visibility")}</span>
        <select
          data-testid="room-visibility"
          value={visibility}
          onChange={(e) => setVisibility((e.currentTarget as HTMLSelectElement).value as Visibility)}
        >
          <option value="open">{t("hallway.visibility_open")}</option>
          <option value="social">{t("hallway.visibility_social")}</option>
          <option value="closed">{t("hallway.visibility_closed")}</option>
        </select>
      </label>
      <label class="check">
        <input
          type="checkbox"
          data-testid="room-schedule-later"
          checked={later}
          onChange={(e) => setLater((e.currentTarget as HTMLInputElement).checked)}
        />
        <span>{t("hallway.schedule_later")}</span>
      </label>
      {later && (
        <label class="field">
          <span>{t("hallway.starts_at")}</span>
          <input
            type="datetime-local"
            data-testid="room-starts-at"
            required
            value={startsAt}
            onInput={(e) => setStartsAt((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
      )}
      <ErrorText error={error} />
      <div class="row">
        <button class="primary" type="submit" data-testid="create-room" disabled={busy || !title.trim()}>
          {later ? t("hallway.schedule") : t("hallway.create")}
        </button>
        <button class="secondary" type="button" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

function Topics(props: { topics: string[] }) {
  if (props.topics.length === 0) return null;
  return (
    <span class="topics">
      {props.topics.map((topic) => (
        <span class="topic" key={topic}>
          {topic}
        </span>
      ))}
    </span>
  );
}

function RoomCard(props: { room: RankedRoom; onOpen: (roomId: string) => void }) {
  const { room } = props;
  const speakers = room.speakers ?? [];
  return (
    <li>
      <button
        type="button"
        class="card room-card"
        data-testid="room-card"
        data-room-id={room.id}
        onClick={() => props.onOpen(room.id)}
      >
        <span class="room-card-title">{room.title}</span>
        <Topics topics={room.topics} />
        {speakers.length > 0 && (
          <span class="speakers">
            <span class="avatar-stack" aria-hidden="true">
              {speakers.slice(0, 4).map((s) => (
                <Avatar key={s.user_id} name={s.name || t("common.unnamed")} url={s.avatar_url} size="tiny" />
              ))}
            </span>
            <span class="speaker-names">
              {t("hallway.on_stage", { names: speakers.map((s) => s.name || t("common.unnamed")).join(", ") })}
            </span>
          </span>
        )}
        <span class="counts">
          {t("hallway.counts", { speakers: room.speaker_count, listeners: room.listener_count })}
        </span>
      </button>
    </li>
  );
}

/** Going or not: the RSVP toggle of a scheduled room (used in the hallway and the room page). */
export function RsvpButton(props: {
  roomId: string;
  rsvped: boolean;
  onChange: (rsvped: boolean, count: number) => void;
  onError: (error: ReturnType<typeof asError>) => void;
}) {
  // The error shows where the caller shows errors (beside the room's other messages).
  const { busy, run } = useAction({ onError: (e) => props.onError(asError(e)) });
  const toggle = () =>
    run(async () => {
      const path = { params: { path: { room_id: props.roomId } } };
      const result = props.rsvped
        ? await call(api.DELETE("/api/v1/rooms/{room_id}/rsvp", path))
        : await call(api.POST("/api/v1/rooms/{room_id}/rsvp", path));
      props.onChange(result.rsvped, result.rsvp_count);
    });
  return (
    <button
      type="button"
      class={props.rsvped ? "primary small" : "secondary small"}
      data-testid="rsvp-toggle"
      aria-pressed={props.rsvped}
      disabled={busy}
      onClick={() => void toggle()}
    >
      {props.rsvped ? t("hallway.rsvp_going") : t("hallway.rsvp")}
    </button>
  );
}

/** The link that downloads a scheduled room's calendar entry (.ics). */
export function CalendarLink(props: { roomId: string; title: string }) {
  return (
    <a
      class="button secondary small"
      data-testid="calendar-link"
      href={`/api/v1/rooms/${encodeURIComponent(props.roomId)}/calendar.ics`}
      download="mitalk-room.ics"
      aria-label={t("hallway.calendar_for", { title: props.title })}
    >
      {t("hallway.calendar")}
    </a>
  );
}

function UpcomingCard(props: { room: UpcomingRoom; onChange: (room: UpcomingRoom) => void }) {
  const { room } = props;
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);
  return (
    <li class="card upcoming-card" data-testid="upcoming-card" data-room-id={room.id}>
      <a class="room-card-title" href={`#/room/${room.id}`}>
        {room.title}
      </a>
      {room.starts_at && (
        <p class="starts-at">
          <time dateTime={room.starts_at} data-testid="upcoming-time">
            {formatDateTime(room.starts_at)}
          </time>
        </p>
      )}
      <Topics topics={room.topics} />
      <p class="counts">{t("hallway.rsvp_count", { count: room.rsvp_count })}</p>
      <ErrorText error={error} />
      <div class="actions">
        <RsvpButton
          roomId={room.id}
          rsvped={room.rsvped}
          onError={setError}
          onChange={(rsvped, count) => props.onChange({ ...room, rsvped, rsvp_count: count })}
        />
        <CalendarLink roomId={room.id} title={room.title} />
      </div>
    </li>
  );
}

/** The hallway: live rooms you may enter (best first), upcoming ones, and a button to start one. */
export function HallwayScreen(props: { onOpen: (roomId: string) => void }) {
  const version = useObservable(hallwayVersion);
  const live = useObservable(accountLive);
  const [rooms, setRooms] = useState<RankedRoom[] | null>(null);
  const [upcoming, setUpcoming] = useState<UpcomingRoom[]>([]);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    let stopped = false;
    async function load() {
      try {
        const hallway = await call(api.GET("/api/v1/hallway"));
        if (!stopped) {
          setRooms(hallway.live.filter((room) => room.status === "live"));
          setUpcoming(hallway.upcoming);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(asError(e));
      }
    }
    void load();
    const timer = live ? null : setInterval(() => void load(), POLL_MS);
    return () => {
      stopped = true;
      if (timer !== null) clearInterval(timer);
    };
  }, [version, live]);

  return (
    <section class="hallway">
      <div class="screen-head">
        <h1 tabIndex={-1}>{t("hallway.title")}</h1>
        {!starting && (
          <button class="primary" type="button" data-testid="start-room" onClick={() => setStarting(true)}>
            {t("hallway.start_room")}
          </button>
        )}
      </div>
      {starting && <StartRoomForm onCreated={props.onOpen} onCancel={() => setStarting(false)} />}
      <ErrorText error={error} />
      {rooms === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : rooms.length === 0 ? (
        <p class="empty">{t("hallway.empty")}</p>
      ) : (
        <ul class="room-list" aria-label={t("hallway.live_rooms")}>
          {rooms.map((room) => (
            <RoomCard room={room} key={room.id} onOpen={props.onOpen} />
          ))}
        </ul>
      )}
      {upcoming.length > 0 && (
        <section aria-labelledby="upcoming-heading">
          <h2 id="upcoming-heading" class="section-title">
            {t("hallway.upcoming")}
          </h2>
          <ul class="room-list" data-testid="upcoming-list">
            {upcoming.map((room) => (
              <UpcomingCard
                room={room}
                key={room.id}
                onChange={(next) => setUpcoming((list) => list.map((r) => (r.id === next.id ? next : r)))}
              />
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
