import { useEffect, useState } from "preact/hooks";
import { api, call, type RoomSummary, type Schemas } from "../api/client";
import { t } from "../i18n";
import { accountLive, hallwayVersion } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";

type Visibility = Schemas["RoomCreate"]["visibility"];
type HallwayRoom = RoomSummary & { speakers?: { user_id: string; name: string }[] };

/** Refetch the hallway this often while the live account socket is down. */
const POLL_MS = 15_000;

function StartRoomForm(props: { onCreated: (roomId: string) => void; onCancel: () => void }) {
  const [title, setTitle] = useState("");
  const [topics, setTopics] = useState("");
  const [visibility, setVisibility] = useState<Visibility>("open");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);

  async function create(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const topicList = topics
        .split(",")
        .map((topic) => topic.trim())
        .filter(Boolean);
      const room = await call(
        api.POST("/api/v1/rooms", { body: { title: title.trim(), topics: topicList, visibility } }),
      );
      props.onCreated(room.id);
    } catch (e) {
      setError(asError(e));
      setBusy(false);
    }
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
      <ErrorText error={error} />
      <div class="row">
        <button class="primary" type="submit" data-testid="create-room" disabled={busy || !title.trim()}>
          {t("hallway.create")}
        </button>
        <button class="secondary" type="button" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

function RoomCard(props: { room: HallwayRoom; onOpen: (roomId: string) => void }) {
  const { room } = props;
  const names = room.speakers?.map((s) => s.name || t("common.unnamed")) ?? [];
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
        {room.topics.length > 0 && (
          <span class="topics">
            {room.topics.map((topic) => (
              <span class="topic" key={topic}>
                {topic}
              </span>
            ))}
          </span>
        )}
        {names.length > 0 && <span class="speaker-names">{names.join(", ")}</span>}
        <span class="counts">
          {t("hallway.counts", { speakers: room.speaker_count, listeners: room.listener_count })}
        </span>
      </button>
    </li>
  );
}

/** The hallway: live rooms you may enter, and a button to start one. */
export function HallwayScreen(props: { onOpen: (roomId: string) => void }) {
  const version = useObservable(hallwayVersion);
  const live = useObservable(accountLive);
  const [rooms, setRooms] = useState<HallwayRoom[] | null>(null);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    let stopped = false;
    async function load() {
      try {
        const hallway = await call(api.GET("/api/v1/rooms"));
        if (!stopped) {
          setRooms((hallway.rooms as HallwayRoom[]).filter((room) => room.status === "live"));
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
    </section>
  );
}
