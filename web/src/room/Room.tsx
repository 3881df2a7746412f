import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, call, type Account, type Participant, type Person, type Room } from "../api/client";
import { CalendarLink, RsvpButton } from "../hallway/Hallway";
import { t } from "../i18n";
import { RoomAudio, type AudioPath } from "../media/audio";
import { roomPlayer } from "../media/player";
import { LiveSocket } from "../realtime/socket";
import { navigate } from "../router";
import { hallwayVersion } from "../session";
import { useObservable } from "../store/hooks";
import { RoomStore, type Role } from "../store/room";
import { Avatar } from "../ui/Avatar";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";
import { HandIcon, LeaveIcon, MicIcon, MoreIcon } from "../ui/icons";
import { MenuButton, type MenuItem } from "../ui/Menu";
import { formatDateTime } from "../ui/time";
import { PersonView } from "../network/Person";
import { PersonRow } from "../network/PersonRow";

const onStage = (role: Role) => role !== "listener";
const pathFor = (role: Role): AudioPath => (onStage(role) ? "stage" : "audience");

interface Live {
  store: RoomStore;
  audio: RoomAudio;
  socket: LiveSocket | null;
}

/** Join the room, follow its socket into the store, and move audio as the role changes. */
function useLiveRoom(roomId: string, selfId: string) {
  const [joinError, setJoinError] = useState<ReturnType<typeof asError> | null>(null);
  const [closed, setClosed] = useState<"ended" | "removed" | null>(null);
  // The server closed this page's socket because the account opened the room elsewhere too
  // (4429: past its sockets per account the oldest goes); this page no longer follows it.
  const [replaced, setReplaced] = useState(false);
  const live = useMemo<Live>(() => {
    const audio = new RoomAudio(roomId, roomPlayer());
    const holder: Live = { store: null as unknown as RoomStore, audio, socket: null };
    holder.store = new RoomStore({
      selfId,
      onResync: () => holder.socket?.reconnect(),
      onSelfRoleChange: (role, previous) => {
        if (pathFor(role) !== pathFor(previous)) void audio.connect(pathFor(role));
      },
      onMediaReconnect: () => {
        const me = holder.store.state.get()?.room.participants.find((p) => p.user_id === selfId);
        if (me) void audio.connect(pathFor(me.role));
      },
      onClosed: (why) => {
        audio.close(false);
        holder.socket?.stop();
        setClosed(why);
      },
    });
    return holder;
  }, [roomId, selfId]);

  useEffect(() => {
    let cancelled = false;
    const { store, audio } = live;
    async function join() {
      try {
        const room = await call(api.POST("/api/v1/rooms/{room_id}/join", { params: { path: { room_id: roomId } } }));
        if (cancelled) return;
        store.applySnapshot(room, room.seq);
        live.socket = new LiveSocket({
          path: `/api/v1/rooms/${encodeURIComponent(roomId)}/ws`,
          query: (): Record<string, string> => (store.seq !== null ? { after: String(store.seq) } : {}),
          onMessage: (message) => store.receive(message),
          onInvalid: () => live.socket?.reconnect(),
          onFinalClose: (code) => {
            if (code === 4403) setClosed((c) => c ?? "removed");
            else if (code === 4429) {
              // Hang up here without telling the server: the seat is the other tab's now.
              audio.close(false);
              setReplaced(true);
            }
            else if (code === 4404) setJoinError({ code: "room_not_found", retryAfter: null });
          },
        });
        const me = room.participants.find((p) => p.user_id === selfId);
        if (me && room.status === "live") void audio.connect(pathFor(me.role));
      } catch (e) {
        if (!cancelled) setJoinError(asError(e));
      }
    }
    void join();
    return () => {
      cancelled = true;
      live.socket?.stop();
      live.audio.close();
      live.store.dispose();
    };
  }, [live]);

  return { live, joinError, closed, replaced };
}

/** A person's page over the room (the room, its socket and audio stay as they are). */
function PersonSheet(props: { userId: string; onClose: () => void }) {
  const sheet = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    sheet.current?.querySelector<HTMLElement>("h2")?.focus();
    return () => opener?.focus?.();
  }, []);
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        class="sheet"
        role="dialog"
        aria-modal="true"
        aria-label={t("room.profile_sheet")}
        data-testid="person-sheet"
        ref={sheet}
        onKeyDown={(e) => {
          if (e.key === "Escape") props.onClose();
        }}
      >
        <button type="button" class="secondary small sheet-close" data-testid="close-person-sheet" onClick={props.onClose}>
          {t("common.close")}
        </button>
        <PersonView userId={props.userId} inSheet />
      </div>
    </div>
  );
}

