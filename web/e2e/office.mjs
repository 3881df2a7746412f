// The web client across the test internet, over HTTPS, from an office that passes only TCP 443:
// A (at home, behind NAT) signs in, starts a room and speaks; B (in the office: every UDP packet
// dropped) signs in and joins over https/wss, hears A, and B's audio provably comes through
// TURN over TLS: the selected candidate pair's local candidate is a relay reached over TLS.
//
// Each browser runs in its host's network namespace (the config's chromium paths are wrappers
// that `ip netns exec` Debian's chromium) with a HOME of its own whose NSS database trusts the
// run's test CA; the public name is pinned to the server's address with --host-resolver-rules.
// Nothing ignores certificate errors.
//
//   node web/e2e/office.mjs CONFIG.json     (tests/internet/test_office_browser.py runs it)

import { main } from './lib.mjs';

const PHONE_A = '+4915190000101';
const PHONE_B = '+4915190000102';

/** The selected ICE candidate pair of the page's open connections: local and remote ends. */
async function selectedPairs(person) {
  return person.page.evaluate(async () => {
    const found = [];
    for (const pc of (window.__e2e && window.__e2e.pcs) || []) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = stats.get(s.selectedCandidatePairId);
        const local = stats.get(pair.localCandidateId);
        const remote = stats.get(pair.remoteCandidateId);
        found.push({
          state: pair.state,
          local: { type: local.candidateType, relayProtocol: local.relayProtocol || null, url: local.url || null, address: local.address },
          remote: { type: remote.candidateType, address: remote.address, port: remote.port },
        });
      });
    }
    return found;
  });
}

main(async (run) => {
  const { home, office, toneA, hzA } = run.config;
  run.operator('admin', 'phase', 'open');

  const a = await run.person('A', { mic: toneA, micGranted: true, ...home });
  await a.signIn(PHONE_A);
  await a.see(a.id('nav-hallway'), 'the app over https (signed in as a member)');
  if (!a.page.url().startsWith('https://')) throw await a.failure(`A's page is not https: ${a.page.url()}`);
  await a.tap('start-room', 'the start-room button');
  await (await a.see(a.id('room-title-input'), 'the new-room form')).fill('Across the internet');
  await a.tap('create-room', 'the create-room button');
  await a.see(a.id('room-title'), 'the room A started');
  const aTile = await a.see(a.participant((await a.me()).id), "A's own tile on stage");
  if ((await aTile.getAttribute('data-muted')) === 'true') await a.tap('mic-toggle', "A's microphone button");
  await a.until("A's tile to show A speaking", async () => (await aTile.getAttribute('data-speaking')) === 'true');

  const b = await run.person('B', office);
  await b.signIn(PHONE_B);
  await b.see(b.id('nav-hallway'), 'the hallway over https, from the office');
  const card = await b.see(b.page.locator('[data-testid="room-card"]'), "the card of A's room");
  await card.first().click();
  await b.see(b.id('room-title'), 'the room (its live state came over wss)');
  await b.hearsSound("A's voice");
  await b.hearsTone(hzA, 'A');

  const pairs = await selectedPairs(b);
  b.log(`selected candidate pairs: ${JSON.stringify(pairs)}`);
  if (pairs.length !== 1) throw await b.failure(`expected one connected audio connection, found ${pairs.length}`);
  const [pair] = pairs;
  if (pair.local.type !== 'relay' || pair.local.relayProtocol !== 'tls') {
    throw await b.failure(`B's audio does not come through TURN over TLS: ${JSON.stringify(pair)}`);
  }
  if (!pair.local.url || !pair.local.url.startsWith('turns:')) {
    throw await b.failure(`B's relay candidate was not gathered from a turns: URL: ${JSON.stringify(pair)}`);
  }
  b.log(`hears A through ${pair.local.url} (relay ${pair.local.address}) to ${pair.remote.address}:${pair.remote.port}`);
});
