// The room store, fed through the same validation the socket uses (real generated validators).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { validateMessage } from "../src/realtime/validate";
import { RoomStore, type Role } from "../src/store/room";
import { events, participant, room } from "./factories";

const SELF = "me";

function setup(reorderWindowMs = 1000) {
  const resyncs: (number | null)[] = [];
  const roleChanges: [Role, Role][] = [];
  const closed: string[] = [];
  let reconnects = 0;
  const store = new RoomStore({
    selfId: SELF,
    reorderWindowMs,
    onResync: (_reason, lastSeq) => resyncs.push(lastSeq),
    onSelfRoleChange: (role, previous) => roleChanges.push([role, previous]),
    onMediaReconnect: () => (reconnects += 1),
    onClosed: (why) => closed.push(why),
  });
  // Every message goes through schema validation first, as from the socket.
  const send = (message: object) => {
    const valid = validateMessage(message);
    expect(valid, `schema rejected ${JSON.stringify(message)}`).not.toBeNull();
    store.receive(valid!);
  };
  store.receive({ type: "snapshot", seq: 3, room: room([participant("host", "moderator", { muted: false }), participant(SELF)], 3) });
  return { store, send, resyncs, roleChanges, closed, reconnects: () => reconnects };
}

const people = (store: RoomStore) => store.state.get()!.room.participants;
const person = (store: RoomStore, id: string) => people(store).find((p) => p.user_id === id);

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("room store", () => {
  it("applies events in seq order and keeps counts in step", () => {
    const { store, send } = setup();
    send(events.joined(4, participant("b")));
    send(events.handRaised(5, "b"));
    send(events.roleChanged(6, "b", "speaker", "listener"));
    const state = store.state.get()!;
    expect(state.seq).toBe(6);
    expect(person(store, "b")).toMatchObject({ role: "speaker", hand_raised: false, muted: false });
    expect(state.room.speaker_count).toBe(2);
    expect(state.room.listener_count).toBe(1);
  });

  it("ignores duplicates and events older than the state", () => {
    const { store, send, resyncs } = setup();
    send(events.joined(4, participant("b")));
    send(events.handRaised(5, "b"));
    send(events.handRaised(5, "b"));
    send(events.left(2, "host")); // older than the snapshot: already in it
    send(events.joined(4, participant("b", "listener", { name: "Changed" })));
    expect(store.seq).toBe(5);
    expect(person(store, "host")).toBeDefined();
    expect(person(store, "b")!.name).toBe("Person b");
    vi.advanceTimersByTime(5000);
    expect(resyncs).toEqual([]);
  });

  it("reorders events that arrive out of order within the window", () => {
    const { store, send, resyncs } = setup();
    send(events.handRaised(5, "b"));
    send(events.joined(4, participant("b")));
    // 5 could not apply before 4; both do once 4 is in.
    expect(store.seq).toBe(5);
    expect(person(store, "b")!.hand_raised).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(resyncs).toEqual([]);
  });

  it("holds a later event while the gap is open and asks for a resync when it stays open", () => {
    const { store, send, resyncs } = setup(1000);
    send(events.joined(6, participant("c")));
    expect(store.seq).toBe(3);
    expect(person(store, "c")).toBeUndefined();
    vi.advanceTimersByTime(999);
    expect(resyncs).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(resyncs).toEqual([3]);
    // Until the snapshot arrives nothing is applied; the snapshot then replaces the state.
    send(events.joined(7, participant("d")));
    expect(person(store, "d")).toBeUndefined();
    send({ type: "snapshot", seq: 7, room: room([participant("host", "moderator"), participant(SELF), participant("c"), participant("d")], 7) });
    expect(store.seq).toBe(7);
    expect(people(store).map((p) => p.user_id).sort()).toEqual(["c", "d", "host", SELF]);
    send(events.left(8, "c"));
    expect(person(store, "c")).toBeUndefined();
  });

  it("a server resync drops the buffer and waits for the snapshot", () => {
    const { store, send } = setup();
    send(events.joined(5, participant("x")));
    send({ type: "resync", reason: "missing_event" });
    send(events.joined(4, participant("y")));
    expect(store.seq).toBe(3);
    send({ type: "snapshot", seq: 10, room: room([participant(SELF)], 10) });
    expect(store.seq).toBe(10);
    expect(people(store).map((p) => p.user_id)).toEqual([SELF]);
  });

  it("applies ephemeral events without seq checks", () => {
    const { store, send, resyncs, reconnects } = setup();
    send(events.activeSpeaker("host"));
    expect(store.state.get()!.activeSpeaker).toBe("host");
    expect(store.seq).toBe(3);
    send(events.activeSpeaker(null));
    expect(store.state.get()!.activeSpeaker).toBeNull();
    send(events.mediaReconnect());
    expect(reconnects()).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(resyncs).toEqual([]);
  });

  it("tells the media layer when your own role changes, and only then", () => {
    const { send, roleChanges } = setup();
    send(events.joined(4, participant("b")));
    send(events.roleChanged(5, "b", "speaker", "listener"));
    expect(roleChanges).toEqual([]);
    send(events.roleChanged(6, SELF, "speaker", "listener"));
    expect(roleChanges).toEqual([["speaker", "listener"]]);
    send(events.roleChanged(7, SELF, "listener", "speaker"));
    expect(roleChanges).toEqual([["speaker", "listener"], ["listener", "speaker"]]);
  });

  it("a role change of yourself that arrives early is reported once it applies in order", () => {
    const { send, roleChanges, store } = setup();
    send(events.roleChanged(5, SELF, "speaker", "listener"));
    expect(roleChanges).toEqual([]);
    send(events.handRaised(4, SELF));
    expect(roleChanges).toEqual([["speaker", "listener"]]);
    expect(person(store, SELF)).toMatchObject({ role: "speaker", hand_raised: false });
  });

  it("mutes and unmutes", () => {
    const { store, send } = setup();
    send(events.muted(4, "host"));
    expect(person(store, "host")!.muted).toBe(true);
    send(events.unmuted(5, "host"));
    expect(person(store, "host")!.muted).toBe(false);
  });

  it("room.ended closes the room for everyone", () => {
    const { store, send, closed } = setup();
    send(events.activeSpeaker("host"));
    send(events.ended(4));
    const state = store.state.get()!;
    expect(state.ended).toEqual({ reason: "ended_by_moderator", by: "host" });
    expect(state.room.status).toBe("ended");
    expect(state.activeSpeaker).toBeNull();
    expect(closed).toEqual(["ended"]);
  });

  it("room.removed of someone else removes them; of yourself, closes the room for you", () => {
    const { store, send, closed } = setup();
    send(events.joined(4, participant("b")));
    send(events.removed(5, "b"));
    expect(person(store, "b")).toBeUndefined();
    expect(closed).toEqual([]);
    send(events.removed(6, SELF));
    expect(store.state.get()!.removed).toBe(true);
    expect(person(store, SELF)).toBeUndefined();
    expect(closed).toEqual(["removed"]);
  });

  it("a fresh snapshot that shows a new role of yourself moves your audio", () => {
    const { store, roleChanges } = setup();
    store.receive({ type: "snapshot", seq: 9, room: room([participant("host", "moderator"), participant(SELF, "speaker", { muted: false })], 9) });
    expect(roleChanges).toEqual([["speaker", "listener"]]);
  });
});

describe("validation", () => {
  it("drops unknown and invalid messages", () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    expect(validateMessage({ type: "room.teleported", room_id: "r" })).toBeNull();
    expect(validateMessage({ type: "room.hand_raised", room_id: "r", seq: "five", at: "x", user_id: "u" })).toBeNull();
    expect(validateMessage({ type: "room.hand_raised", room_id: "r", seq: 5, at: "x" })).toBeNull();
    expect(validateMessage({ no: "type" })).toBeNull();
    expect(validateMessage(events.handRaised(5, "u"))).not.toBeNull();
  });
});
