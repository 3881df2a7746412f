// A room's share link in real browsers against a real `mitalk serve` (no media): H opens a room
// through the API. A link-preview bot fetching /rooms/ID reads the room's title and a German
// line (its Accept-Language) in the OpenGraph tags; a closed room's link gives it nothing. V,
// signed in, opens the link in Chromium and lands in the room: the app's page continues at
// #/room/ID and shows the room's title.
//
//   node web/e2e/share.mjs CONFIG.json     (tests/webclient/test_share_link.py runs it)

import { chromium } from 'playwright-core';
import { BASE_FLAGS, main, Person, PHONE, signInByApi, WAIT_MS } from './lib.mjs';

const PHONE_H = '+4915190000071';
const PHONE_C = '+4915190000072';
const PHONE_V = '+4915190000073';
const TITLE = 'Fintech & Payments: "what\'s next"';

/** A room made through the API by a member signed in with ``phone``. */
async function roomBy(run, phone, body) {
  const { token } = await signInByApi(run, phone);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await fetch(`${run.config.base}/api/v1/me/profile`, { method: 'PATCH', headers, body: JSON.stringify({ name: `Host ${phone.slice(-2)}` }) });
  const made = await fetch(`${run.config.base}/api/v1/rooms`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (made.status !== 201) throw new Error(`POST /rooms: ${made.status} ${await made.text()}`);
  return made.json();
}

/** What a link-preview bot reads at ``path``: the og: tags, unescaped. */
async function preview(run, path) {
  const page = await (await fetch(`${run.config.base}${path}`, {
    headers: { 'user-agent': 'facebookexternalhit/1.1', 'accept-language': 'de-DE,de;q=0.9' },
  })).text();
  const unescape = (s) => s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const tags = {};
  for (const [, name, content] of page.matchAll(/<meta property="(og:[a-z_]+)" content="([^"]*)"/g)) tags[name] = unescape(content);
  return tags;
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const open = await roomBy(run, PHONE_H, { title: TITLE, topics: ['fintech'], visibility: 'open' });
  const closed = await roomBy(run, PHONE_C, { title: 'Salary review', visibility: 'closed' });

  const seen = await preview(run, `/rooms/${open.id}`);
  if (seen['og:title'] !== TITLE) throw new Error(`the preview's title: ${JSON.stringify(seen)}`);
  if (!seen['og:description']?.startsWith('Ein Live-Audio-Raum auf Mi Talk.')) throw new Error(`the preview's line: ${JSON.stringify(seen)}`);
  const hidden = await preview(run, `/rooms/${closed.id}`);
  if (hidden['og:title'] !== 'Mi Talk' || JSON.stringify(hidden).includes('Salary')) throw new Error(`a closed room's preview: ${JSON.stringify(hidden)}`);

  const browser = await chromium.launch({ executablePath: run.config.chromium, args: BASE_FLAGS, timeout: WAIT_MS });
  run.people.push({ name: 'browsers', browser, page: null });
  const context = await browser.newContext({ ...PHONE, locale: 'en-US', baseURL: run.config.base });
  context.setDefaultTimeout(WAIT_MS);
  const v = new Person(run, 'V', browser, context, await context.newPage());
  await v.signIn(PHONE_V, { name: 'Vera Visitor' });
  await v.page.goto(`/rooms/${open.id}`);
  await v.until('the link to continue at the room\'s hash', async () =>
    new URL(v.page.url()).pathname === '/' && new URL(v.page.url()).hash === `#/room/${open.id}`);
  const title = await v.see(v.id('room-title'), 'the room opened from its share link');
  if ((await title.innerText()).trim() !== TITLE) throw await v.failure(`the room's title: ${await title.innerText()}`);
  v.log(`the share link opened ${v.page.url()}`);
});
