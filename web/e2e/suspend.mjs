// Staff suspend an account from its person page, in real browsers against a real `mitalk serve`
// (no media): the suspended person's open page is back at the sign-in form without a reload
// (the server ended every session and closed the account socket); signing in again, the code is
// right but the page says the account is suspended, in each of the four languages; staff lift
// the suspension from the same page and the person signs in again.
//
//   node web/e2e/suspend.mjs CONFIG.json     (tests/webclient/test_suspension_screen.py runs it)

import { main } from './lib.mjs';

const STAFF = '+4915190000061';
const TARGET = '+4915190000062';
const LANGUAGES = ['en', 'de', 'zh-Hans', 'zh-Hant'];
// The start of the account_suspended message with its end date, in each language
// (errors.account_suspended_until in web/src/i18n/*.json).
const SUSPENDED = {
  en: 'This account is suspended until ',
  de: 'Dieses Konto ist bis ',
  'zh-Hans': '此账号已被停用至 ',
  'zh-Hant': '此帳號已被停用至 ',
};

/** Show the page in ``lang`` (the app keeps the choice in localStorage) and wait for it. */
async function inLanguage(person, lang) {
  await person.page.evaluate((lang) => localStorage.setItem('mitalk.language', lang), lang);
  await person.page.reload();
  await person.until(`the page in ${lang}`, async () =>
    (await person.page.evaluate(() => document.documentElement.lang)) === lang);
}

/** Switch the language with the page's own chooser (what is on screen stays). */
async function chooseLanguage(person, lang) {
  await (await person.see(person.id('language-select'), 'the language chooser')).selectOption(lang);
  await person.until(`the page in ${lang}`, async () =>
    (await person.page.evaluate(() => document.documentElement.lang)) === lang);
}

/** Sign in up to the code and send it (a German number); the answer is the page's to show. */
async function enterCode(person, phone) {
  await person.page.goto('/');
  await (await person.see(person.id('phone-country'), 'the country chooser')).selectOption('DE');
  await (await person.see(person.id('phone-input'), 'the sign-in form')).fill(phone.slice(3));
  const before = person.run.outboxLength();
  await person.tap('send-code', 'the send-code button');
  const code = await person.run.codeFor(phone, { after: before });
  await (await person.see(person.id('code-input'), 'the code step')).fill(code);
  await person.tap('verify-code', 'the verify button');
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  run.operator('admin', 'staff', 'add', STAFF);
  const s = await run.person('S');
  const t = await run.person('T');
  await t.signIn(TARGET, { name: 'Tom Troll' });
  const target = await t.me();
  await s.signIn(STAFF, { name: 'Sofia Staff' });

  // Staff open T's page: the staff section is there (members never see it).
  await s.page.goto(`/#/people/${target.id}`);
  await s.see(s.id('suspension-open'), 'Suspend account… on T\'s page');
  for (const lang of LANGUAGES) {
    await inLanguage(s, lang);
    await s.tap('suspension-open', `Suspend account… (${lang})`);
    await s.see(s.id('suspension-reason'), `the suspension form in ${lang}`);
    await s.screenshot(`suspend-form-${lang}`);
  }
  await inLanguage(s, 'en');
  await s.tap('suspension-open', 'Suspend account…');
  await s.id('suspension-reason').fill('Spam in three rooms');
  await s.id('suspension-duration').selectOption('1');
  await s.tap('suspension-confirm', 'Suspend Tom Troll');
  await s.until('the page to say T is suspended until tomorrow', async () => {
    const state = s.id('suspension-state');
    return (await state.count()) > 0 && (await state.innerText()).startsWith('Suspended until ');
  });
  await s.screenshot('suspend-active-en');

  // T's page, never reloaded, is back at the sign-in form: the server closed its socket.
  await t.see(t.id('phone-input'), 'the sign-in form on T\'s page, without a reload');
  // The right code, and the page says why it does not sign T in, in every language.
  await enterCode(t, TARGET);
  for (const lang of LANGUAGES) {
    await chooseLanguage(t, lang);
    await t.until(`the suspended error in ${lang}`, async () => {
      const shown = t.id('signin-error');
      return (await shown.count()) > 0 && (await shown.first().innerText()).includes(SUSPENDED[lang]);
    });
    await t.screenshot(`signin-suspended-${lang}`);
  }
  await chooseLanguage(t, 'en');

  // Staff lift it; T signs in again.
  await s.tap('suspension-lift', 'Lift suspension');
  await s.see(s.id('suspension-open'), 'Suspend account… again (the suspension is lifted)');
  await enterCode(t, TARGET);
  await t.see(t.id('nav-hallway'), 'the app: T is signed in again');
  t.log('signed in again after the suspension was lifted');
});
