// Browser benchmark of the web client: what a person on a phone waits for (bench/web.py runs it).
//
//   node web/e2e/bench.mjs CONFIG.json     (bench/web.py writes CONFIG, runs this inside its
//                                           network namespace and reads CONFIG.resultFile)
//
// 1. Page load at phone size: navigation start -> the sign-in screen's phone input shown and
//    enabled (the frame after it is), with a fresh profile (cold: no HTTP cache, no service
//    worker) and again in the same profile once the service worker controls the page (warm).
//    Bytes from the Performance API (navigation + resource entries).
// 2. Join to first sound: A (fake microphone, 440 Hz) speaks in a room; B taps the room's card
//    in the hallway (that is Join) and the time runs from that tap (the click event's
//    timestamp) to the first 10 ms in which an AnalyserNode on B's inbound track sees the tone,
//    with the app's own steps in between (resource timing of its fetches, ICE gathering, the
//    connection state, the first RTP packet, getStats energy). B leaves and joins again.
// 3. Stage move: A's page asks the API to bring B on stage (POST /speakers, the call A's menu
//    makes) and the time runs until A hears B; B unmutes with its microphone button as soon as
//    its page shows it on stage (speakers arrive muted), as fast as the automation can.
//
// Every time is read in one page's own clock (performance.now()), so no two clocks are mixed
// in a figure; progress goes to stdout (bench/web.py forwards it to stderr).

import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { BASE_FLAGS, PHONE, WAIT_MS, log, main, waitFor } from './lib.mjs';

const PHONE_A = '+4915190000101';
const PHONE_B = '+4915190000102';
const ROOM_TITLE = 'Browser bench';

// Sign-in screen probe: when the phone input is in the document, enabled and laid out, and the
// first animation frame after that (when it is on the screen).
const LOAD_PROBE = `(() => {
  if (window.__benchLoad) return;
  const probe = (window.__benchLoad = { readyAt: null, shownAt: null });
  const check = () => {
    if (probe.readyAt !== null) return true;
    const input = document.querySelector('[data-testid="phone-input"]');
    if (!input || input.disabled || input.getClientRects().length === 0) return false;
    if (getComputedStyle(input).visibility === 'hidden') return false;
    probe.readyAt = performance.now();
    requestAnimationFrame(() => { probe.shownAt = performance.now(); });
    return true;
  };
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})();`;

