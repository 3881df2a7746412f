// Hash routes: #/ hallway, #/room/ID, #/profile, #/invites, #/search, #/people/ID,
// #/connections, #/notifications, #/settings, #/met (all rooms), #/met/ROOM (one room) and
// #/cards/ID (one contact card).
import { Observable } from "./store/observable";

export type Route =
  | { name: "hallway" }
  | { name: "room"; roomId: string }
  | { name: "profile" }
  | { name: "invites" }
  | { name: "search" }
  | { name: "person"; userId: string }
  | { name: "connections" }
  | { name: "notifications" }
  | { name: "met"; roomId?: string }
  | { name: "card"; cardId: string }
  | { name: "follows"; userId: string; which: "followers" | "following" }
  | { name: "settings" };

const SIMPLE = ["profile", "invites", "search", "connections", "notifications", "settings"] as const;

/** The route a location hash names (unknown hashes go to the hallway). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const room = /^\/room\/([\w-]+)$/.exec(path);
  if (room?.[1]) return { name: "room", roomId: room[1] };
  const follows = /^\/people\/([\w-]+)\/(followers|following)$/.exec(path);
  if (follows?.[1] && follows[2]) {
    return { name: "follows", userId: follows[1], which: follows[2] as "followers" | "following" };
  }
  const person = /^\/people\/([\w-]+)$/.exec(path);
  if (person?.[1]) return { name: "person", userId: person[1] };
  const card = /^\/cards\/([\w-]+)$/.exec(path);
  if (card?.[1]) return { name: "card", cardId: card[1] };
  const met = /^\/met(?:\/([\w-]+))?$/.exec(path);
  if (met) return met[1] ? { name: "met", roomId: met[1] } : { name: "met" };
  for (const name of SIMPLE) if (path === `/${name}`) return { name };
  return { name: "hallway" };
}

/** The hash of a route. */
export function routeHash(route: Route): string {
  switch (route.name) {
    case "room":
      return `#/room/${route.roomId}`;
    case "person":
      return `#/people/${route.userId}`;
    case "met":
      return route.roomId ? `#/met/${route.roomId}` : "#/met";
    case "card":
      return `#/cards/${route.cardId}`;
    case "follows":
      return `#/people/${route.userId}/${route.which}`;
    case "hallway":
      return "#/";
    default:
      return `#/${route.name}`;
  }
}

/** The hash a room's share link (`/rooms/ID`, served with its link preview) opens, else null. */
export function sharedRoomHash(pathname: string): string | null {
  const shared = /^\/rooms\/([\w-]+)\/?$/.exec(pathname);
  return shared?.[1] ? routeHash({ name: "room", roomId: shared[1] }) : null;
}

/** A room's share link: a page link previews can read (the room itself lives at its hash). */
export function shareLink(roomId: string): string {
  return `${location.origin}/rooms/${encodeURIComponent(roomId)}`;
}

if (typeof location !== "undefined") {
  // Opened from a share link: continue at the room's hash, on the app's own page.
  const hash = sharedRoomHash(location.pathname);
  if (hash) history.replaceState(null, "", `/${hash}`);
}

export const route = new Observable<Route>(parseRoute(typeof location === "undefined" ? "" : location.hash));

if (typeof window !== "undefined") {
  window.addEventListener("hashchange", () => route.set(parseRoute(location.hash)));
}

/** Go to a route. */
export function navigate(next: Route): void {
  location.hash = routeHash(next);
}
