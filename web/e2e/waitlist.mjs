// The waiting room, in a real browser against a real `mitalk serve`: in the invite phase C
// signs in and waits behind D; the operator drops passes from the command line; C's page shows
// the new position without a reload, and the next drop lets C into the app.
//
//   node web/e2e/waitlist.mjs CONFIG.json     (tests/media/test_web.py writes CONFIG and runs it)

import { main, signInByApi, waitFor } from './lib.mjs';

const PHONE_C = '+4915190000003';
const PHONE_D = '+4915190000004';


/** The number shown by ``testId`` (digits only, so "#2" or "2 of 5" read as 2). */
async function shownNumber(person, testId) {
  const text = await person.id(testId).first().textContent({ timeout: 2000 });
  const digits = /\d[\d,. ]*/.exec(text || '');
  return digits ? Number(digits[0].replace(/[,. ]/g, '')) : null;
}

main(async (run) => {
  run.operator('admin', 'phase', 'invite');
  const d = (await signInByApi(run, PHONE_D)).account;
  if (d.status !== 'waitlisted') throw new Error(`D should be waitlisted in the invite phase, is ${d.status}`);
  run.operator('admin', 'waitlist', 'stats');

  const c = await run.person('C');
  await c.signIn(PHONE_C);
  await c.see(c.id('waitlist-position'), 'the waiting room');
  const first = await c.until('a position on the waitlist', () => shownNumber(c, 'waitlist-position'));
  const total = await shownNumber(c, 'waitlist-total').catch(() => null);
  c.log(`shows position ${first}${total !== null ? ` of ${total}` : ''}`);
  if (first < 2) throw await c.failure(`C joined the line after D, so C's position should be at least 2, shows ${first}`);
  // Being found by members who have C's number is off until C turns it on.
  const findable = await c.see(c.id('findable'), 'the choice to be found by number');
  await c.until('the choice to load (enabled)', async () => !(await findable.isDisabled()));
  if (await findable.isChecked()) throw await c.failure('being found by number is on before C chose it');
  await findable.check();
  await c.until('the server to keep the choice', async () =>
    c.page.evaluate(async () => (await (await fetch('/api/v1/me/contacts/findable')).json()).findable === true));
  await c.screenshot('waiting-room');

  // The page must follow the line by itself: mark it, and check the mark survives.
  await c.page.evaluate(() => { window.__e2eNoReload = true; });
  run.operator('admin', 'passes', 'drop', '1');
  await c.until(`the position to move from ${first} to ${first - 1} without a reload`, async () =>
    (await shownNumber(c, 'waitlist-position')) === first - 1);
  if (!(await c.page.evaluate(() => window.__e2eNoReload === true))) {
    throw await c.failure('the page reloaded to show the new position');
  }
  if (total !== null) {
    await c.until(`the number of people waiting to drop from ${total} to ${total - 1}`, async () =>
      (await shownNumber(c, 'waitlist-total')) === total - 1);
  }
  c.log(`shows position ${first - 1}${total !== null ? ` of ${total - 1}` : ''}`);

  // The same page in Simplified Chinese: switched in the settings, the line still followed.
  const heading = await c.page.locator('h1').first().textContent();
  await c.tap('nav-settings', 'the settings button');
  await (await c.see(c.id('language-select'), 'the language choice in the settings')).selectOption('zh-Hans');
  await c.tap('nav-hallway', 'the waitlist tab');
  await c.until('the page in Simplified Chinese (<html lang="zh-Hans">, a new heading)', async () =>
    (await c.page.evaluate(() => document.documentElement.lang)) === 'zh-Hans'
    && (await c.page.locator('h1').first().textContent()) !== heading);
  if ((await shownNumber(c, 'waitlist-position')) !== first - 1) throw await c.failure('the position changed with the language');
  await c.screenshot('waiting-room-zh-Hans');

  // The next drop admits C: the page moves on to onboarding (C has no name yet), then the app.
  run.operator('admin', 'passes', 'drop', String(first - 1));
  await c.see(c.id('onboarding-name'), 'onboarding, now that C holds a pass');
  await c.onboard('陈静');
  const account = await waitFor("C's account to be active", async () => {
    const me = await c.me();
    return me.status === 'active' ? me : null;
  });
  c.log(`admitted: account ${account.id} is ${account.status}`);
});