// Media probe: watches the page's RTCPeerConnections (recorded by lib.mjs's init script) from
// arm() on, every 5 ms: connection and gathering states, an AnalyserNode per inbound audio
// track (RMS of the last 512 samples), and every 20 ms getStats (first packet, energy).
const MEDIA_PROBE = `(() => {
  if (window.__bench) return;
  const bench = (window.__bench = { lastClick: null });
  document.addEventListener('click', (event) => { bench.lastClick = event.timeStamp; }, true);
  let timer = null;
  let context = null;
  bench.arm = ({ fresh = true, threshold = 0.02, statsThreshold = 0.01 } = {}) => {
    if (timer) clearInterval(timer);
    performance.clearResourceTimings();
    performance.setResourceTimingBufferSize(2000);
    const pcs = (window.__e2e && window.__e2e.pcs) || [];
    const from = fresh ? pcs.length : 0;
    const m = (bench.m = {
      armedAt: performance.now(), analyser: null, heardAt: null, heardRms: 0, statsHeardAt: null,
      firstPacketAt: null, connectedAt: null, gatheredAt: null, pcCreatedAt: null, marks: {},
    });
    if (!context) context = new AudioContext();
    if (context.state !== 'running') context.resume().catch(() => undefined);
    const taps = new Map();
    const energy = new Map();
    let lastStats = 0;
    let statsBusy = false;
    const data = new Float32Array(512);
    const tick = () => {
      const now = performance.now();
      const live = pcs.slice(from).filter((pc) => pc.connectionState !== 'closed');
      m.analyser = context.state === 'running';
      for (const pc of live) {
        if (m.pcCreatedAt === null) m.pcCreatedAt = now;
        if (m.gatheredAt === null && pc.iceGatheringState === 'complete') m.gatheredAt = now;
        if (m.connectedAt === null && pc.connectionState === 'connected') m.connectedAt = now;
        for (const receiver of pc.getReceivers()) {
          const track = receiver.track;
          if (!track || track.kind !== 'audio' || track.readyState !== 'live' || taps.has(track)) continue;
          const analyser = context.createAnalyser();
          analyser.fftSize = data.length;
          context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
          taps.set(track, analyser);
        }
      }
      if (m.heardAt === null && m.analyser) {
        for (const analyser of taps.values()) {
          analyser.getFloatTimeDomainData(data);
          let sum = 0;
          for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
          const rms = Math.sqrt(sum / data.length);
          if (rms > threshold) { m.heardAt = now; m.heardRms = rms; break; }
        }
      }
      if (!statsBusy && now - lastStats >= 20 && (m.firstPacketAt === null || m.statsHeardAt === null)) {
        statsBusy = true;
        lastStats = now;
        Promise.all(live.map((pc) => pc.getStats())).then((reports) => {
          const at = performance.now();
          for (const report of reports) report.forEach((s) => {
            if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
            if (m.firstPacketAt === null && s.packetsReceived > 0) m.firstPacketAt = at;
            const before = energy.get(s.id);
            energy.set(s.id, { e: s.totalAudioEnergy || 0, d: s.totalSamplesDuration || 0 });
            if (!before || m.statsHeardAt !== null) return;
            const seconds = (s.totalSamplesDuration || 0) - before.d;
            if (seconds > 0 && Math.sqrt(Math.max(0, (s.totalAudioEnergy || 0) - before.e) / seconds) > statsThreshold) m.statsHeardAt = at;
          });
        }).catch(() => undefined).finally(() => { statsBusy = false; });
      }
    };
    timer = setInterval(tick, 5);
    tick();
    return m.armedAt;
  };
  bench.disarm = () => { if (timer) clearInterval(timer); timer = null; };
  // The start of the newest fetch whose URL ends with one of the given paths (after arm()).
  bench.fetchStart = (suffix) => {
    const hits = performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.endsWith(suffix));
    return hits.length ? hits[hits.length - 1].startTime : null;
  };
})();`;

/** Performance figures of the page's current document, once the sign-in input is shown. */
async function pageLoad(page) {
  await waitFor('the sign-in phone input (shown and enabled)', () =>
    page.evaluate(() => window.__benchLoad && window.__benchLoad.shownAt !== null && document.readyState === 'complete'));
  // Chunks the screen imports later (and icons) land in the entries: 500 ms without requests.
  await page.waitForLoadState('networkidle');
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    const shell = resources.filter((e) => !new URL(e.name).pathname.startsWith('/api/'));
    const api = resources.filter((e) => new URL(e.name).pathname.startsWith('/api/'));
    const sum = (entries, key) => entries.reduce((total, e) => total + (e[key] || 0), 0);
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      readyMs: window.__benchLoad.readyAt,
      shownMs: window.__benchLoad.shownAt,
      fcpMs: fcp ? fcp.startTime : null,
      responseEndMs: nav.responseEnd,
      domContentLoadedMs: nav.domContentLoadedEventEnd,
      controlled: Boolean(navigator.serviceWorker && navigator.serviceWorker.controller),
      shellTransferBytes: nav.transferSize + sum(shell, 'transferSize'),
      shellEncodedBytes: nav.encodedBodySize + sum(shell, 'encodedBodySize'),
      shellDecodedBytes: nav.decodedBodySize + sum(shell, 'decodedBodySize'),
      apiTransferBytes: sum(api, 'transferSize'),
      shellRequests: 1 + shell.length,
      apiRequests: api.length,
      files: [nav, ...shell].map((e) => ({ path: new URL(e.name).pathname, transfer: e.transferSize, encoded: e.encodedBodySize })),
    };
  });
}

