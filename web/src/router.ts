// Hash routes: #/ hallway, #/room/ID, #/profile, #/invites.
import { Observable } from "./store/observable";

export type Route =
  | { name: "hallway" }
  | { name: "room"; roomId: string }
  | { name: "profile" }
  | { name: "invites" };

/** The route a location hash names (unknown hashes go to the hallway). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const room = /^\/room\/([\w-]+)$/.exec(path);
  if (room?.[1]) return { name: "room", roomId: room[1] };
  if (path === "/profile") return { name: "profile" };
  if (path === "/invites") return { name: "invites" };
  return { name: "hallway" };
}

/** The hash of a route. */
export function routeHash(route: Route): string {
  switch (route.name) {
    case "room":
      return `#/room/${route.roomId}`;
    case "profile":
      return "#/profile";
    case "invites":
      return "#/invites";
    default:
      return "#/";
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
