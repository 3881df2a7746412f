// A photo too large in pixels, refused by the server, in each of the four languages: the
// profile's photo picker shows the server's refusal (avatar_too_many_pixels) in the page's
// language, with the limit the server holds to (4096×4096).
//
//   node web/e2e/avatar-errors.mjs CONFIG.json     (tests/webclient/test_avatar_errors.py runs it)

import { main } from './lib.mjs';

const PHONE = '+4915190000031';
const LANGUAGES = ['en', 'de', 'zh-Hans', 'zh-Hant'];

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const a = await run.person('A');
  await a.signIn(PHONE);
  await a.see(a.id('nav-hallway'), 'the app after signing in');
  for (const language of LANGUAGES) {
    await a.tap('nav-settings', 'the settings button');
    await (await a.see(a.id('language-select'), 'the language choice')).selectOption(language);
    await a.until(`the page in ${language}`, async () =>
      (await a.page.evaluate(() => document.documentElement.lang)) === language);
    await a.tap('nav-profile', 'the profile tab');
    await a.id('avatar-file').setInputFiles(run.config.bigPicture);
    await a.see(a.id('avatar-preview'), 'the preview of the chosen photo');
    await a.tap('avatar-upload', 'the use-this-photo button');
    const error = await a.see(a.id('avatar-error'), 'the refusal of the photo');
    const text = (await error.textContent()) || '';
    a.log(`${language}: ${text}`);
    if (text !== run.config.expected[language]) {
      throw await a.failure(`expected "${run.config.expected[language]}", shown "${text}"`);
    }
    await a.screenshot(`avatar-too-many-pixels-${language}`);
    await a.page.reload();
    await a.see(a.id('nav-hallway'), 'the app again');
  }
});
