// Helpers for the browser tests: one headless Chromium per person, bounded waits that say what
// they wait for (and leave a screenshot when they give up), and the inbound audio a page hears.
//
// Run by tests/media/test_web.py inside the media tests' network namespace; see web/e2e/README.md.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** Flags every browser gets (shared/JANUS-NOTES: what Chromium needs against Janus, headless). */
export const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A phone-sized screen: what the screenshots and every person's page use. */
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'en-US',
};

/** Default bound of one wait (ms); generous for a loaded 2-core machine, still bounded. */
export const WAIT_MS = 20_000;

// Recorded in every page before the app runs, without touching the app: each
// RTCPeerConnection the page makes, so the test can read its getStats().
const RECORD_PEER_CONNECTIONS = `(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__e2e) return;
  window.__e2e = { pcs: [] };
  window.RTCPeerConnection = new Proxy(Native, {
    construct(target, args, newTarget) {
      const pc = Reflect.construct(target, args, newTarget);
      window.__e2e.pcs.push(pc);
      return pc;
    },
  });
})();`;

const started = Date.now();

/** Print one progress line, with the seconds since the run began. */
export function log(who, message) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[${t}s] ${who.padEnd(8)} ${message}`);
}

/** The run: its settings (from the JSON file pytest writes), output folder and people. */
export class Run {
  constructor(config) {
    this.config = config;
    this.out = config.outDir;
    this.people = [];
    mkdirSync(join(this.out, 'screens'), { recursive: true });
    mkdirSync(join(this.out, 'failures'), { recursive: true });
  }

  static fromArgv() {
    const file = process.argv[2];
    if (!file) throw new Error('usage: node web/e2e/<scenario>.mjs CONFIG.json');
    return new Run(JSON.parse(readFileSync(file, 'utf8')));
  }

  /**
   * A person with a browser of their own (as a real user has). ``mic``: a WAV file the fake
   * microphone plays; ``micGranted``: the fake-UI flag grants it to every page from the start
   * (which also changes ICE: raw addresses instead of mDNS names), otherwise the microphone
   * is granted only when ``grantMicrophone()`` is called, as when a person clicks "Allow".
   */
  async person(name, { mic = null, micGranted = false, executable = null, env = null, flags = [] } = {}) {
    // ``executable``, ``env``, ``flags``: a browser elsewhere (e.g. a wrapper that runs chromium
    // in another network namespace, with a HOME whose NSS database trusts a test CA).
    const args = [...BASE_FLAGS, ...flags];
    if (mic) {
      args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${mic}`);
      if (micGranted) args.push('--use-fake-ui-for-media-stream');
    }
    const browser = await chromium.launch({
      executablePath: executable || this.config.chromium,
      args,
      timeout: WAIT_MS,
      ...(env ? { env: { ...process.env, ...env } } : {}),
    });
    const context = await browser.newContext({ ...PHONE, baseURL: this.config.base });
    await context.addInitScript({ content: RECORD_PEER_CONNECTIONS });
    context.setDefaultTimeout(WAIT_MS); // every action is bounded, not only the waits below
    const page = await context.newPage();
    const person = new Person(this, name, browser, context, page);
    page.on('pageerror', (error) => log(name, `page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') log(name, `console error: ${message.text()}`);
    });
    this.people.push(person);
    log(name, `browser ${browser.version()} started${mic ? ` (fake microphone: ${mic.split('/').pop()}${micGranted ? ', granted' : ''})` : ''}`);
    return person;
  }

  /** The newest sign-in code texted to ``phone`` (the console SMS sender's outbox). */
  async codeFor(phone, { after = 0 } = {}) {
    return waitFor(`a text message with a code for ${phone}`, () => {
      if (!existsSync(this.config.outbox)) return null;
      const lines = readFileSync(this.config.outbox, 'utf8').trim().split('\n').filter(Boolean);
      for (const line of lines.slice(after).reverse()) {
        const message = JSON.parse(line);
        const code = message.to === phone && /\b(\d{6})\b/.exec(message.body);
        if (code) return code[1];
      }
      return null;
    });
  }

  /** How many messages the outbox holds (so a wait can look only at newer ones). */
  outboxLength() {
    if (!existsSync(this.config.outbox)) return 0;
    return readFileSync(this.config.outbox, 'utf8').trim().split('\n').filter(Boolean).length;
  }

  /** Run `mitalk ARGS…` as the operator of this deployment would; fail on a non-zero exit. */
  operator(...args) {
    const [command, ...prefix] = this.config.mitalk;
    log('operator', `mitalk ${args.join(' ')}`);
    const result = spawnSync(command, [...prefix, ...args], { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) {
      throw new Error(`mitalk ${args.join(' ')} exited ${result.status}: ${result.stderr || result.stdout}`);
    }
    log('operator', `→ ${result.stdout.trim()}`);
    return result.stdout;
  }

  /** Close every browser (also after a failure). */
  async close() {
    await Promise.allSettled(this.people.map((person) => person.browser.close()));
  }
}

/** Poll ``check`` (sync or async) until it returns something truthy; fail after ``timeout``. */
export async function waitFor(what, check, { timeout = WAIT_MS, every = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** Sign ``phone`` in through the API, as another person's phone would: { account, token }. */
export async function signInByApi(run, phone) {
  const post = (path, body) =>
    fetch(`${run.config.base}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const before = run.outboxLength();
  const sent = await post('/auth/code', { phone });
  if (sent.status !== 202) throw new Error(`POST /auth/code for ${phone}: ${sent.status} ${await sent.text()}`);
  const code = await run.codeFor(phone, { after: before });
  const verified = await post('/auth/verify', { phone, code });
  if (verified.status !== 200) throw new Error(`POST /auth/verify for ${phone}: ${verified.status} ${await verified.text()}`);
  return verified.json();
}

/** One person: their browser, their page, and what they do in the app. */
export class Person {
  constructor(run, name, browser, context, page) {
    Object.assign(this, { run, name, browser, context, page });
  }

  log(message) {
    log(this.name, message);
  }

  /** The element with ``data-testid=id`` (optionally inside ``within``). */
  id(id, within = this.page) {
    return within.getByTestId(id);
  }

  /**
   * Wait until ``locator`` is visible; on timeout, leave a screenshot and fail saying what was
   * awaited.
   */
  async see(locator, what, { timeout = WAIT_MS } = {}) {
    this.log(`waits for ${what}`);
    try {
      await locator.first().waitFor({ state: 'visible', timeout });
    } catch (error) {
      throw await this.failure(`did not see ${what} within ${timeout / 1000}s`, error);
    }
    return locator.first();
  }

  /** Wait until ``check`` holds (see waitFor), with a screenshot if it never does. */
  async until(what, check, options = {}) {
    this.log(`waits for ${what}`);
    try {
      return await waitFor(what, check, options);
    } catch (error) {
      throw await this.failure(error.message, error);
    }
  }

  /** Click the element ``testId`` once it is visible. */
  async tap(testId, what = testId) {
    const element = await this.see(this.id(testId), what);
    await element.click();
    this.log(`clicked ${what}`);
  }

  /** An error for a failed step, with a screenshot of this person's page. */
  async failure(message, cause) {
    const file = join(this.run.out, 'failures', `${this.name}-${Date.now()}.png`);
    try {
      await this.page.screenshot({ path: file, fullPage: true, timeout: 5000 });
    } catch {
      /* the page may be gone */
    }
    const error = new Error(`${this.name}: ${message}\n  page: ${this.page.url()}\n  screenshot: ${file}`);
    error.cause = cause;
    return error;
  }

  /** Save what the screen shows now as ``screens/<name>.png`` (phone-sized, at 2x). */
  async screenshot(name) {
    await this.page.evaluate(() => document.fonts && document.fonts.ready);
    const file = join(this.run.out, 'screens', `${name}.png`);
    await this.page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
    this.log(`screenshot ${name}.png`);
    return file;
  }

  /** Grant the microphone to the app's origin, as a person clicking "Allow" would. */
  async grantMicrophone() {
    await this.context.grantPermissions(['microphone'], { origin: this.run.config.base });
    this.log('allowed the microphone');
  }

  /** Sign in through the UI: country, national number, the texted code. */
  async signIn(phone, { country = 'DE', dialCode = '+49', screenshots = false, mistakes = false, onboard = true, name = null, atPeople = null } = {}) {
    const page = this.page;
    await page.goto('/');
    const select = await this.see(this.id('phone-country'), 'the country chooser');
    const value = await this.until(`an option for ${country} (${dialCode}) in the country chooser`, () =>
      select.evaluate(
        (element, wanted) => {
          const options = [...element.options];
          const match = options.find((o) => o.value === wanted.country)
            || options.find((o) => o.textContent.includes(wanted.dialCode));
          return match ? match.value : null;
        },
        { country, dialCode },
      ), { timeout: 5000 });
    await select.selectOption(value);
    const national = phone.startsWith(dialCode) ? phone.slice(dialCode.length) : phone;
    if (mistakes) {
      // A number too short for the country: the server's invalid_phone, in words, at the form.
      await this.id('phone-input').fill(national.slice(0, 3));
      await this.tap('send-code', 'the send-code button (with a short number)');
      await this.seeError('That is not a valid phone number');
    }
    await this.id('phone-input').fill(national);
    this.log(`entered ${country} ${national}`);
    if (screenshots) await this.screenshot('signin-phone');
    const before = this.run.outboxLength();
    await this.tap('send-code', 'the send-code button');
    const codeInput = await this.see(this.id('code-input'), 'the code step');
    const code = await this.run.codeFor(phone, { after: before });
    if (mistakes) {
      const wrong = code === '000000' ? '111111' : '000000';
      await codeInput.fill(wrong);
      await this.tap('verify-code', 'the verify button (with a wrong code)');
      await this.seeError('That code is wrong or has expired');
    }
    await codeInput.fill(code);
    this.log(`entered the code ${code}`);
    if (screenshots) await this.screenshot('signin-code');
    await this.tap('verify-code', 'the verify button');
    if (!onboard) return;
    // A member let in without a name is onboarded first: give the name, skip the rest.
    await this.until('the app, the waiting room or onboarding after signing in', async () =>
      (await this.id('onboarding').count()) > 0 || (await this.id('nav-hallway').count()) > 0);
    if ((await this.id('onboarding').count()) > 0) await this.onboard(name ?? `Person ${this.name}`, { atPeople });
  }

  /** Go through onboarding: the name it requires, then skip every other step (``atPeople``: a
   *  check to run on the people step, e.g. of its wording, before it is left). */
  async onboard(name, { atPeople = null } = {}) {
    await (await this.see(this.id('onboarding-name'), 'the name step of onboarding')).fill(name);
    await this.tap('onboarding-next', 'continue after the name');
    for (const step of ['photo', 'headline', 'topics']) {
      await this.see(this.page.locator(`[data-testid="onboarding"][data-step="${step}"]`), `the ${step} step`);
      await this.tap('onboarding-skip', `skip the ${step} step`);
    }
    await this.see(this.page.locator('[data-testid="onboarding"][data-step="people"]'), 'the people step');
    if (atPeople) await atPeople(this);
    await this.tap('onboarding-done', 'done with onboarding');
    await this.see(this.id('nav-hallway'), 'the app after onboarding');
  }

  /** The sign-in form shows an error that says ``text`` (English). */
  async seeError(text) {
    await this.until(`the sign-in error "${text}"`, async () => {
      const shown = this.id('signin-error');
      return (await shown.count()) > 0 && (await shown.first().innerText()).includes(text);
    });
    this.log(`saw the error "${text}"`);
  }

  /** Fill in and save the profile through the profile screen. */
  async saveProfile({ name, headline = null, company = null }, { screenshot = null } = {}) {
    await this.tap('nav-profile', 'the profile tab');
    await (await this.see(this.id('profile-name'), 'the profile form')).fill(name);
    if (headline !== null) await this.id('profile-headline').fill(headline);
    if (company !== null) await this.id('profile-company').fill(company);
    await this.tap('save-profile', 'the save button');
    await this.see(this.id('profile-saved'), 'the saved notice');
    if (screenshot) await this.screenshot(screenshot);
    await this.tap('nav-hallway', 'the hallway tab');
  }

  /** The participant tile of ``userId`` in the room (``data-user-id``). */
  participant(userId) {
    return this.page.locator(`[data-testid="participant"][data-user-id="${userId}"]`);
  }

  /** The signed-in account, as the app's own session sees it (GET /api/v1/me, same origin). */
  async me() {
    return this.page.evaluate(async () => {
      const response = await fetch('/api/v1/me', { credentials: 'same-origin' });
      if (!response.ok) throw new Error(`GET /api/v1/me: ${response.status}`);
      const body = await response.json();
      return body.account ?? body;
    });
  }

  /**
   * What the page receives now over its open peer connections, summed over inbound audio:
   * packets, and the RMS level over the last ``windowMs`` from totalAudioEnergy (measured
   * after the <audio> element's volume, so it is 0 unless the app really plays the audio).
   */
  async inboundAudio(windowMs = 600) {
    const read = () =>
      this.page.evaluate(async () => {
        let energy = 0;
        let duration = 0;
        let packets = 0;
        let level = 0;
        let streams = 0;
        for (const pc of (window.__e2e && window.__e2e.pcs) || []) {
          if (pc.connectionState === 'closed') continue;
          const stats = await pc.getStats();
          stats.forEach((s) => {
            if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
            streams += 1;
            energy += s.totalAudioEnergy || 0;
            duration += s.totalSamplesDuration || 0;
            packets += s.packetsReceived || 0;
            level = Math.max(level, s.audioLevel || 0);
          });
        }
        return { energy, duration, packets, level, streams };
      });
    const first = await read();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const second = await read();
    const seconds = second.duration - first.duration;
    const rms = seconds > 0 ? Math.sqrt(Math.max(0, second.energy - first.energy) / seconds) : 0;
    return { rms, level: second.level, packets: second.packets - first.packets, streams: second.streams };
  }

  /** Wait until the page hears sound: inbound RMS above ``threshold`` (bounded). */
  async hearsSound(what, { threshold = 0.01, timeout = WAIT_MS } = {}) {
    const startedAt = Date.now();
    const heard = await this.until(`${what} (inbound audio level above ${threshold})`, async () => {
      const now = await this.inboundAudio(400);
      return now.rms > threshold ? now : null;
    }, { timeout, every: 0 });
    this.log(`hears ${what}: RMS ${heard.rms.toFixed(4)}, audioLevel ${heard.level.toFixed(4)} after ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
    return heard;
  }

  /**
   * Assert the page hears nothing for ``ms`` while audio packets do arrive (so the silence
   * proves something: the connection is up, it just carries nobody's voice).
   */
  async hearsSilence(what, { ms = 1500, threshold = 0.003 } = {}) {
    this.log(`listens for ${ms / 1000}s expecting silence: ${what}`);
    const now = await this.inboundAudio(ms);
    if (now.packets < 10) throw await this.failure(`expected audio packets while checking "${what}", got ${now.packets} in ${ms / 1000}s`);
    if (now.rms > threshold) throw await this.failure(`heard sound (RMS ${now.rms.toFixed(4)} > ${threshold}) but expected silence: ${what}`);
    this.log(`silence confirmed: RMS ${now.rms.toFixed(4)} over ${now.packets} packets`);
  }

  /** The local ICE candidates of the page's open connections: type and address (for the log). */
  async localCandidates() {
    return this.page.evaluate(async () => {
      const found = [];
      for (const pc of (window.__e2e && window.__e2e.pcs) || []) {
        if (pc.connectionState === 'closed') continue;
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'local-candidate') found.push(`${s.candidateType} ${s.address || s.ip || '(address hidden: mDNS name)'}`);
        });
      }
      return found;
    });
  }

  /**
   * The loudest frequency the page receives, from a WebAudio analyser on the live inbound
   * audio tracks (null when no track or no running AudioContext).
   */
  async dominantFrequency() {
    return this.page.evaluate(async () => {
      const tracks = [];
      for (const pc of (window.__e2e && window.__e2e.pcs) || []) {
        if (pc.connectionState === 'closed') continue;
        for (const receiver of pc.getReceivers()) {
          if (receiver.track && receiver.track.kind === 'audio' && receiver.track.readyState === 'live') tracks.push(receiver.track);
        }
      }
      if (!tracks.length) return null;
      const context = new AudioContext();
      try {
        if (context.state !== 'running') await Promise.race([context.resume(), new Promise((r) => setTimeout(r, 1000))]);
        if (context.state !== 'running') return null;
        const analyser = context.createAnalyser();
        analyser.fftSize = 16384;
        analyser.smoothingTimeConstant = 0.5;
        for (const track of tracks) context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
        await new Promise((r) => setTimeout(r, 700));
        const bins = new Float32Array(analyser.frequencyBinCount);
        analyser.getFloatFrequencyData(bins);
        let best = 1;
        for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
        return (best * context.sampleRate) / analyser.fftSize;
      } finally {
        await context.close();
      }
    });
  }

  /** Assert the page hears a tone near ``hz`` (±15 Hz), retrying for a few seconds. */
  async hearsTone(hz, who) {
    let last = null;
    const what = `${who}'s ${hz} Hz tone in the WebAudio analyser`;
    this.log(`waits for ${what}`);
    try {
      await waitFor(what, async () => {
        last = await this.dominantFrequency();
        return last !== null && Math.abs(last - hz) < 15;
      }, { timeout: 8000, every: 200 });
    } catch (error) {
      const heard = last === null ? 'no running analyser or no inbound track' : `the loudest frequency was ${last.toFixed(0)} Hz`;
      throw await this.failure(`${error.message}; ${heard}`, error);
    }
    this.log(`hears ${who}'s tone: dominant frequency ${last.toFixed(0)} Hz`);
  }
}

/** Run ``scenario(run)``, close every browser, and exit 0 on success or 1 with the reason. */
export async function main(scenario) {
  const run = Run.fromArgv();
  try {
    await scenario(run);
    log('run', 'PASSED');
    await run.close();
    process.exit(0);
  } catch (error) {
    console.error(`\nFAILED: ${error.stack || error}`);
    if (error.cause) console.error(`cause: ${error.cause.message || error.cause}`);
    for (const person of run.people) {
      const file = join(run.out, 'failures', `${person.name}-at-exit.png`);
      try {
        await person.page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        console.error(`${person.name}'s page at exit: ${person.page.url()} (screenshot ${file})`);
      } catch {
        /* the browser may be gone */
      }
    }
    await run.close();
    process.exit(1);
  }
}
