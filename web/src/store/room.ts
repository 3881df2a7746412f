// The one store for a room's live state: a snapshot plus the room's events applied strictly in
// `seq` order. Out-of-order events wait briefly for the gap to fill; a gap that stays open, an
// invalid event or a `resync` from the server asks for a resync (a fresh snapshot or a resume).
import type { Participant, Room } from "../api/client";
import { Observable } from "./observable";

export type Role = Participant["role"];

export interface RoomEnded {
  reason: string;
  by: string | null;
}

export interface RoomState {
  room: Room;
  /** The seq of the last event applied (the snapshot's seq at first). */
  seq: number;
  /** Who is talking now (ephemeral; null: nobody). */
  activeSpeaker: string | null;
  ended: RoomEnded | null;
  /** True when this person was removed from the room. */
  removed: boolean;
}

/** A room event as validated against its schema (only the fields the store reads). */
export interface RoomEvent {
  type: string;
  room_id: string;
  seq?: number | null;
  at?: string;
  user_id?: string | null;
  participant?: Participant;
  role?: Role;
  previous_role?: Role;
  hand_raised?: boolean;
  muted?: boolean;
  reason?: string;
  by?: string | null;
  room?: Partial<Room>;
}

/** Events without a seq: applied as they come, never ordered or replayed. */
export const EPHEMERAL_EVENTS = new Set(["room.active_speaker", "room.media_reconnect"]);

function withParticipants(room: Room, participants: Participant[]): Room {
  const speakers = participants.filter((p) => p.role !== "listener").length;
  return {
    ...room,
    participants,
    speaker_count: speakers,
    listener_count: participants.length - speakers,
  };
}

function updateParticipant(state: RoomState, userId: string, change: Partial<Participant>): RoomState {
  const participants = state.room.participants.map((p) => (p.user_id === userId ? { ...p, ...change } : p));
  return { ...state, room: withParticipants(state.room, participants) };
}

function withoutParticipant(state: RoomState, userId: string): RoomState {
  const participants = state.room.participants.filter((p) => p.user_id !== userId);
  const activeSpeaker = state.activeSpeaker === userId ? null : state.activeSpeaker;
  return { ...state, activeSpeaker, room: withParticipants(state.room, participants) };
}

/**
 * Apply one event to the state (pure). `selfId` is the person using the app: their own
 * `room.removed` marks the state removed. The caller checks order; this only applies.
 */
export function applyEvent(state: RoomState, event: RoomEvent, selfId: string): RoomState {
  let next: RoomState = state;
  switch (event.type) {
    case "room.participant_joined": {
      const joined = event.participant;
      if (!joined) break;
      const others = state.room.participants.filter((p) => p.user_id !== joined.user_id);
      next = { ...state, room: withParticipants(state.room, [...others, joined]) };
      break;
    }
    case "room.participant_left":
      if (event.user_id) next = withoutParticipant(state, event.user_id);
      break;
    case "room.hand_raised":
      if (event.user_id) next = updateParticipant(state, event.user_id, { hand_raised: true });
      break;
    case "room.hand_lowered":
      if (event.user_id) next = updateParticipant(state, event.user_id, { hand_raised: false });
      break;
    case "room.role_changed":
      if (event.user_id && event.role) {
        next = updateParticipant(state, event.user_id, {
          role: event.role,
          hand_raised: event.hand_raised ?? false,
          muted: event.muted ?? event.role === "listener",
        });
        if (event.role === "listener" && next.activeSpeaker === event.user_id) {
          next = { ...next, activeSpeaker: null };
        }
      }
      break;
    case "room.muted":
      if (event.user_id) next = updateParticipant(state, event.user_id, { muted: true });
      break;
    case "room.unmuted":
      if (event.user_id) next = updateParticipant(state, event.user_id, { muted: false });
      break;
    case "room.removed":
      if (event.user_id) {
        next = withoutParticipant(state, event.user_id);
        if (event.user_id === selfId) next = { ...next, removed: true };
      }
      break;
    case "room.ended":
      next = {
        ...state,
        activeSpeaker: null,
        ended: { reason: event.reason ?? "ended", by: event.by ?? null },
        room: { ...state.room, status: "ended", ended_at: event.at ?? state.room.ended_at },
      };
      break;
    case "room.created":
      if (event.room) next = { ...state, room: { ...state.room, ...event.room } };
      break;
    case "room.active_speaker":
      next = { ...state, activeSpeaker: event.user_id ?? null };
      break;
    default:
      break;
  }
  if (typeof event.seq === "number") next = { ...next, seq: event.seq, room: { ...next.room, seq: event.seq } };
  return next;
}

export interface RoomStoreOptions {
  /** The person using the app. */
  selfId: string;
  /** The state cannot be trusted any more: reconnect with `?after=seq` or refetch a snapshot. */
  onResync: (reason: string, lastSeq: number | null) => void;
  /** Your own role changed: move your audio between stage and audience. */
  onSelfRoleChange?: (role: Role, previous: Role) => void;
  /** Janus restarted: connect your audio again. */
  onMediaReconnect?: () => void;
  /** The room ended, or you were removed: stop. */
  onClosed?: (why: "ended" | "removed") => void;
  /** How long an out-of-order event waits for the missing ones before a resync (ms). */
  reorderWindowMs?: number;
}

