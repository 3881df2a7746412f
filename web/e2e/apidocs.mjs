// The API docs page in a real browser against a real `mitalk serve`: /api/docs renders the
// operations of the API from assets this server serves itself. Every request the page makes
// goes to this origin, and the page's Content-Security-Policy blocks nothing it needs.
//
//   node web/e2e/apidocs.mjs CONFIG.json     (tests/webclient/test_api_docs.py runs it)

import { main } from './lib.mjs';

main(async (run) => {
  const reader = await run.person('reader');
  const requested = [];
  const refused = [];
  reader.page.on('request', (request) => requested.push(request.url()));
  reader.page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) refused.push(message.text());
  });
  await reader.page.goto('/api/docs');
  await reader.see(reader.page.locator('.opblock').first(), 'the API operations');
  const operations = await reader.page.locator('.opblock').count();
  const title = (await reader.page.locator('.info .title').first().textContent()) || '';
  reader.log(`${operations} operations shown under "${title.trim()}"; ${requested.length} requests`);
  if (operations < 20) throw await reader.failure(`only ${operations} operations rendered`);
  if (!title.includes('Mi Talk')) throw await reader.failure(`the title reads "${title}"`);
  const origin = new URL(run.config.base).origin;
  const elsewhere = requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'));
  if (elsewhere.length) throw await reader.failure(`requests to other origins: ${elsewhere.join(', ')}`);
  if (refused.length) throw await reader.failure(`the CSP blocked: ${refused.join(' | ')}`);
});
