// Onboarding before the first hand, in a real browser against a real `mitalk serve` (no media):
// H (by API) hosts an open room on Fintech. N signs in through the UI, is let in without a
// name, and opens H's room link: onboarding comes first. Raising a hand before the name is
// refused by the server (409 name_required); N gives a name (required: Continue stays off
// while it is empty), skips the photo, writes a headline, picks Fintech among the topics people
// talk about, follows H from the suggestions (H's profile speaks of Fintech), and is done: the
// room link opens, and N's first hand reaches H with N's name.
//
//   node web/e2e/onboarding.mjs CONFIG.json     (tests/webclient/test_onboarding.py runs it)

import { main, signInByApi } from './lib.mjs';

const PHONE_H = '+4915190000031';
const PHONE_N = '+4915190000032';

/** A call to the API from N's page, with the session cookie and its CSRF token. */
async function fromPage(person, method, path, body = null) {
  return person.page.evaluate(async ({ method, path, body }) => {
    const csrf = (document.cookie.match(/(?:^|;\s*)mitalk_csrf=([^;]*)/) || [])[1] || '';
    const response = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  }, { method, path, body });
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const h = await signInByApi(run, PHONE_H);
  const asH = async (method, path, body) => {
    const response = await fetch(`${run.config.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (response.status >= 300) throw new Error(`H: ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : response.json();
  };
  await asH('PATCH', '/me/profile', { name: 'Hana Host', headline: 'Payments', skills: ['Fintech'] });
  const room = await asH('POST', '/rooms', { title: 'Fintech Friday', topics: ['Fintech'], visibility: 'open' });

  const n = await run.person('N');
  await n.signIn(PHONE_N, { onboard: false });
  await n.see(n.id('onboarding-name'), 'onboarding, right after being let in');
  await n.page.goto(`/#/room/${room.id}`);
  await n.see(n.page.locator('[data-testid="onboarding"][data-step="name"]'), 'onboarding still, after opening the room link');
  if ((await n.page.locator('[data-testid="room-title"]').count()) > 0) throw await n.failure('the room opened before onboarding');

  // The server refuses a hand without a name, whatever a client does.
  const joined = await fromPage(n, 'POST', `/rooms/${room.id}/join`);
  if (joined.status !== 200) throw await n.failure(`join answered ${joined.status}`);
  const early = await fromPage(n, 'POST', `/rooms/${room.id}/hand`);
  if (early.status !== 409 || early.body?.error?.code !== 'name_required') {
    throw await n.failure(`a hand before the name answered ${early.status} ${JSON.stringify(early.body)}`);
  }
  n.log('a hand before the name: 409 name_required');

  if (!(await n.id('onboarding-next').isDisabled())) throw await n.failure('Continue is on with no name');
  await n.screenshot('onboarding-name');
  await n.id('onboarding-name').fill('Nora Neumann');
  await n.tap('onboarding-next', 'continue after the name');

  await n.see(n.page.locator('[data-testid="onboarding"][data-step="photo"]'), 'the photo step');
  await n.tap('onboarding-skip', 'skip the photo');
  await n.see(n.page.locator('[data-testid="onboarding"][data-step="headline"]'), 'the headline step');
  await n.id('onboarding-headline').fill('Founder, small-business lending');
  await n.tap('onboarding-next', 'save the headline');

  await n.see(n.page.locator('[data-testid="onboarding"][data-step="topics"]'), 'the topics step');
  // A reload in the middle comes back to the same step, not past the optional ones.
  await n.page.reload();
  await n.see(n.page.locator('[data-testid="onboarding"][data-step="topics"]'), 'the topics step again after a reload');
  const fintech = n.page.locator('[data-testid="topic-choice"]', { hasText: 'Fintech' });
  await (await n.see(fintech, 'Fintech among the topics people talk about')).click();
  await n.until('Fintech to be chosen', async () => (await fintech.getAttribute('aria-pressed')) === 'true');
  await n.screenshot('onboarding-topics');
  await n.tap('onboarding-next', 'save the topics');

  await n.see(n.page.locator('[data-testid="onboarding"][data-step="people"]'), 'the people step');
  const hana = n.page.locator(`[data-testid="suggested-person"][data-user-id="${h.account.id}"]`);
  await n.see(hana, 'H suggested to follow');
  const why = await hana.getByTestId('suggested-why').innerText();
  if (!why.includes('Fintech')) throw await n.failure(`H is suggested for "${why}", not for Fintech`);
  await hana.getByTestId('follow-suggested').click();
  await n.see(hana.getByTestId('suggested-following'), 'H followed');
  await n.screenshot('onboarding-people');
  await n.tap('onboarding-done', 'done with onboarding');

  // The room link opens now, and the first hand carries N's name.
  await n.see(n.id('room-title'), 'the room of the link, after onboarding');
  await n.tap('raise-hand', 'raise a hand');
  const me = await n.me();
  await n.until("N's hand, with N's name, in H's view of the room", async () => {
    const seen = await asH('GET', `/rooms/${room.id}`);
    const p = seen.participants.find((x) => x.user_id === me.id);
    return p && p.hand_raised && p.name === 'Nora Neumann';
  });
  const profile = me.profile;
  if (profile.headline !== 'Founder, small-business lending' || JSON.stringify(profile.topics) !== '["Fintech"]') {
    throw await n.failure(`the profile after onboarding: ${JSON.stringify(profile)}`);
  }
  const followed = await fromPage(n, 'GET', `/users/${h.account.id}`);
  if (followed.body?.following !== true) throw await n.failure('N does not follow H after onboarding');
  n.log('onboarded: name, headline, topics, following H; the first hand carries the name');
});
