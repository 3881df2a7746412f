// Sign-in refusals and sessions, in real browsers against a real `mitalk serve` (no media):
// a premium-rate number is refused with words in each of the four languages; while B waits at
// the code step a stranger burns every try it can without B's ticket, and B still signs in;
// A sees where the account is signed in (this browser, B's, a script's), signs the script out,
// then signs out everywhere: A's page and B's page (without a reload: its account socket is
// closed by the server) are back at the sign-in form. With one room socket allowed per account,
// A's room opened in a second tab makes the first tab say it stopped following the room.
//
//   node web/e2e/sessions.mjs CONFIG.json     (tests/webclient/test_sessions_screen.py runs it)

import { main, signInByApi } from './lib.mjs';

const PHONE = '+4915190000031';
const PREMIUM = { country: 'GB', national: '871 234 5678' };
// A phrase of the phone_not_mobile message in each language (web/src/i18n/*.json).
const NOT_MOBILE = {
  en: 'mobile numbers only',
  de: 'Handynummern',
  'zh-Hans': '手机号码',
  'zh-Hant': '手機號碼',
};
const LANGUAGES = ['en', 'de', 'zh-Hans', 'zh-Hant'];

/** Choose a country in the sign-in form's chooser and type the national number. */
async function enterNumber(person, country, national) {
  const select = await person.see(person.id('phone-country'), 'the country chooser');
  await select.selectOption(country);
  await person.id('phone-input').fill(national);
}

async function chooseLanguage(person, lang) {
  await (await person.see(person.id('language-select'), 'the language chooser')).selectOption(lang);
  await person.until(`the page in ${lang}`, async () =>
    (await person.page.evaluate(() => document.documentElement.lang)) === lang);
}

async function rows(person) {
  return person.id('session-row').count();
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const a = await run.person('A');
  const b = await run.person('B');

  // --- A premium-rate number gets no code, and the page says why, in every language. ---
  await a.page.goto('/');
  await enterNumber(a, PREMIUM.country, PREMIUM.national);
  const texts = run.outboxLength();
  await a.tap('send-code', 'the send-code button (a premium-rate number)');
  for (const lang of LANGUAGES) {
    await chooseLanguage(a, lang);
    await a.until(`the not-a-mobile error in ${lang}`, async () => {
      const shown = a.id('signin-error');
      return (await shown.count()) > 0 && (await shown.first().innerText()).includes(NOT_MOBILE[lang]);
    });
    await a.screenshot(`signin-not-mobile-${lang}`);
  }
  if (run.outboxLength() !== texts) throw await a.failure('a text went to a premium-rate number');
  await chooseLanguage(a, 'en');

  // --- A signs in here; a script signs the same account in (a bearer session). ---
  await a.signIn(PHONE);
  await a.see(a.id('nav-hallway'), 'the app after signing in');
  const script = await signInByApi(run, PHONE);

  // --- B signs in too; at the code step a stranger burns every try it can, without B's ticket. ---
  await b.page.goto('/');
  await enterNumber(b, 'DE', PHONE.slice(3));
  const before = run.outboxLength();
  await b.tap('send-code', 'the send-code button');
  const codeInput = await b.see(b.id('code-input'), 'the code step');
  const code = await run.codeFor(PHONE, { after: before });
  const wrong = code === '000000' ? '111111' : '000000';
  const burnt = [];
  for (let i = 0; i < 8; i += 1) {
    const response = await fetch(`${run.config.base}/api/v1/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: PHONE, code: wrong }),
    });
    burnt.push(response.status);
  }
  if (burnt.filter((s) => s === 429).length < 3) throw await b.failure(`the stranger's tries never ran out: ${burnt}`);
  b.log(`a stranger guessed 8 times: ${burnt.join(' ')}`);
  await codeInput.fill(code);
  await b.tap('verify-code', 'the verify button (after the stranger)');
  await b.see(b.id('nav-hallway'), 'the app: B signed in with its own tries');

  // --- One room socket per account here (MITALK_ROOM_SOCKETS_PER_ACCOUNT=1): A's room opened
  // in a second tab closes the first tab's socket, and the first tab says so, in each language.
  const room = await a.page.evaluate(async () => {
    const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?mitalk_csrf=([^;]*)/) || [])[1] || '';
    const response = await fetch('/api/v1/rooms', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': decodeURIComponent(csrf) },
      body: JSON.stringify({ title: 'Two tabs' }),
    });
    if (response.status !== 201) throw new Error(`POST /rooms: ${response.status}`);
    return (await response.json()).id;
  });
  for (const lang of LANGUAGES) {
    await a.tap('nav-settings', 'the settings button');
    await chooseLanguage(a, lang);
    await a.page.goto(`/#/room/${room}`);
    await a.see(a.id('participant'), 'the room in the first tab');
    const tab = await a.context.newPage();
    await tab.goto(`/#/room/${room}`);
    await tab.getByTestId('participant').first().waitFor({ state: 'visible' });
    await a.see(a.id('room-replaced'), `the first tab's notice that the room moved to the second (${lang})`);
    await a.screenshot(`room-replaced-${lang}`);
    await tab.close();
  }
  await a.tap('room-reload', 'the follow-it-here button');
  await a.see(a.id('participant'), 'the room again in the first tab');
  if ((await a.id('room-replaced').count()) !== 0) throw await a.failure('the notice stayed after following the room here');
  await a.tap('nav-settings', 'the settings button');
  await chooseLanguage(a, 'en');

  // --- A's settings list the three sessions; A signs the script out. ---
  await a.tap('nav-settings', 'the settings button');
  await a.see(a.id('sessions'), 'the sessions card');
  await a.until('three sessions listed', async () => (await rows(a)) === 3);
  const current = a.page.locator('[data-testid="session-row"][data-current="true"]');
  if ((await current.count()) !== 1) throw await a.failure('not exactly one session marked as this device');
  for (const lang of LANGUAGES) {
    await chooseLanguage(a, lang);
    await a.screenshot(`settings-sessions-${lang}`);
  }
  await chooseLanguage(a, 'en');
  const scriptRow = a.page.locator('[data-testid="session-row"]', { hasText: 'App or script' });
  if ((await scriptRow.count()) !== 1) throw await a.failure("the script's session is not shown as 'App or script'");
  await scriptRow.getByTestId('end-session').click();
  await a.until('two sessions left', async () => (await rows(a)) === 2);
  const me = await fetch(`${run.config.base}/api/v1/me`, { headers: { authorization: `Bearer ${script.token}` } });
  if (me.status !== 401) throw await a.failure(`the script's token still works after it was signed out: ${me.status}`);

  // --- Sign out everywhere: A's page and B's page return to the sign-in form. ---
  a.page.once('dialog', (dialog) => void dialog.accept());
  await a.tap('sign-out-everywhere', 'the sign-out-everywhere button');
  await a.see(a.id('phone-input'), "the sign-in form on A's page");
  await b.see(b.id('phone-input'), "the sign-in form on B's page, without a reload");
  const still = await b.page.evaluate(async () => (await fetch('/api/v1/me')).status);
  if (still !== 401) throw await b.failure(`B's session still answers ${still}`);
});
