// Every word in the person's language, from the server too, in real browsers against a real
// `mitalk serve` (no media): T's browser speaks Traditional Chinese (zh-TW) and signs in
// through the UI: the code comes in a Traditional Chinese text message. G's browser speaks
// German; after signing in, a member asks G to connect: G's bell shows a German notice. Then G
// switches the app to Simplified Chinese: the next notice is Simplified Chinese.
//
//   node web/e2e/language.mjs CONFIG.json     (tests/webclient/test_language_screens.py runs it)

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { BASE_FLAGS, main, Person, PHONE, signInByApi, WAIT_MS } from './lib.mjs';

const PHONE_T = '+4915190000051';
const PHONE_G = '+4915190000052';
const PHONE_A = '+4915190000053';
const PHONE_B = '+4915190000054';

/** A person whose browser speaks ``locale`` (its Accept-Language and navigator.languages). */
async function personSpeaking(run, browser, name, locale) {
  const context = await browser.newContext({ ...PHONE, locale, baseURL: run.config.base });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  return new Person(run, name, browser, context, page);
}

/** The newest text message sent to ``phone``. */
function lastText(run, phone) {
  const lines = readFileSync(run.config.outbox, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return lines.filter((m) => m.to === phone).pop()?.body ?? '';
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const browser = await chromium.launch({ executablePath: run.config.chromium, args: BASE_FLAGS, timeout: WAIT_MS });
  run.people.push({ name: 'browsers', browser, page: null });

  const t = await personSpeaking(run, browser, 'T', 'zh-TW');
  // The people step of onboarding speaks of a phone's contacts as the address book (通訊錄),
  // not as connections (聯絡人): one word for both read alike before.
  const peopleStep = (lang, book) => async (person) => {
    const step = person.page.locator('[data-testid="onboarding"][data-step="people"]');
    const words = await step.innerText();
    if (!words.includes(book)) throw await person.failure(`the ${lang} people step does not say "${book}": ${words}`);
    await person.screenshot(`onboarding-people-${lang}`);
  };
  await t.signIn(PHONE_T, { country: 'TW', dialCode: '+886', name: '林怡君', atPeople: peopleStep('zh-Hant', '通訊錄') });
  const code = lastText(run, PHONE_T);
  if (!/^你的 Mi Talk 驗證碼是 \d{6}，/.test(code)) throw await t.failure(`T's code text is not Traditional Chinese: ${code}`);
  t.log(`the code came as: ${code}`);

  const g = await personSpeaking(run, browser, 'G', 'de-DE');
  await g.signIn(PHONE_G, { name: 'Greta Gruber', atPeople: peopleStep('de', 'Kontakten') });
  if (!(lastText(run, PHONE_G)).startsWith('Dein Mi-Talk-Code ist ')) throw await g.failure(`G's code text: ${lastText(run, PHONE_G)}`);
  const gId = (await g.me()).id;
  const asker = async (phone, name) => {
    const { token } = await signInByApi(run, phone);
    const call = (method, path, body) => fetch(`${run.config.base}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    await call('PATCH', '/me/profile', { name });
    return call;
  };
  const a = await asker(PHONE_A, 'Ada Lovelace');
  await a('POST', '/connections', { user_id: gId });
  await g.tap('nav-notifications', 'the bell');
  const notice = await g.see(g.page.locator('[data-testid="notice"][data-kind="connection_request"]'), "Ada's request");
  const text = await notice.innerText();
  if (!text.includes('Ada Lovelace möchte sich mit dir vernetzen.')) throw await g.failure(`G's notice is not German: ${text}`);
  await g.screenshot('notice-de');

  // The app's choice: G switches to Simplified Chinese; the server writes in it from now on.
  await g.tap('nav-settings', 'the settings');
  await (await g.see(g.id('language-select'), 'the language choice')).selectOption('zh-Hans');
  await g.until('the account to keep zh-Hans', async () => (await g.me()).language === 'zh-Hans');
  const b = await asker(PHONE_B, 'Bo Chen');
  await b('POST', '/connections', { user_id: gId });
  await g.tap('nav-notifications', 'the bell');
  await g.see(g.page.locator('[data-testid="notice"]', { hasText: 'Bo Chen 想和你建立联系。' }), "Bo's request, in Simplified Chinese");
  g.log('notices follow the language: German from the browser, then Simplified Chinese from the app');
});