/** Holds one room's live state and applies the socket's messages to it in order. */
export class RoomStore {
  readonly state = new Observable<RoomState | null>(null);
  private pending = new Map<number, RoomEvent>();
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  private awaitingSnapshot = false;
  private readonly reorderWindowMs: number;

  constructor(private readonly options: RoomStoreOptions) {
    this.reorderWindowMs = options.reorderWindowMs ?? 1500;
  }

  /** The seq of the last event applied, or null before the first snapshot. */
  get seq(): number | null {
    return this.state.get()?.seq ?? null;
  }

  /** Replace the state with a snapshot (the room as after event `seq`). */
  applySnapshot(room: Room, seq: number): void {
    const previous = this.state.get();
    const self = room.participants.find((p) => p.user_id === this.options.selfId);
    const before = previous?.room.participants.find((p) => p.user_id === this.options.selfId);
    this.awaitingSnapshot = false;
    this.state.set({
      room: { ...room, seq },
      seq,
      activeSpeaker: previous?.activeSpeaker ?? null,
      ended: room.status === "ended" ? (previous?.ended ?? { reason: "ended", by: null }) : null,
      removed: previous?.removed ?? false,
    });
    // Events newer than the snapshot may still apply; older ones are covered by it.
    for (const pendingSeq of [...this.pending.keys()]) if (pendingSeq <= seq) this.pending.delete(pendingSeq);
    this.drain();
    if (before && self && before.role !== self.role) this.options.onSelfRoleChange?.(self.role, before.role);
    if (room.status === "ended" && !previous?.ended) this.options.onClosed?.("ended");
  }

  /** Handle one validated server message from the room socket. */
  receive(message: { type: string; [key: string]: unknown }): void {
    switch (message.type) {
      case "snapshot":
        this.applySnapshot(message.room as Room, message.seq as number);
        return;
      case "resync":
        // The server sends a snapshot next; hold events until it comes.
        this.awaitingSnapshot = true;
        this.clearPending();
        return;
      case "resumed":
      case "ack":
      case "pong":
      case "error":
        return;
      default:
        if (message.type.startsWith("room.")) this.receiveEvent(message as unknown as RoomEvent);
    }
  }

  /** Apply a room event: ephemeral ones at once, the rest in seq order. */
  receiveEvent(event: RoomEvent): void {
    const state = this.state.get();
    if (EPHEMERAL_EVENTS.has(event.type) || typeof event.seq !== "number") {
      if (event.type === "room.media_reconnect") {
        this.options.onMediaReconnect?.();
        return;
      }
      if (state) this.state.set(applyEvent(state, event, this.options.selfId));
      return;
    }
    if (!state || this.awaitingSnapshot) {
      this.pending.set(event.seq, event);
      return;
    }
    if (event.seq <= state.seq) return; // a duplicate or older than what we hold
    this.pending.set(event.seq, event);
    this.drain();
  }

  /** Drop the buffered events and timers (when leaving the room). */
  dispose(): void {
    this.clearPending();
  }

  private clearPending(): void {
    this.pending.clear();
    if (this.gapTimer !== null) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  private drain(): void {
    let state = this.state.get();
    if (!state) return;
    const start = state;
    const notices: (() => void)[] = [];
    for (let next = this.pending.get(state.seq + 1); next; next = this.pending.get(state.seq + 1)) {
      this.pending.delete(next.seq as number);
      const before = state.room.participants.find((p) => p.user_id === this.options.selfId);
      state = applyEvent(state, next, this.options.selfId);
      notices.push(...this.selfNotices(next, before?.role ?? null));
    }
    if (state !== start) this.state.set(state);
    for (const notice of notices) notice();
    if (this.pending.size === 0) {
      if (this.gapTimer !== null) clearTimeout(this.gapTimer);
      this.gapTimer = null;
    } else if (this.gapTimer === null) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        if (this.pending.size === 0) return;
        this.awaitingSnapshot = true;
        this.clearPending();
        this.options.onResync("gap", this.seq);
      }, this.reorderWindowMs);
    }
  }

  private selfNotices(event: RoomEvent, roleBefore: Role | null): (() => void)[] {
    const self = this.options.selfId;
    if (event.type === "room.ended") return [() => this.options.onClosed?.("ended")];
    if (event.type === "room.removed" && event.user_id === self) return [() => this.options.onClosed?.("removed")];
    if (event.type === "room.role_changed" && event.user_id === self && event.role) {
      const role = event.role;
      const previous = event.previous_role ?? roleBefore ?? "listener";
      if (role !== previous) return [() => this.options.onSelfRoleChange?.(role, previous)];
    }
    return [];
  }
}
