import { describe, expect, it } from "vitest";
import { parseRoute, sharedRoomHash } from "../src/router";

describe("share links", () => {
  it("open the room they name", () => {
    expect(sharedRoomHash("/rooms/r_abc-123")).toBe("#/room/r_abc-123");
    expect(sharedRoomHash("/rooms/r_abc-123/")).toBe("#/room/r_abc-123");
    expect(parseRoute(sharedRoomHash("/rooms/r1") ?? "")).toEqual({ name: "room", roomId: "r1" });
  });
  it("leave every other path alone", () => {
    expect(sharedRoomHash("/")).toBeNull();
    expect(sharedRoomHash("/rooms/")).toBeNull();
    expect(sharedRoomHash("/rooms/a/b")).toBeNull();
    expect(sharedRoomHash("/rooms/<script>")).toBeNull();
  });
});
