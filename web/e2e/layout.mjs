// The layout of every screen, in every language, at every phone width, in real Chromium against
// a real `mitalk serve` (no media): sign-in, the waiting room, onboarding, the hallway, a room
// as its moderator, a speaker and a listener (each with a person's menu open), the profile, the
// network, search, invites and notifications, each in en, de, zh-Hans and zh-Hant at 320, 360,
// 390 and 430 px wide. On each: no horizontal overflow, every control inside the viewport
// (across, and down too where it is fixed to the screen), and no Latin word broken mid-word.
// Each screen in each language is saved at 390 px as screens/layout-<screen>-<lang>.png.
//
//   node web/e2e/layout.mjs CONFIG.json     (tests/webclient/test_layout.py runs it)

import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_FLAGS, log, main, Person, WAIT_MS } from './lib.mjs';

const LANGUAGES = ['en', 'de', 'zh-Hans', 'zh-Hant'];
const WIDTHS = [320, 360, 390, 430];
const HEIGHT = 844;
const SHOT_WIDTH = 390;

// Long, real-looking names and titles: the layout must hold them, not just "A" and "B".
const PEOPLE = {
  M: { phone: '+4915190000041', name: 'Maximilian Mustermann-Schneider', headline: 'Leiter Produktmanagement Zahlungsverkehr', company: 'Sparkassen-Finanzgruppe' },
  S: { phone: '+4915190000042', name: '張偉 Zhang Wei', headline: 'Product lead, cross-border payments', company: 'Lianhe Pay' },
  L: { phone: '+4915190000043', name: 'Chen Jie', headline: 'Founder, small-business lending', company: 'Northwind' },
  O: { phone: '+4915190000044' },
  W: { phone: '+4915190000045' },
};
// The notifications screen is read by one person per language: a notice is written in its
// reader's language when it happens, so each reader chose theirs before S asks to connect.
const READERS = {
  en: { phone: '+4915190000050', name: 'Katharina von Hohenberg-Lindqvist', says: 'wants to connect with you' },
  de: { phone: '+4915190000051', name: 'Katharina von Hohenberg-Lindqvist', says: 'möchte sich mit dir vernetzen' },
  'zh-Hans': { phone: '+4915190000052', name: '王秀英 Wang Xiuying', says: '想和你建立联系' },
  'zh-Hant': { phone: '+4915190000053', name: '陳淑芬 Chen Shufen', says: '想和你建立聯繫' },
};
const reader = (lang) => `N-${lang}`;
const ROOM_TITLE = 'Produktmanagement im Zahlungsverkehr: Erfahrungen aus der Praxis';

/**
 * What is wrong with the page as laid out now on a screen this wide and high (empty: nothing).
 * Runs in the page. The screen's size comes from outside: an emulated phone widens its layout
 * viewport to fit overflowing content, so innerWidth would hide the very overflow looked for.
 */