function ParticipantTile(props: {
  participant: Participant;
  speaking: boolean;
  isSelf: boolean;
  menu: MenuItem[];
}) {
  const p = props.participant;
  const name = p.name || t("common.unnamed");
  const roleLabel = p.role === "moderator" ? t("room.role_moderator") : p.role === "speaker" ? t("room.role_speaker") : "";
  return (
    <li
      class="participant"
      data-testid="participant"
      data-user-id={p.user_id}
      data-role={p.role}
      data-speaking={props.speaking ? "true" : "false"}
      data-hand={p.hand_raised ? "true" : "false"}
      data-muted={p.muted ? "true" : "false"}
    >
      <span class="avatar-wrap">
        <Avatar name={name} url={p.avatar_url} speaking={props.speaking} size={onStage(p.role) ? "large" : "small"} />
        {props.menu.length > 0 && (
          <MenuButton label={t("room.menu_for", { name })} title={name} testId="participant-menu" items={props.menu}>
            <span class="chip" aria-hidden="true">
              <MoreIcon />
            </span>
          </MenuButton>
        )}
      </span>
      <span class="participant-name">
        <span class="name-text" title={name}>
          {props.isSelf ? t("room.you", { name }) : name}
        </span>
        {p.hand_raised && (
          <span class="badge hand" title={t("room.hand_raised")}>
            <HandIcon />
            <span class="visually-hidden">{t("room.hand_raised")}</span>
          </span>
        )}
        {onStage(p.role) && p.muted && (
          <span class="badge muted" title={t("room.muted")}>
            <MicIcon off />
            <span class="visually-hidden">{t("room.muted")}</span>
          </span>
        )}
      </span>
      {roleLabel && <span class="role">{roleLabel}</span>}
      {props.speaking && <span class="visually-hidden">{t("room.speaking")}</span>}
    </li>
  );
}

/**
 * A room. A scheduled one shows when it starts (RSVP, calendar; its host can start it now);
 * a live one is the stage, the audience, hands, and the controls in thumb reach.
 */
export function RoomScreen(props: { roomId: string; account: Account }) {
  const [phase, setPhase] = useState<"checking" | "scheduled" | "live">("checking");
  const [scheduled, setScheduled] = useState<Room | null>(null);
  useEffect(() => {
    let cancelled = false;
    call(api.GET("/api/v1/rooms/{room_id}", { params: { path: { room_id: props.roomId } } }))
      .then((room) => {
        if (cancelled) return;
        setScheduled(room.status === "scheduled" ? room : null);
        setPhase(room.status === "scheduled" ? "scheduled" : "live");
      })
      // Anything else (not found, not allowed): joining says why.
      .catch(() => !cancelled && setPhase("live"));
    return () => {
      cancelled = true;
    };
  }, [props.roomId]);
  if (phase === "checking") {
    return (
      <section class="room">
        <p aria-busy="true">{t("app.loading")}</p>
      </section>
    );
  }
  if (phase === "scheduled" && scheduled) {
    return <ScheduledRoom room={scheduled} isHost={scheduled.host_id === props.account.id} onStarted={() => setPhase("live")} />;
  }
  return <LiveRoom roomId={props.roomId} account={props.account} />;
}

