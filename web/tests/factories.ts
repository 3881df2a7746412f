// Small factories for room snapshots and events shaped as the server sends them.
import type { Participant, Room } from "../src/api/client";

export const ROOM_ID = "r-1";
let clock = Date.parse("2025-01-01T12:00:00Z");
const at = () => new Date((clock += 1000)).toISOString();

export function participant(userId: string, role: Participant["role"] = "listener", extra: Partial<Participant> = {}): Participant {
  return { user_id: userId, name: `Person ${userId}`, role, hand_raised: false, muted: role === "listener", ...extra };
}

export function room(participants: Participant[], seq = 3): Room {
  const speakers = participants.filter((p) => p.role !== "listener").length;
  return {
    id: ROOM_ID,
    title: "Hiring in fintech",
    topics: ["fintech"],
    visibility: "open",
    host_id: "host",
    status: "live",
    created_at: "2025-01-01T11:00:00Z",
    ended_at: null,
    starts_at: null,
    started_at: "2025-01-01T11:00:00Z",
    rsvp_count: 0,
    rsvped: false,
    listener_count: participants.length - speakers,
    speaker_count: speakers,
    seq,
    participants,
  };
}

const recipients = { scope: "room", user_ids: [] };

export const events = {
  joined: (seq: number, p: Participant) => ({ type: "room.participant_joined", room_id: ROOM_ID, seq, at: at(), recipients, participant: p }),
  left: (seq: number, userId: string) => ({ type: "room.participant_left", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId }),
  handRaised: (seq: number, userId: string) => ({ type: "room.hand_raised", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId }),
  handLowered: (seq: number, userId: string) => ({ type: "room.hand_lowered", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId }),
  roleChanged: (seq: number, userId: string, role: Participant["role"], previous: Participant["role"]) => ({
    type: "room.role_changed", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId, role,
    previous_role: previous, hand_raised: false, muted: role === "listener", by: "host",
  }),
  muted: (seq: number, userId: string) => ({ type: "room.muted", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId, by: "host" }),
  unmuted: (seq: number, userId: string) => ({ type: "room.unmuted", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId }),
  removed: (seq: number, userId: string) => ({ type: "room.removed", room_id: ROOM_ID, seq, at: at(), recipients, user_id: userId, by: "host" }),
  ended: (seq: number) => ({ type: "room.ended", room_id: ROOM_ID, seq, at: at(), recipients, reason: "ended_by_moderator", by: "host" }),
  activeSpeaker: (userId: string | null) => ({ type: "room.active_speaker", room_id: ROOM_ID, at: at(), recipients, user_id: userId }),
  mediaReconnect: () => ({ type: "room.media_reconnect", room_id: ROOM_ID, at: at(), recipients, reason: "media_restarted" }),
};