function layoutProblems({ width, height }) {
  const problems = [];
  const visible = (el) => {
    if (el.closest('.visually-hidden, [hidden], [aria-hidden="true"]')) return false;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const describe = (el) => {
    const id = el.getAttribute('data-testid');
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${id ? `[${id}]` : el.className ? `.${String(el.className).split(' ')[0]}` : ''} "${text}"`;
  };
  const fixed = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const position = getComputedStyle(e).position;
      if (position === 'fixed' || position === 'sticky') return true;
    }
    return false;
  };

  const scroll = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  if (scroll > width + 1) {
    const wide = [...document.body.querySelectorAll('*')]
      .filter((el) => visible(el) && el.getBoundingClientRect().right > width + 1)
      .slice(-3)
      .map((el) => `${describe(el)} right=${Math.round(el.getBoundingClientRect().right)}`);
    problems.push(`horizontal overflow: ${scroll}px on a ${width}px screen (${wide.join('; ')})`);
  }

  const controls = 'button, a[href], input:not([type="hidden"]), select, textarea, [role="button"], [role="menuitem"]';
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > width + 1) {
      problems.push(`control outside the screen across: ${describe(el)} at ${Math.round(r.left)}..${Math.round(r.right)}`);
    } else if (fixed(el) && (r.top < -1 || r.bottom > height + 1)) {
      problems.push(`fixed control outside the screen: ${describe(el)} at top ${Math.round(r.top)}..${Math.round(r.bottom)}`);
    }
  }

  // A Latin word laid out on more than one line was broken mid-word (hyphens, anywhere-breaks).
  // Addresses (links to the web, mail, phones) may break: they are not words.
  const word = /[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]{2,}/g;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !visible(el) || el.closest('a[href^="http"], a[href^="mailto:"], a[href^="tel:"], script, style, option')) continue;
    word.lastIndex = 0;
    for (let m = word.exec(node.data); m; m = word.exec(node.data)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom)));
      if (lines.size > 1) problems.push(`word broken across lines: "${m[0]}" in ${describe(el)}`);
    }
  }
  return [...new Set(problems)];
}

/** A second person in the same browser (a context of their own: their own cookies). */
async function personIn(run, browser, name) {
  const context = await browser.newContext({
    viewport: { width: SHOT_WIDTH, height: HEIGHT },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    locale: 'en-US',
    baseURL: run.config.base,
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.on('pageerror', (error) => log(name, `page error: ${error.message}`));
  const person = new Person(run, name, browser, context, page);
  return person;
}

/** Sign in from the page itself (the session cookie lands in this person's context). */
async function signInInPage(run, person, phone) {
  await person.page.goto('/');
  const before = run.outboxLength();
  const sent = await person.page.evaluate(async (phone) => {
    const r = await fetch('/api/v1/auth/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone }) });
    return { status: r.status, body: await r.json() };
  }, phone);
  if (sent.status !== 202) throw new Error(`${person.name}: POST /auth/code answered ${sent.status}`);
  const code = await run.codeFor(phone, { after: before });
  const session = await person.page.evaluate(async ({ phone, code, ticket }) => {
    const r = await fetch('/api/v1/auth/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, code, ticket }) });
    return { status: r.status, body: await r.json() };
  }, { phone, code, ticket: sent.body.ticket });
  if (session.status !== 200) throw new Error(`${person.name}: POST /auth/session answered ${session.status}`);
  person.log(`signed in (${session.body.account.status})`);
  return session.body.account;
}

/** An API call from the person's page (cookie session, CSRF header). */
async function api(person, method, path, body = null) {
  const answer = await person.page.evaluate(async ({ method, path, body }) => {
    const csrf = (document.cookie.match(/(?:^|;\s*)mitalk_csrf=([^;]*)/) || [])[1] || '';
    const r = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) };
  }, { method, path, body });
  if (answer.status >= 300) throw new Error(`${person.name}: ${method} ${path} answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Open a screen in a language and wait until it has loaded what it shows. */
async function open(person, screen, lang) {
  const page = person.page;
  await page.setViewportSize({ width: SHOT_WIDTH, height: HEIGHT });
  await page.goto(`/${screen.hash}`);
  await page.evaluate((lang) => localStorage.setItem('mitalk.language', lang), lang);
  await page.reload();
  await person.until(`<html lang="${lang}">`, async () => (await page.evaluate(() => document.documentElement.lang)) === lang);
  await person.see(page.locator(screen.ready).first(), `${screen.name} (${lang})`);
  await person.until(`${screen.name} to finish loading`, async () =>
    (await page.locator('[aria-busy="true"]').count()) === 0);
  if (screen.then) await screen.then(person);
  await page.waitForTimeout(150);
}

main(async (run) => {
  run.operator('admin', 'phase', 'open');
  const browser = await chromium.launch({ executablePath: run.config.chromium, args: BASE_FLAGS, timeout: WAIT_MS });
  run.people.push({ name: 'layout', browser, page: null });
  const people = {};
  for (const name of ['M', 'S', 'L', 'O', 'anonymous']) people[name] = await personIn(run, browser, name);
  const ids = {};
  for (const name of ['M', 'S', 'L', 'O']) ids[name] = (await signInInPage(run, people[name], PEOPLE[name].phone)).id;
  for (const name of ['M', 'S', 'L']) {
    const { name: full, headline, company } = PEOPLE[name];
    await api(people[name], 'PATCH', '/me/profile', { name: full, headline, company, skills: ['Payments', 'Produktmanagement'], topics: ['Fintech'] });
  }
  for (const lang of LANGUAGES) {
    const name = reader(lang);
    people[name] = await personIn(run, browser, name);
    ids[name] = (await signInInPage(run, people[name], READERS[lang].phone)).id;
    await api(people[name], 'PATCH', '/me/profile', { name: READERS[lang].name });
    await api(people[name], 'PUT', '/me/language', { language: lang });
  }
  run.operator('admin', 'phase', 'invite');
  people.W = await personIn(run, browser, 'W');
  await signInInPage(run, people.W, PEOPLE.W.phone);
  run.people.push(...Object.values(people).map((p) => ({ name: p.name, browser: { close: async () => {} }, page: p.page })));

  // Something to show everywhere: a live room with a speaker and a listener, a request and a
  // follow for M (notices, the network), an invite sent, a scheduled room in the hallway.
  const room = await api(people.M, 'POST', '/rooms', { title: ROOM_TITLE, topics: ['Zahlungsverkehr', 'Fintech'], visibility: 'open' });
  await api(people.S, 'POST', `/rooms/${room.id}/join`);
  await api(people.L, 'POST', `/rooms/${room.id}/join`);
  await api(people.M, 'POST', `/rooms/${room.id}/speakers`, { user_id: ids.S });
  await api(people.L, 'POST', `/rooms/${room.id}/hand`);
  await api(people.L, 'POST', `/users/${ids.M}/follow`);
  await api(people.S, 'POST', '/connections', { user_id: ids.M });
  await api(people.M, 'POST', '/invites', { phone: '+4915190000049' });
  for (const lang of LANGUAGES) {
    await api(people.S, 'POST', '/connections', { user_id: ids[reader(lang)] });
    await api(people.M, 'POST', '/connections', { user_id: ids[reader(lang)] });
  }
  const later = new Date(Date.now() + 26 * 3600 * 1000).toISOString();
  await api(people.L, 'POST', '/rooms', { title: 'Kreditvergabe für kleine Unternehmen', topics: ['Lending'], visibility: 'open', starts_at: later });

  const menuOn = (userId) => async (person) => {
    const tile = person.page.locator(`[data-testid="participant"][data-user-id="${userId}"]`);
    await (await person.see(tile.getByTestId('participant-menu'), 'the menu button on a tile')).click();
    await person.see(person.page.locator('[role="menu"]'), 'the open menu');
  };
  const screens = [
    { name: 'signin', who: 'anonymous', hash: '#/', ready: '[data-testid="phone-input"]' },
    { name: 'waiting', who: 'W', hash: '#/', ready: '[data-testid="waitlist-position"]' },
    { name: 'onboarding', who: 'O', hash: '#/', ready: '[data-testid="onboarding-name"]' },
    { name: 'hallway', who: 'L', hash: '#/', ready: '[data-testid="room-card"]' },
    { name: 'room-moderator', who: 'M', hash: `#/room/${room.id}`, ready: '[data-testid="participant"]', then: menuOn(ids.S), menu: true },
    { name: 'room-speaker', who: 'S', hash: `#/room/${room.id}`, ready: '[data-testid="participant"]', then: menuOn(ids.M), menu: true },
    { name: 'room-listener', who: 'L', hash: `#/room/${room.id}`, ready: '[data-testid="participant"]', then: menuOn(ids.S), menu: true },
    { name: 'profile', who: 'M', hash: '#/profile', ready: '[data-testid="profile-name"]' },
    { name: 'network', who: 'M', hash: '#/connections', ready: '[data-testid="incoming-list"]' },
    {
      name: 'search', who: 'L', hash: '#/search', ready: '[data-testid="search-input"]',
      then: async (person) => {
        await person.id('search-input').fill('Maximilian');
        await person.see(person.page.locator('[data-testid="search-people"] li'), 'a search result');
      },
    },
    { name: 'invites', who: 'M', hash: '#/invites', ready: '[data-testid="invite-row"]' },
    {
      name: 'notifications', who: reader, hash: '#/notifications', ready: '[data-testid="notice"]',
      then: async (person) => {
        const lang = await person.page.evaluate(() => document.documentElement.lang);
        const bodies = person.page.locator('[data-testid="notice"] .notice-body');
        await person.until(`two requests in ${lang}, in their reader's words`, async () => {
          const texts = await bodies.allInnerTexts();
          return texts.length === 2 && texts.every((text) => text.includes(READERS[lang].says));
        });
      },
    },
  ];

  // The checks themselves must catch what they look for: a page made to overflow, with a
  // button off the screen and a word broken mid-word, has to fail all three.
  const probe = people.anonymous;
  await probe.page.goto('/');
  await probe.page.evaluate(() => {
    const box = document.createElement('div');
    box.id = 'layout-probe';
    // Styles through the CSSOM: the app's CSP refuses inline style attributes.
    const wide = document.createElement('div');
    Object.assign(wide.style, { width: '1200px', height: '10px' });
    const button = document.createElement('button');
    button.textContent = 'Weit';
    Object.assign(button.style, { position: 'relative', left: '600px' });
    const word = document.createElement('p');
    word.textContent = 'Zahlungsverkehr';
    Object.assign(word.style, { width: '40px', wordBreak: 'break-all' });
    box.append(wide, button, word);
    document.body.append(box);
  });
  const caught = await probe.page.evaluate(layoutProblems, { width: SHOT_WIDTH, height: HEIGHT });
  await probe.page.evaluate(() => document.getElementById('layout-probe').remove());
  for (const kind of ['horizontal overflow', 'control outside the screen', 'word broken across lines']) {
    if (!caught.some((problem) => problem.startsWith(kind))) {
      throw new Error(`the layout check misses "${kind}" on a page made to show it: ${JSON.stringify(caught)}`);
    }
  }
  log('layout', `the checks catch a made-up overflow, an off-screen button and a broken word (${caught.length} problems)`);

  const failures = [];
  let checked = 0;
  for (const screen of screens) {
    for (const lang of LANGUAGES) {
      const person = people[typeof screen.who === 'function' ? screen.who(lang) : screen.who];
      await open(person, screen, lang);
      for (const width of WIDTHS) {
        await person.page.setViewportSize({ width, height: HEIGHT });
        await person.page.waitForTimeout(120);
        if (screen.menu && (await person.page.locator('[role="menu"]').count()) === 0) await screen.then(person);
        const problems = await person.page.evaluate(layoutProblems, { width, height: HEIGHT });
        checked += 1;
        for (const problem of problems) failures.push(`${screen.name} ${lang} ${width}px: ${problem}`);
        if (width === SHOT_WIDTH) {
          const file = join(run.out, 'screens', `layout-${screen.name}-${lang}.png`);
          await person.page.screenshot({ path: file });
        }
      }
      log(person.name, `${screen.name} ${lang}: ${WIDTHS.join(', ')} px checked`);
    }
  }
  log('layout', `${checked} layouts checked (${screens.length} screens x ${LANGUAGES.length} languages x ${WIDTHS.length} widths)`);
  if (failures.length > 0) throw new Error(`${failures.length} layout problems:\n  ${failures.join('\n  ')}`);
});