/** Cold and warm loads, each repetition in a fresh browser profile (a new context). */
async function measureLoads(run, reps) {
  const browser = await chromium.launch({ executablePath: run.config.chromium, args: BASE_FLAGS, timeout: WAIT_MS });
  const loads = [];
  try {
    for (let i = 0; i < reps; i++) {
      const context = await browser.newContext({ ...PHONE, baseURL: run.config.base });
      context.setDefaultTimeout(WAIT_MS);
      await context.addInitScript({ content: LOAD_PROBE });
      const page = await context.newPage();
      let fromWorker = 0;
      page.on('response', (response) => { if (response.fromServiceWorker()) fromWorker += 1; });
      await page.goto('/');
      const cold = await pageLoad(page);
      cold.fromServiceWorker = fromWorker;
      // The worker registers on "load", precaches the shell, then claims the page.
      await waitFor('the service worker to control the page', () =>
        page.evaluate(() => navigator.serviceWorker.ready.then(() => Boolean(navigator.serviceWorker.controller))));
      fromWorker = 0;
      await page.goto('/');
      const warm = await pageLoad(page);
      warm.fromServiceWorker = fromWorker;
      if (!warm.controlled) throw new Error('the warm load was not controlled by the service worker');
      log('load', `#${i + 1}: cold ${cold.shownMs.toFixed(0)} ms (${(cold.shellTransferBytes / 1024).toFixed(0)} KiB), warm ${warm.shownMs.toFixed(0)} ms (${(warm.shellTransferBytes / 1024).toFixed(0)} KiB, ${warm.fromServiceWorker} from the worker)`);
      if (i === 0) log('load', `cold files: ${cold.files.map((f) => `${f.path} ${f.transfer}`).join(', ')}`);
      loads.push({ cold, warm });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return loads;
}

/** Join to first sound: B taps the room's card, hears A; leaves; R times. */
async function measureJoins(b, roomId, reps) {
  const card = b.page.locator(`[data-testid="room-card"][data-room-id="${roomId}"]`);
  const joins = [];
  for (let i = 0; i < reps; i++) {
    await b.see(card, "the card of A's room in the hallway");
    await b.page.waitForTimeout(500); // the hallway settles, the previous seat is gone
    await b.page.evaluate(() => window.__bench.arm({ fresh: true }));
    await card.click();
    const m = await b.until("B's analyser to hear A's tone", () =>
      b.page.evaluate(() => (window.__bench.m.heardAt !== null && window.__bench.m.statsHeardAt !== null ? window.__bench.m : null)), { every: 50 });
    const steps = await b.page.evaluate((id) => ({
      tap: window.__bench.lastClick,
      join: window.__bench.fetchStart(`/rooms/${id}/join`),
      listen: window.__bench.fetchStart(`/rooms/${id}/media/listen`),
      answer: window.__bench.fetchStart(`/rooms/${id}/media/answer`),
    }), roomId);
    if (steps.tap === null || steps.tap < m.armedAt) throw await b.failure('the tap on the room card was not seen by the page');
    const since = (t) => (t === null ? null : t - steps.tap);
    const join = {
      heardMs: since(m.heardAt),
      statsHeardMs: since(m.statsHeardAt),
      joinRequestMs: since(steps.join),
      listenRequestMs: since(steps.listen),
      gatheredMs: since(m.gatheredAt),
      answerRequestMs: since(steps.answer),
      connectedMs: since(m.connectedAt),
      firstPacketMs: since(m.firstPacketAt),
      heardFromJoinRequestMs: steps.join === null ? null : m.heardAt - steps.join,
      analyserRms: m.heardRms,
    };
    b.log(`join #${i + 1}: heard ${join.heardMs.toFixed(0)} ms after the tap (POST join +${join.joinRequestMs?.toFixed(0)}, listen +${join.listenRequestMs?.toFixed(0)}, gathered +${join.gatheredMs?.toFixed(0)}, answer +${join.answerRequestMs?.toFixed(0)}, connected +${join.connectedMs?.toFixed(0)}, first packet +${join.firstPacketMs?.toFixed(0)}, getStats energy +${join.statsHeardMs?.toFixed(0)})`);
    joins.push(join);
    await b.page.evaluate(() => window.__bench.disarm());
    await b.tap('leave-room', 'the leave button');
    await b.until("B's page to hang up", async () => (await b.inboundAudio(50)).streams === 0);
    // Leaving ends on the room's "people you met" page once the server confirmed: go to the
    // hallway only after that, or the late navigation takes B away from it again.
    await b.until("B's page to show the people met", () => b.page.evaluate(() => location.hash.startsWith('#/met/')));
    await b.tap('nav-hallway', 'the hallway tab');
  }
  return joins;
}

/** Stage move: A's page brings B on stage; B unmutes when shown on stage; until A hears B. */
async function measureStageMoves(a, b, roomId, bId, reps) {
  const moves = [];
  const bTile = b.participant(bId);
  for (let i = 0; i < reps; i++) {
    // Only A is on stage again (the mix leaves A out): A hears nobody, once the mix drained.
    await a.until('A to hear silence (only A on stage)', async () => {
      const now = await a.inboundAudio(300);
      return now.packets > 0 && now.rms < 0.003;
    }, { every: 0 });
    await b.page.evaluate(() => window.__bench.arm({ fresh: true }));
    await a.page.evaluate(() => window.__bench.arm({ fresh: false }));
    const call = await a.page.evaluate(async ({ room, user }) => {
      const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?mitalk_csrf=([^;]*)/) || [])[1] || '';
      const start = performance.now();
      const response = await fetch(`/api/v1/rooms/${room}/speakers`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) },
        body: JSON.stringify({ user_id: user }),
      });
      return { start, end: performance.now(), status: response.status, body: await response.text() };
    }, { room: roomId, user: bId });
    if (call.status >= 300) throw await a.failure(`POST /speakers answered ${call.status}: ${call.body}`);
    // B, shown on stage (and muted, as speakers arrive), taps the microphone button.
    const bStart = await b.page.evaluate(() => performance.now());
    await b.until("B's tile to say speaker", async () => (await bTile.getAttribute('data-role')) === 'speaker', { every: 10 });
    const bOnStage = await b.page.evaluate(() => performance.now());
    if ((await bTile.getAttribute('data-muted')) === 'true') await b.tap('mic-toggle', "B's microphone button (B arrives muted)");
    const bUnmuted = await b.page.evaluate(() => window.__bench.lastClick);
    const bOrigin = await b.page.evaluate(() => performance.timeOrigin);
    const heard = await a.until("A's analyser to hear B", () =>
      a.page.evaluate(() => (window.__bench.m.heardAt !== null ? window.__bench.m : null)), { every: 50 });
    const bm = await b.until("B's stage connection to be up", () =>
      b.page.evaluate(() => (window.__bench.m.connectedAt !== null ? window.__bench.m : null)), { every: 50 });
    const aOrigin = await a.page.evaluate(() => performance.timeOrigin);
    const move = {
      heardMs: heard.heardAt - call.start,
      // Across the two pages' clocks (both from the system clock through timeOrigin).
      unmuteToHeardMs: aOrigin + heard.heardAt - (bOrigin + bUnmuted),
      apiCallMs: call.end - call.start,
      // B's steps in B's own clock, from when B's page started looking (after A's call returned).
      bShownOnStageMs: bOnStage - bStart,
      bUnmuteTapMs: bUnmuted - bStart,
      bStageConnectedMs: bm.connectedAt - bStart,
      bGatheredMs: bm.gatheredAt === null ? null : bm.gatheredAt - bStart,
    };
    a.log(`stage move #${i + 1}: A hears B ${move.heardMs.toFixed(0)} ms after the API call (call ${move.apiCallMs.toFixed(0)} ms; after it B shown on stage +${move.bShownOnStageMs.toFixed(0)}, unmute tap +${move.bUnmuteTapMs.toFixed(0)} (A hears B ${move.unmuteToHeardMs.toFixed(0)} ms after it), gathered +${move.bGatheredMs?.toFixed(0)}, connected +${move.bStageConnectedMs.toFixed(0)})`);
    moves.push(move);
    await a.page.evaluate(() => window.__bench.disarm());
    await b.page.evaluate(() => window.__bench.disarm());
    // Back to the audience (the menu's "move to audience" call), and B hears A again.
    await a.page.evaluate(async ({ room, user }) => {
      const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?mitalk_csrf=([^;]*)/) || [])[1] || '';
      const response = await fetch(`/api/v1/rooms/${room}/speakers/${user}`, {
        method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': decodeURIComponent(csrf) },
      });
      if (!response.ok) throw new Error(`DELETE /speakers answered ${response.status}`);
    }, { room: roomId, user: bId });
    await b.until("B's tile to say listener", async () => (await bTile.getAttribute('data-role')) === 'listener');
    await b.hearsSound("A's voice again, from the audience");
  }
  return moves;
}

