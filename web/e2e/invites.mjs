// Invites that reach people, in real browsers against a real `mitalk serve` (no media): M signs
// in and invites four numbers, the app in each of its four languages in turn. Each number gets a
// text message in its country's language (Germany: German, Taiwan: Traditional Chinese, China:
// Simplified), or in M's own when its country speaks none of ours (France, M's app in English).
// The screen says the invite went out, a landline is refused in words of its own, and once the
// invites run out the screen says so and how to get one back.
//
//   node web/e2e/invites.mjs CONFIG.json     (tests/webclient/test_invite_screens.py runs it)

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { BASE_FLAGS, main, Person, PHONE, WAIT_MS } from './lib.mjs';

const PHONE_M = '+4915190000061';
// UI language, the number's country (ISO code as the picker names it), its national number, and
// how its text message must begin.
const INVITES = [
  ['zh-Hant', 'TW', '912345061', '+886912345061', '有位存有你號碼的人邀請你加入 Mi Talk', '已向'],
  ['de', 'DE', '15190000062', '+4915190000062', 'Jemand mit deiner Nummer hat dich zu Mi Talk eingeladen', 'Einladung an'],
  ['zh-Hans', 'CN', '13812345063', '+8613812345063', '有位存有你号码的人邀请你加入 Mi Talk', '已向'],
  ['en', 'FR', '612345064', '+33612345064', 'Someone who has your number invited you to Mi Talk', 'Invite sent to'],
];
const NOT_MOBILE = {
  en: 'Invites go to mobile numbers only',
  de: 'Einladungen gehen nur an Handynummern',
  'zh-Hans': '邀请只能发给手机号码',
  'zh-Hant': '邀請只能傳給手機號碼',
};

/** Every text message sent to ``phone``. */
function textsTo(run, phone) {
  const lines = readFileSync(run.config.outbox, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return lines.filter((m) => m.to === phone).map((m) => m.body);
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const browser = await chromium.launch({ executablePath: run.config.chromium, args: BASE_FLAGS, timeout: WAIT_MS });
  run.people.push({ name: 'browsers', browser, page: null });
  const context = await browser.newContext({ ...PHONE, locale: 'en-US', baseURL: run.config.base });
  context.setDefaultTimeout(WAIT_MS);
  const m = new Person(run, 'M', browser, context, await context.newPage());
  await m.signIn(PHONE_M, { name: 'Mara Hoffmann-Lindqvist' });

  const pick = async (testId, country) => {
    const select = await m.see(m.id(testId), `the country picker ${testId}`);
    await select.selectOption(country);
  };
  for (const [language, country, national, e164, textStart, sentStart] of INVITES) {
    await m.tap('nav-settings', 'the settings');
    await (await m.see(m.id('language-select'), 'the language choice')).selectOption(language);
    await m.until(`the account to keep ${language}`, async () => (await m.me()).language === language);
    await m.tap('nav-invites', 'the invites tab');
    await m.see(m.id('invites-left'), 'the invites left');

    // A landline first: refused, with words for invites (not the sign-in screen's).
    await pick('invite-country', 'DE');
    await m.id('invite-phone').fill('30 12345678');
    await m.tap('send-invite', 'the invite button (a Berlin landline)');
    await m.see(m.page.locator('.invites [role="alert"]', { hasText: NOT_MOBILE[language] }), `the landline refused in ${language}`);

    await pick('invite-country', country);
    await m.id('invite-phone').fill(national);
    await m.tap('send-invite', `the invite button (${country} ${national})`);
    const sent = await m.see(m.id('invite-sent'), 'the note that the invite went out');
    const said = await sent.innerText();
    if (!said.startsWith(sentStart)) throw await m.failure(`the note is not in ${language}: ${said}`);
    await m.until(`a text message to ${e164}`, async () => textsTo(run, e164).length === 1);
    const [text] = textsTo(run, e164);
    if (!text.startsWith(textStart)) throw await m.failure(`the text to ${e164} is wrong: ${text}`);
    m.log(`${language} app, ${country} number: "${said}"; the text: ${text}`);
    await m.screenshot(`invites-sent-${language}`);
  }

  // The fifth and last invite; then the screen says none are left and how one comes back.
  await pick('invite-country', 'DE');
  await m.id('invite-phone').fill('15190000065');
  await m.tap('send-invite', 'the invite button (the last invite)');
  await m.see(m.id('invites-none-left'), 'the note that no invites are left');
  const left = await m.id('invites-left').innerText();
  if (left.trim() !== '0') throw await m.failure(`invites left shows ${left}`);
  await m.screenshot('invites-none-left-en');
});
