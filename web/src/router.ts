// Hash routes: #/ hallway, #/room/ID, #/profile, #/invites, #/search, #/people/ID,
// #/connections, #/notifications, #/met (all rooms) and #/met/ROOM (one room).
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
  | { name: "met"; roomId?: string };

const SIMPLE = ["profile", "invites", "search", "connections", "notifications"] as const;

/** The route a location hash names (unknown hashes go to the hallway). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const room = /^\/room\/([\w-]+)$/.exec(path);
  if (room?.[1]) return { name: "room", roomId: room[1] };
  const person = /^\/people\/([\w-]+)$/.exec(path);
  if (person?.[1]) return { name: "person", userId: person[1] };
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
    case "hallway":
      return "#/";
    default:
      return `#/${route.name}`;
  }
}

export const route = new Observable<Route>(parseRoute(typeof location === "undefined" ? "" : location.hash));

if (typeof window !== "undefined") {
  window.addEventListener("hashchange", () => route.set(parseRoute(location.hash)));
}

/** Go to a route. */
export function navigate(next: Route): void {
  location.hash = routeHash(next);
}