main(async (run) => {
  const { toneA, toneB, reps } = run.config;

  log('run', `page loads: ${reps} cold + warm, each in a fresh profile`);
  const loads = await measureLoads(run, reps);

  // A speaks from the start (microphone granted up front), as in room.mjs.
  const a = await run.person('A', { mic: toneA, micGranted: true });
  await a.context.addInitScript({ content: MEDIA_PROBE });
  await a.signIn(PHONE_A);
  await a.see(a.id('nav-hallway'), 'the app (signed in as a member)');
  await a.tap('start-room', 'the start-room button');
  await (await a.see(a.id('room-title-input'), 'the new-room form')).fill(ROOM_TITLE);
  await a.tap('create-room', 'the create-room button');
  await a.see(a.id('room-title'), 'the room A started');
  const aId = (await a.me()).id;
  const aTile = await a.see(a.participant(aId), "A's own tile on stage");
  if ((await aTile.getAttribute('data-muted')) === 'true') await a.tap('mic-toggle', "A's microphone button");
  await a.until("A's tile to show A speaking", async () => (await aTile.getAttribute('data-speaking')) === 'true');
  const roomId = await a.page.evaluate(async (title) => {
    const rooms = await (await fetch('/api/v1/rooms')).json();
    const list = Array.isArray(rooms) ? rooms : rooms.rooms || rooms.items || [];
    return (list.find((room) => room.title === title) || {}).id;
  }, ROOM_TITLE);
  if (!roomId) throw await a.failure('GET /api/v1/rooms does not list the room A started');

  // B listens as a listener does: microphone not allowed yet (mDNS ICE candidates).
  const b = await run.person('B', { mic: toneB });
  await b.context.addInitScript({ content: MEDIA_PROBE });
  await b.signIn(PHONE_B);
  await b.see(b.id('nav-hallway'), 'the hallway (signed in as a member)');
  const bId = (await b.me()).id;

  log('run', `join to first sound: ${reps} joins`);
  const joins = await measureJoins(b, roomId, reps);

  // B joins once more and stays; allowing the microphone is B's answer to the browser's question.
  await b.page.locator(`[data-testid="room-card"][data-room-id="${roomId}"]`).click();
  await b.hearsSound("A's voice (B stays for the stage moves)");
  await b.grantMicrophone();
  log('run', `stage moves: ${reps}`);
  const moves = await measureStageMoves(a, b, roomId, bId, reps);

  writeFileSync(run.config.resultFile, JSON.stringify({ browser: a.browser.version(), loads, joins, moves }, null, 2));
});