function ScheduledRoom(props: { room: Room; isHost: boolean; onStarted: () => void }) {
  const [room, setRoom] = useState(props.room);
  const { busy, error, setError, run } = useAction();
  const version = useObservable(hallwayVersion);
  // When the hallway changes (e.g. the host started this room), look again.
  useEffect(() => {
    if (version === 0) return;
    call(api.GET("/api/v1/rooms/{room_id}", { params: { path: { room_id: room.id } } })).then(
      (fresh) => (fresh.status === "scheduled" ? setRoom(fresh) : props.onStarted()),
      () => undefined,
    );
  }, [version]);
  const start = () =>
    run(async () => {
      await call(api.POST("/api/v1/rooms/{room_id}/start", { params: { path: { room_id: room.id } } }));
      props.onStarted();
    }, { keepBusy: true });
  return (
    <section class="room" data-testid="scheduled-room">
      <RoomHead title={room.title} topics={room.topics} />
      <div class="card">
        <p class="starts-at">
          {t("room.scheduled_for")}{" "}
          {room.starts_at && (
            <time dateTime={room.starts_at} data-testid="room-starts-at">
              {formatDateTime(room.starts_at)}
            </time>
          )}
        </p>
        <p class="counts">{t("hallway.rsvp_count", { count: room.rsvp_count ?? 0 })}</p>
        <ErrorText error={error} />
        <div class="actions">
          <RsvpButton
            roomId={room.id}
            rsvped={room.rsvped ?? false}
            onError={setError}
            onChange={(rsvped, count) => setRoom({ ...room, rsvped, rsvp_count: count })}
          />
          <CalendarLink roomId={room.id} title={room.title} />
        </div>
      </div>
      {props.isHost && (
        <button type="button" class="primary wide" data-testid="start-scheduled-room" disabled={busy} onClick={() => void start()}>
          {t("room.start_now")}
        </button>
      )}
      <a class="button secondary" href="#/">
        {t("room.back_to_hallway")}
      </a>
    </section>
  );
}

