// Mi Talk service worker: precaches the built shell (the list is written in at build time)
// and answers navigations from the cache when offline. It never touches /api/ (the API and its
// WebSockets always go to the network) and never caches anything at run time.
const CACHE = "mitalk-shell-__VERSION__";
const SHELL = __PRECACHE__;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("mitalk-shell-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/healthz") return;
  if (request.mode === "navigate") {
    // Network first, so a new deploy shows at once; the cached shell when offline.
    event.respondWith(fetch(request).catch(() => caches.match("/index.html").then((hit) => hit || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
