// The network screens, in two real browsers against a real `mitalk serve` without media: A and
// B sign in through the UI; A fills in a profile with a photo; B finds A by a skill, follows
// and asks to connect; A's bell counts up without a reload, on A's second device too, and
// reading the notice on one device clears the other's bell; A accepts; both see each other
// in their network; A schedules a room, B RSVPs and sees it under Upcoming; A starts it, B
// looks at A's profile from the room; after B blocks A, A no longer finds B in search.
//
//   node web/e2e/network.mjs CONFIG.json     (tests/webclient/test_network_screens.py runs it)

import { main, signInByApi } from './lib.mjs';

const PHONE_A = '+4915190000021';
const PHONE_B = '+4915190000022';
const PHONE_C = '+4915190000023';


/** The unread count the bell shows (its data-unread attribute). */
async function bellCount(person) {
  const value = await person.id('nav-notifications').getAttribute('data-unread', { timeout: 2000 });
  return Number(value ?? 0);
}

/** Sign in and wait for the app (the hallway tab). */
async function signInToApp(person, phone) {
  await person.signIn(phone);
  await person.see(person.id('nav-hallway'), 'the app after signing in');
  const me = await person.me();
  if (me.status !== 'active') throw await person.failure(`expected an active account in the open phase, got ${me.status}`);
  return me;
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const a = await run.person('A');
  const b = await run.person('B');
  const accountA = await signInToApp(a, PHONE_A);
  const accountB = await signInToApp(b, PHONE_B);
  // A's second device (a laptop beside the phone): its bell follows what A reads on the phone.
  const a2 = await run.person('A2');
  await signInToApp(a2, PHONE_A);

  // --- A's profile: a refused link is shown at its field, then every field and a photo. ---
  await a.tap('nav-profile', 'the profile tab');
  await (await a.see(a.id('profile-name'), 'the profile form')).fill('Ada Lovelace');
  await a.id('profile-link-0').fill('ftp://files.example.com/ada');
  await a.tap('save-profile', 'the save button (with a refused link)');
  await a.see(a.id('field-error-links'), "the server's complaint shown at the links field");
  await a.id('profile-headline').fill('Engineering lead for payment systems');
  await a.id('profile-company').fill('Analytical Engines');
  await a.id('profile-role').fill('VP Engineering');
  await a.until('the industry picker filled from the vocabulary', async () =>
    (await a.id('profile-industry').locator('option').count()) > 20);
  await a.id('profile-industry').selectOption('software_internet');
  await a.id('profile-location').fill('Berlin');
  await a.id('profile-skill-input').fill('Rust, Distributed  Systems');
  await a.id('profile-skill-input').press('Enter');
  await a.until('two skill tags', async () => (await a.id('skill-tag').count()) === 2);
  await a.id('profile-bio').fill('Building payment rails.\nMentor for new engineering managers.');
  await a.id('profile-link-0').fill('https://ada.example.com');
  await a.id('profile-open-to-mentoring').check();
  await a.id('profile-open-to-hiring').check();
  await a.id('avatar-file').setInputFiles(run.config.avatar);
  await a.see(a.id('avatar-preview'), 'the preview of the chosen photo');
  await a.tap('avatar-upload', 'the use-this-photo button');
  await a.until('the uploaded photo served by the server (/api/v1/avatars/…)', async () => {
    const src = await a.page.locator('[data-testid="avatar-current"] img').getAttribute('src', { timeout: 1000 }).catch(() => null);
    return src && src.includes('/api/v1/avatars/') ? src : null;
  });
  await a.tap('save-profile', 'the save button');
  await a.see(a.id('profile-saved'), 'the saved notice');
  if (await a.id('field-error-links').count()) throw await a.failure('the links error is still shown after a good save');
  const saved = (await a.me()).profile;
  const expected = { industry: 'software_internet', skills: ['Rust', 'Distributed Systems'], open_to: ['mentoring', 'hiring'], links: ['https://ada.example.com/'] };
  for (const [field, value] of Object.entries(expected)) {
    const got = saved[field];
    const same = Array.isArray(value) ? [...got].sort().join('|') === [...value].sort().join('|') : got === value;
    if (!same) throw await a.failure(`profile.${field} is ${JSON.stringify(got)}, expected ${JSON.stringify(value)}`);
  }
  if (!saved.avatar_url) throw await a.failure('the profile has no avatar_url after the upload');
  await a.page.evaluate(() => window.scrollTo(0, 0));
  await a.screenshot('profile-editor');
  await b.saveProfile({ name: 'Bo Chen', headline: 'Product lead, payments', company: 'Northwind' });

  // A waits in the hallway; the page must not reload from here on.
  await a.tap('nav-hallway', 'the hallway tab');
  const unreadBefore = await bellCount(a);
  await a.page.evaluate(() => { window.__e2eNoReload = true; });
  await a2.page.evaluate(() => { window.__e2eNoReload = true; });
  // A keeps their own (empty) followers list open while B follows: it must fill in live.
  await a.page.evaluate((id) => { location.hash = `#/people/${id}/followers`; }, accountA.id);
  await a.see(a.id('followers-screen'), "A's own followers list");

  // --- B finds A by a skill, opens A's page, follows and asks to connect. ---
  await b.tap('nav-search', 'the search tab');
  await (await b.see(b.id('search-skill'), 'the skill filter')).fill('rust');
  const hit = await b.see(b.page.locator(`[data-testid="search-person"][data-user-id="${accountA.id}"]`), 'A among the people with the skill "rust"');
  await b.screenshot('search');
  await hit.locator('a').click();
  await b.see(b.id('person-page'), "A's page");
  const shownName = await b.id('person-name').textContent();
  if (shownName.trim() !== 'Ada Lovelace') throw await b.failure(`A's page shows the name ${shownName}`);
  const pageText = await b.page.locator('body').innerText();
  if (pageText.replace(/\D/g, '').includes(PHONE_A.slice(3))) throw await b.failure("A's page shows A's phone number");
  await b.tap('follow', 'the follow button');
  await b.see(b.id('unfollow'), 'the following state');
  await b.until("A's follower count to say 1", async () => (await b.id('followers-link').innerText()).startsWith('1 '));
  await b.tap('followers-link', "A's followers");
  await b.see(b.page.locator(`[data-testid="follows-person"][data-user-id="${accountB.id}"]`), "B among A's followers");
  await a.see(a.page.locator(`[data-testid="follows-person"][data-user-id="${accountB.id}"]`),
    "B in A's open followers list, live (network.changed), without a reload");
  await b.page.goBack();
  await b.see(b.id('person-page'), "A's page again");
  await b.tap('connect', 'the connect button');
  await b.see(b.page.locator('[data-testid="person-page"][data-connection="pending_outgoing"]'), 'the request as pending');
  await b.see(b.id('withdraw-request'), 'the withdraw button');
  await b.screenshot('person');

  // --- A's bell counts up live; A reads the notice and accepts. ---
  await a.until(`the bell to count more than ${unreadBefore} unread without a reload`, async () => (await bellCount(a)) > unreadBefore);
  if (!(await a.page.evaluate(() => window.__e2eNoReload === true))) throw await a.failure('the page reloaded to show the notice');
  a.log(`bell shows ${await bellCount(a)} unread (was ${unreadBefore})`);
  await a2.until("the bell on A's other device to count up too", async () => (await bellCount(a2)) > unreadBefore);
  await a.tap('nav-notifications', 'the bell');
  const notice = await a.see(a.page.locator('[data-testid="notice"][data-kind="connection_request"]'), "the notice of B's request");
  const href = await notice.locator('a').getAttribute('href');
  if (href !== `#/people/${accountB.id}`) throw await a.failure(`the notice links to ${href}, expected B's page`);
  await a.screenshot('notifications');
  await a.until('the bell to count 0 once the notices were seen', async () => (await bellCount(a)) === 0);
  await a2.until("the bell on A's other device to count 0 once A read them on the phone", async () => (await bellCount(a2)) === 0);
  if (!(await a2.page.evaluate(() => window.__e2eNoReload === true))) throw await a2.failure("A's other device reloaded to clear its bell");
  await a.tap('nav-connections', 'the network tab');
  const incoming = await a.see(a.page.locator(`[data-testid="incoming-request"][data-user-id="${accountB.id}"]`), "B's request under Requests");
  await incoming.getByTestId('accept-request').click();
  await a.see(a.page.locator(`[data-testid="connection"][data-user-id="${accountB.id}"]`), 'B under Connections');
  // B still looks at A's page: "Request sent" turns into connected when A accepts, no reload.
  await b.see(b.page.locator('[data-testid="person-page"][data-connection="connected"]'), "A's page, live, once A accepted");
  await b.tap('nav-connections', 'the network tab');
  await b.see(b.page.locator(`[data-testid="connection"][data-user-id="${accountA.id}"]`), 'A under Connections');
  await b.screenshot('connections');

  // --- A schedules a room; B sees it under Upcoming and RSVPs. ---
  await a.tap('nav-hallway', 'the hallway tab');
  await a.tap('start-room', 'the start-room button');
  await (await a.see(a.id('room-title-input'), 'the new-room form')).fill('Rust in payments: lessons learned');
  await a.id('room-topics-input').fill('rust, payments');
  await a.id('room-schedule-later').check();
  const later = await a.page.evaluate(() => {
    const d = new Date(Date.now() + 3 * 3600 * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  });
  await a.id('room-starts-at').fill(later);
  await a.tap('create-room', 'the schedule button');
  await a.see(a.id('scheduled-room'), 'the scheduled room page');
  await a.see(a.id('start-scheduled-room'), 'the start-now button for the host');
  const roomId = /#\/room\/([\w-]+)/.exec(a.page.url())?.[1];
  if (!roomId) throw await a.failure('the scheduled room page has no room id in its address');
  await b.tap('nav-hallway', 'the hallway tab');
  const upcoming = await b.see(b.page.locator(`[data-testid="upcoming-card"][data-room-id="${roomId}"]`), "A's room under Upcoming");
  const calendar = await upcoming.getByTestId('calendar-link').getAttribute('href');
  if (calendar !== `/api/v1/rooms/${roomId}/calendar.ics`) throw await b.failure(`the calendar link is ${calendar}`);
  await upcoming.getByTestId('rsvp-toggle').click();
  await b.see(upcoming.locator('[data-testid="rsvp-toggle"][aria-pressed="true"]'), 'the RSVP as going');
  await b.see(upcoming.getByText('1 going'), 'one person going');
  await b.screenshot('hallway-upcoming');

  // --- A starts it; B joins and opens A's profile from the participant menu. ---
  await a.tap('start-scheduled-room', 'the start-now button');
  await a.see(a.page.locator(`[data-testid="stage"] [data-testid="participant"][data-user-id="${accountA.id}"]`), 'A on stage in the live room');
  // A pings a follower into the room: B (who follows A) gets a notice that opens it.
  await a.tap('ping-open', 'ping a follower');
  const pingB = await a.see(a.page.locator(`[data-testid="ping-person"][data-user-id="${accountB.id}"]`), 'B among the followers to ping');
  await pingB.getByTestId('ping').click();
  await a.see(pingB.getByTestId('pinged'), 'B pinged');
  await a.tap('close-ping-sheet', 'close the followers');
  await a.until('the ping sheet to close', async () => (await a.id('ping-sheet').count()) === 0);
  await b.tap('nav-notifications', 'the bell');
  const pingNotice = await b.see(b.page.locator('[data-testid="notice"][data-kind="pinged"]'), "A's ping, live");
  const pingHref = await pingNotice.locator('a').getAttribute('href');
  if (pingHref !== `#/room/${roomId}`) throw await b.failure(`the ping links to ${pingHref}, not the room`);
  await b.tap('nav-hallway', 'the hallway tab');
  await b.see(b.page.locator(`[data-testid="room-card"][data-room-id="${roomId}"]`), 'the room live in the hallway');
  await b.page.locator(`[data-testid="room-card"][data-room-id="${roomId}"]`).click();
  const tileA = await b.see(b.participant(accountA.id), "A's tile in the room");
  await b.screenshot('room-person-menu');
  await tileA.getByTestId('participant-menu').click();
  await b.tap('menu-view-profile', 'the view-profile item');
  const sheet = await b.see(b.id('person-sheet'), "A's profile over the room");
  if ((await sheet.getByTestId('person-name').textContent()).trim() !== 'Ada Lovelace') throw await b.failure('the sheet shows another name');
  await b.tap('close-person-sheet', 'the close button');
  await b.see(b.id('leave-room'), 'the room again');
  await b.tap('leave-room', 'the leave button');
  await b.see(b.page.locator(`[data-testid="met-person"][data-user-id="${accountA.id}"]`), 'A among the people B met in the room');

  // --- Before the block A finds B; after B blocks A, A does not. ---
  // A live room is the whole screen (no tab bar): A steps out through the app's name (the
  // room stays live, as when the tabs took A away before).
  await a.page.locator('.top .brand').click();
  await a.tap('nav-search', 'the search tab');
  await (await a.see(a.id('search-input'), 'the search box')).fill('Bo Chen');
  await a.see(a.page.locator(`[data-testid="search-person"][data-user-id="${accountB.id}"]`), 'B in the results');
  await b.page.goto(`/#/people/${accountA.id}`);
  await b.tap('block', 'the block button');
  await b.tap('block-confirm', 'the confirmation');
  await b.see(b.id('person-blocked'), 'the blocked notice');
  await b.tap('nav-connections', 'the network tab');
  await b.see(b.page.locator(`[data-testid="blocked-person"][data-user-id="${accountA.id}"]`), 'A under Blocked');
  await a.id('search-input').fill('');
  await a.id('search-input').fill('Bo Chen');
  await a.see(a.id('search-empty'), 'no results for "Bo Chen" now that B blocked A');
  if (await a.page.locator(`[data-testid="search-person"][data-user-id="${accountB.id}"]`).count()) {
    throw await a.failure('A still finds B after the block');
  }

  // --- Letting a contact in: C waits in the invite phase; A pastes C's national number. ---
  run.operator('admin', 'phase', 'invite');
  const c = await signInByApi(run, PHONE_C);
  if (c.account.status !== 'waitlisted') throw new Error(`C should be waitlisted in the invite phase, is ${c.account.status}`);
  // Only people who asked to be found by their number are listed (off by default): C asks.
  const findable = await fetch(`${run.config.base}/api/v1/me/contacts/findable`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
    body: JSON.stringify({ findable: true }),
  });
  if (findable.status !== 200) throw new Error(`PUT /me/contacts/findable for C: ${findable.status} ${await findable.text()}`);
  await a.tap('nav-invites', 'the invites tab');
  await a.see(a.id('invites-left'), 'the invites left');
  // The count shows "–" until the account has loaded: wait for a number, not just the element.
  const { leftBefore } = await a.until('a number of invites left', async () => {
    const shown = Number(await a.id('invites-left').textContent());
    return Number.isInteger(shown) ? { leftBefore: shown } : null;
  });
  await a.id('contacts-input').fill(`0151 9000 0023\n12`);
  await a.tap('contacts-upload', 'the find-who-is-waiting button');
  await a.see(a.id('contacts-stored'), 'the number of stored contacts');
  await a.see(a.id('contacts-invalid'), 'the note about the number that is not one');
  const waitingC = await a.see(a.page.locator(`[data-testid="waiting-contact"][data-user-id="${c.account.id}"]`), 'C waiting to be let in');
  await waitingC.getByTestId('let-in').click();
  await a.until('C to leave the waiting list', async () =>
    (await a.page.locator(`[data-testid="waiting-contact"][data-user-id="${c.account.id}"]`).count()) === 0);
  await a.until(`invites left to drop from ${leftBefore} to ${leftBefore - 1}`, async () =>
    Number(await a.id('invites-left').textContent()) === leftBefore - 1);
  const meC = await (await fetch(`${run.config.base}/api/v1/me`, { headers: { authorization: `Bearer ${c.token}` } })).json();
  if ((meC.account ?? meC).status !== 'active') throw new Error(`C should be active after A let them in, is ${(meC.account ?? meC).status}`);
  a.log('let C in from contacts: C is active');

  // --- Contact cards: C joins A's room (from C's phone, by API); A offers C a card from the
  // people A met there, C offers one back, and A accepts it from the cards inbox. ---
  const asC = (method, path, body) =>
    fetch(`${run.config.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
  const namedC = await asC('PATCH', '/me/profile', { name: 'Chen Jie' }); // a card needs a name
  if (namedC.status !== 200) throw new Error(`C could not name themselves: ${namedC.status}`);
  const joined = await asC('POST', `/rooms/${roomId}/join`);
  if (joined.status !== 200) throw new Error(`C could not join A's room: ${joined.status} ${await joined.text()}`);
  await a.page.goto(`/#/met/${roomId}`);
  const metC = await a.see(a.page.locator(`[data-testid="met-person"][data-user-id="${c.account.id}"]`), 'C among the people A met in the room');
  await metC.getByTestId('offer-card').click();
  await a.see(metC.getByTestId('card-sent'), 'the card as offered');
  // C's card carries an email (C chose it); A opens the card from its notice and accepts it there.
  const sharing = await asC('PUT', '/me/card', { email: 'chen@example.com', share_links: false, share_phone: false });
  if (sharing.status !== 200) throw new Error(`C could not choose what the card carries: ${sharing.status}`);
  const offered = await asC('POST', '/cards', { user_id: accountA.id, room_id: roomId });
  if (offered.status !== 201) throw new Error(`C could not offer A a card: ${offered.status} ${await offered.text()}`);
  const cardId = (await offered.json()).id;
  await a.see(a.page.locator(`[data-testid="card-received"][data-user-id="${c.account.id}"]`), "C's card in A's inbox (live)");
  await a.tap('nav-notifications', 'the bell');
  const cardNotice = await a.see(a.page.locator('[data-testid="notice"][data-kind="card_offered"]').first(), "the notice of C's card");
  await cardNotice.locator('a').click();
  await a.see(a.page.locator(`[data-testid="card-view"][data-status="pending"]`), 'the card, opened from its notice');
  if (!a.page.url().endsWith(`#/cards/${cardId}`)) throw await a.failure(`the notice opened ${a.page.url()}, not the card`);
  const email = await (await a.see(a.id('card-email'), 'the email the card carries')).innerText();
  if (email !== 'chen@example.com') throw await a.failure(`the card shows the email ${email}`);
  if ((await a.id('card-phone').count()) > 0) throw await a.failure('the card shows a phone number C did not share');
  const vcard = await a.page.evaluate(async (href) => {
    const response = await fetch(href, { credentials: 'same-origin' });
    return { type: response.headers.get('content-type'), text: await response.text() };
  }, await a.id('card-vcard').getAttribute('href'));
  if (!vcard.type.startsWith('text/vcard') || !vcard.text.includes('EMAIL;TYPE=INTERNET:chen@example.com')) {
    throw await a.failure(`the vCard download: ${vcard.type} ${vcard.text.slice(0, 200)}`);
  }
  await a.screenshot('card');
  await a.tap('card-accept', 'accept the card on the card itself');
  await a.see(a.page.locator('[data-testid="card-view"][data-status="accepted"]'), 'the card as accepted');
  await a.page.goto(`/#/met/${roomId}`);
  await a.see(a.page.locator(`[data-testid="met-person"][data-user-id="${c.account.id}"]`), 'C among the people A met');
  await a.until('the inbox to empty once the card is accepted', async () =>
    (await a.page.locator('[data-testid="card-received"]').count()) === 0);
  const connections = await (await asC('GET', '/connections')).json();
  if (!connections.connections.some((x) => x.person.id === accountA.id)) throw new Error('C and A are not connected after A accepted the card');
  a.log('accepted C\'s card: A and C are connected');
});