function LiveRoom(props: { roomId: string; account: Account }) {
  const selfId = props.account.id;
  const { live, joinError, closed, replaced } = useLiveRoom(props.roomId, selfId);
  const state = useObservable(live.store.state);
  const audioStatus = useObservable(live.audio.status);
  const needsTap = useObservable(live.audio.needsTap);
  // Room actions need no reload (the room's socket brings the change) and disable nothing.
  const { error: actionError, run: act } = useAction();
  // Names only: the words are rendered at each render, so a language switch re-words it too.
  const [announced, setAnnounced] = useState<string[]>([]);
  const [removing, setRemoving] = useState<Participant | null>(null);
  const removeButton = useRef<HTMLButtonElement>(null);
  const [confirmingEnd, setConfirmingEnd] = useState(false);
  const [viewing, setViewing] = useState<string | null>(null);
  const [pinging, setPinging] = useState(false);
  const [shared, setShared] = useState(false);

  // The room's share link (/rooms/ID) shows a link preview in messengers, then opens the room.
  async function share() {
    const url = `${location.origin}/rooms/${encodeURIComponent(props.roomId)}`;
    try {
      if (navigator.share) await navigator.share({ title: room?.title ?? "", url });
      else await navigator.clipboard.writeText(url);
      setShared(true);
    } catch {
      // The person closed the share sheet, or the clipboard is not allowed: nothing to say.
    }
  }
  const endButton = useRef<HTMLButtonElement>(null);
  const confirmEndButton = useRef<HTMLButtonElement>(null);
  const seenHands = useRef<Set<string>>(new Set());

  const room = state?.room;
  const me = room?.participants.find((p) => p.user_id === selfId);
  const amModerator = me?.role === "moderator";
  const ended = closed === "ended" || state?.ended != null || room?.status === "ended";
  const removed = closed === "removed" || state?.removed === true;

  // Announce newly raised hands to moderators (screen readers) as they happen.
  useEffect(() => {
    if (!room) return;
    const raised = room.participants.filter((p) => p.hand_raised);
    const fresh = raised.filter((p) => !seenHands.current.has(p.user_id));
    seenHands.current = new Set(raised.map((p) => p.user_id));
    if (amModerator && fresh.length > 0) {
      setAnnounced(fresh.map((p) => p.name));
    }
  }, [room, amModerator]);

  const path = { params: { path: { room_id: props.roomId } } };
  const byUser = (userId: string) => ({ ...path, body: { user_id: userId } });

  function menuFor(p: Participant): MenuItem[] {
    if (p.user_id === selfId) return [];
    const items: MenuItem[] = [
      { label: t("room.menu_view_profile"), testId: "menu-view-profile", onSelect: () => setViewing(p.user_id) },
    ];
    if (!amModerator || ended) return items;
    const target = (label: Parameters<typeof t>[0], testId: string, run: () => Promise<unknown>, danger = false) =>
      items.push({ label: t(label), testId, danger, onSelect: () => void act(run) });
    if (p.role === "listener") {
      target("room.menu_bring_on_stage", "menu-bring-on-stage", () =>
        call(api.POST("/api/v1/rooms/{room_id}/speakers", byUser(p.user_id))),
      );
    } else {
      if (p.role === "speaker") {
        target("room.menu_move_to_audience", "menu-move-to-audience", () =>
          call(
            api.DELETE("/api/v1/rooms/{room_id}/speakers/{user_id}", {
              params: { path: { room_id: props.roomId, user_id: p.user_id } },
            }),
          ),
        );
      }
      if (!p.muted) {
        target("room.menu_mute", "menu-mute", () => call(api.POST("/api/v1/rooms/{room_id}/mute", byUser(p.user_id))));
      }
      if (p.role === "speaker") {
        target("room.menu_make_moderator", "menu-make-moderator", () =>
          call(api.POST("/api/v1/rooms/{room_id}/moderators", byUser(p.user_id))),
        );
      }
    }
    // Nobody removes the room's host, not even one who stepped down (cannot_remove_host).
    if (p.role !== "moderator" && p.user_id !== room?.host_id) {
      // Removal cannot be undone (they may not come back), so it asks first.
      items.push({ label: t("room.menu_remove"), testId: "menu-remove", danger: true, onSelect: () => setRemoving(p) });
    }
    return items;
  }

  async function toggleMic() {
    if (!me) return;
    if (me.muted) {
      await act(async () => {
        await call(api.POST("/api/v1/rooms/{room_id}/unmute", path));
        live.audio.setMicEnabled(true);
      });
    } else {
      live.audio.setMicEnabled(false);
      await act(() => call(api.POST("/api/v1/rooms/{room_id}/mute", byUser(selfId))));
    }
  }

  // Keep the microphone track in line with the room's word (a moderator may mute us).
  useEffect(() => {
    if (me && onStage(me.role)) live.audio.setMicEnabled(!me.muted);
  }, [me?.muted, me?.role]);

  useEffect(() => {
    if (confirmingEnd) confirmEndButton.current?.focus();
  }, [confirmingEnd]);

  useEffect(() => {
    if (removing) removeButton.current?.focus();
  }, [removing]);

  function cancelEnd() {
    setConfirmingEnd(false);
    setTimeout(() => endButton.current?.focus(), 0);
  }

  async function leave() {
    live.socket?.stop();
    live.audio.close();
    try {
      await call(api.POST("/api/v1/rooms/{room_id}/leave", path));
    } catch {
      // Leaving a room that ended or removed us is fine.
    }
    navigate({ name: "met", roomId: props.roomId });
  }

  if (joinError && !room) {
    return (
      <section class="room">
        <h1 tabIndex={-1}>{t("room.cannot_join")}</h1>
        <ErrorText error={joinError} />
        <a class="button secondary" href="#/">
          {t("room.back_to_hallway")}
        </a>
      </section>
    );
  }
  if (!room || !state) {
    return (
      <section class="room">
        <p aria-busy="true">{t("app.loading")}</p>
      </section>
    );
  }

  const stage = room.participants.filter((p) => onStage(p.role));
  const audience = room.participants.filter((p) => !onStage(p.role));
  const hands = audience.filter((p) => p.hand_raised);
  const tile = (p: Participant) => (
    <ParticipantTile
      key={p.user_id}
      participant={p}
      isSelf={p.user_id === selfId}
      speaking={state.activeSpeaker === p.user_id}
      menu={menuFor(p)}
    />
  );

  return (
    <section class="room">
      <RoomHead title={room.title} topics={room.topics} />
      {!ended && !removed && me && (
        <p class="actions">
          {(room.visibility === "open" || amModerator) && (
            <button type="button" class="secondary small" data-testid="ping-open" onClick={() => setPinging(true)}>
              {t("room.ping_open")}
            </button>
          )}
          <button type="button" class="secondary small" data-testid="share-room" onClick={() => void share()}>
            {shared ? t("room.share_copied") : t("room.share")}
          </button>
        </p>
      )}
      <div aria-live="polite" class="visually-hidden">
        {announced.map((name) => t("room.hand_announcement", { name: name || t("common.unnamed") })).join(" ")}
      </div>
      {(ended || removed) && (
        <div class="card notice" role="alert" data-testid="room-ended">
          <p>{removed && !ended ? t("room.removed_notice") : t("room.ended_notice")}</p>
          <div class="actions center">
            <a class="button primary" href={`#/met/${props.roomId}`} data-testid="room-people-met">
              {t("room.people_met")}
            </a>
            <a class="button secondary" href="#/" data-testid="back-to-hallway">
              {t("room.back_to_hallway")}
            </a>
          </div>
        </div>
      )}
      {replaced && !ended && !removed && (
        <div class="card notice" role="alert" data-testid="room-replaced">
          <p>{t("room.replaced_notice")}</p>
          <button type="button" class="primary" data-testid="room-reload" onClick={() => location.reload()}>
            {t("room.reload")}
          </button>
        </div>
      )}
      {needsTap && !ended && (
        <button type="button" class="primary wide" onClick={() => void live.audio.resumePlayback()}>
          {t("room.tap_for_sound")}
        </button>
      )}
      {!ended && audioStatus === "unavailable" && <p class="hint">{t("room.audio_unavailable")}</p>}
      {!ended && audioStatus === "failed" && <p class="hint">{t("room.audio_failed")}</p>}
      <ErrorText error={actionError} />
      {amModerator && !ended && (
        <section class="card hands" aria-labelledby="hands-heading">
          <h2 id="hands-heading">{t("room.hands_title", { count: hands.length })}</h2>
          <ul data-testid="hands-list" aria-live="polite">
            {hands.length === 0 && <li class="empty">{t("room.hands_empty")}</li>}
            {hands.map((p) => (
              <li key={p.user_id} class="hand-row" data-user-id={p.user_id}>
                <span>{p.name || t("common.unnamed")}</span>
                <button
                  type="button"
                  class="secondary small"
                  onClick={() => void act(() => call(api.POST("/api/v1/rooms/{room_id}/speakers", byUser(p.user_id))))}
                >
                  {t("room.menu_bring_on_stage")}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="stage-heading">
        <h2 id="stage-heading" class="section-title">
          {t("room.stage", { count: stage.length })}
        </h2>
        <ul class="people stage" data-testid="stage">
          {stage.map(tile)}
        </ul>
      </section>
      <section aria-labelledby="audience-heading">
        <h2 id="audience-heading" class="section-title">
          {t("room.audience", { count: audience.length })}
        </h2>
        <ul class="people audience" data-testid="audience">
          {audience.map(tile)}
        </ul>
      </section>
      {viewing && <PersonSheet userId={viewing} onClose={() => setViewing(null)} />}
      {pinging && <PingSheet roomId={props.roomId} selfId={selfId} onClose={() => setPinging(false)} />}
      {!ended && !removed && removing && (
        <div
          class="room-bar confirm"
          role="alertdialog"
          aria-labelledby="remove-question"
          data-testid="remove-confirmation"
          onKeyDown={(event) => {
            if (event.key === "Escape") setRemoving(null);
          }}
        >
          <p id="remove-question">{t("room.remove_question", { name: removing.name || t("common.unnamed") })}</p>
          <button type="button" class="bar-button" data-testid="remove-cancel" onClick={() => setRemoving(null)}>
            <span>{t("common.cancel")}</span>
          </button>
          <button
            type="button"
            class="bar-button danger"
            data-testid="remove-confirm"
            ref={removeButton}
            onClick={() => {
              const target = removing;
              setRemoving(null);
              void act(() => call(api.POST("/api/v1/rooms/{room_id}/remove", byUser(target.user_id))));
            }}
          >
            <span>{t("room.remove")}</span>
          </button>
        </div>
      )}
      {!ended && !removed && !removing && confirmingEnd && (
        <div
          class="room-bar confirm"
          role="alertdialog"
          aria-labelledby="end-question"
          onKeyDown={(event) => {
            if (event.key === "Escape") cancelEnd();
          }}
        >
          <p id="end-question">{t("room.end_question")}</p>
          <button type="button" class="bar-button" onClick={cancelEnd}>
            <span>{t("common.cancel")}</span>
          </button>
          <button
            type="button"
            class="bar-button danger"
            ref={confirmEndButton}
            onClick={() => {
              setConfirmingEnd(false);
              void act(() => call(api.POST("/api/v1/rooms/{room_id}/end", path)));
            }}
          >
            <span>{t("room.end")}</span>
          </button>
        </div>
      )}
      {!ended && !removed && !confirmingEnd && !removing && (
        <div class="room-bar" role="toolbar" aria-label={t("room.controls")}>
          <button type="button" class="bar-button" data-testid="leave-room" onClick={() => void leave()}>
            <LeaveIcon />
            <span>{t("room.leave")}</span>
          </button>
          {amModerator && (
            <button
              type="button"
              class="bar-button danger"
              data-testid="end-room"
              ref={endButton}
              aria-haspopup="dialog"
              onClick={() => setConfirmingEnd(true)}
            >
              <span>{t("room.end")}</span>
            </button>
          )}
          {me && !onStage(me.role) &&
            (me.hand_raised ? (
              <button
                type="button"
                class="bar-button active"
                data-testid="lower-hand"
                aria-pressed="true"
                onClick={() => void act(() => call(api.DELETE("/api/v1/rooms/{room_id}/hand", path)))}
              >
                <HandIcon />
                <span>{t("room.lower_hand")}</span>
              </button>
            ) : (
              <button
                type="button"
                class="bar-button"
                data-testid="raise-hand"
                onClick={() => void act(() => call(api.POST("/api/v1/rooms/{room_id}/hand", path)))}
              >
                <HandIcon />
                <span>{t("room.raise_hand")}</span>
              </button>
            ))}
          {me && onStage(me.role) && (
            <button
              type="button"
              class={me.muted ? "bar-button mic" : "bar-button mic active"}
              data-testid="mic-toggle"
              aria-pressed={!me.muted}
              onClick={() => void toggleMic()}
            >
              <MicIcon off={me.muted} />
              <span>{me.muted ? t("room.mic_off") : t("room.mic_on")}</span>
            </button>
          )}
        </div>
      )}
    </section>
  );
}

/** Your followers, each with "Ping" (a notice that opens this room), over the room. */
function PingSheet(props: { roomId: string; selfId: string; onClose: () => void }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [pinged, setPinged] = useState<Set<string>>(new Set());
  const { busy, error, setError, run } = useAction({});
  const sheet = useRef<HTMLDivElement>(null);

  useEffect(() => {
    call(api.GET("/api/v1/users/{user_id}/followers", { params: { path: { user_id: props.selfId }, query: { limit: 100 } } })).then(
      (page) => setPeople(page.people),
      (e: unknown) => setError(asError(e)),
    );
    sheet.current?.querySelector<HTMLElement>("h2")?.focus();
  }, []);

  const ping = (userId: string) =>
    void run(async () => {
      await call(api.POST("/api/v1/rooms/{room_id}/ping", { params: { path: { room_id: props.roomId } }, body: { user_id: userId } }));
      setPinged(new Set([...pinged, userId]));
    });

  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="sheet" role="dialog" aria-modal="true" aria-labelledby="ping-title" data-testid="ping-sheet" ref={sheet}
        onKeyDown={(e) => e.key === "Escape" && props.onClose()}>
        <button type="button" class="secondary small sheet-close" data-testid="close-ping-sheet" onClick={props.onClose}>
          {t("common.close")}
        </button>
        <h2 id="ping-title" tabIndex={-1}>{t("room.ping_title")}</h2>
        <p class="hint-block">{t("room.ping_hint")}</p>
        <ErrorText error={error} />
        {people === null ? (
          <p aria-busy="true">{t("app.loading")}</p>
        ) : people.length === 0 ? (
          <p class="empty">{t("room.ping_none")}</p>
        ) : (
          <ul class="person-list">
            {people.map((person) => (
              <PersonRow key={person.id} id={person.id} name={person.profile.name} headline={person.profile.headline}
                avatarUrl={person.profile.avatar_url} testId="ping-person">
                {pinged.has(person.id) ? (
                  <span class="chip-note" data-testid="pinged">{t("room.pinged")}</span>
                ) : (
                  <button type="button" class="secondary small" data-testid="ping" disabled={busy} onClick={() => ping(person.id)}>
                    {t("room.ping")}
                  </button>
                )}
              </PersonRow>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

/** A room's title and topics, at the top of its page (scheduled or live). */
function RoomHead(props: { title: string; topics: readonly string[] }) {
  return (
    <div class="room-head">
      <h1 tabIndex={-1} data-testid="room-title">
        {props.title}
      </h1>
      {props.topics.length > 0 && (
        <p class="topics">
          {props.topics.map((topic) => (
            <span class="topic" key={topic}>
              {topic}
            </span>
          ))}
        </p>
      )}
    </div>
  );
}
