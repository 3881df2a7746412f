// Who is signed in, and their account as it changes (the per-account WebSocket).
import { api, call, setUnauthorizedHandler, type Account, type Schemas } from "./api/client";
import { language } from "./i18n";
import { LiveSocket } from "./realtime/socket";
import { Observable } from "./store/observable";

/** undefined while loading, null when signed out. */
export const account = new Observable<Account | null | undefined>(undefined);
/** Bumped whenever the hallway changed (a room started, ended or changed size). */
export const hallwayVersion = new Observable<number>(0);
/** The claim window that matters now (undefined: not known yet), kept live by the socket. */
export const claimWindow = new Observable<Schemas["ClaimWindowOut"] | null | undefined>(undefined);
/** How many notices are unread (null: not known yet); the socket's `notification.new` keeps it live. */
export const unreadNotices = new Observable<number | null>(null);
/** Bumped on every notice that arrives live (open lists refetch). */
export const noticeVersion = new Observable<number>(0);
/** Bumped when someone starts or stops following you (your profile and follower list refetch). */
export const networkVersion = new Observable<number>(0);
/** True from the moment a member without a name is let in until they finish onboarding. */
export const onboarding = new Observable<boolean>(false);

const ONBOARDING_KEY = "mitalk.onboarding";

/** The onboarding step this account was at when the page was left (null: none unfinished),
 *  so a reload mid-onboarding comes back to it instead of skipping the optional steps. */
export function savedOnboardingStep(accountId: string): string | null {
  try {
    const saved = JSON.parse(localStorage.getItem(ONBOARDING_KEY) ?? "null") as { id?: unknown; step?: unknown } | null;
    return saved && saved.id === accountId && typeof saved.step === "string" ? saved.step : null;
  } catch {
    return null; // storage off (private browsing) or a value from elsewhere: start as usual
  }
}

/** Remember the step an account is at in onboarding (null: done). */
export function saveOnboardingStep(accountId: string, step: string | null): void {
  try {
    if (step === null) localStorage.removeItem(ONBOARDING_KEY);
    else localStorage.setItem(ONBOARDING_KEY, JSON.stringify({ id: accountId, step }));
  } catch {
    // Storage off: a reload then skips the optional steps, as before.
  }
}
/** True while the per-account socket is connected. */
export const accountLive = new Observable<boolean>(false);

let accountSocket: LiveSocket | null = null;
let hallwayTimer: ReturnType<typeof setTimeout> | null = null;

function startAccountSocket(): void {
  accountSocket?.stop();
  accountSocket = new LiveSocket({
    path: "/api/v1/me/ws",
    onOpen: () => accountLive.set(true),
    onMessage: (message) => {
      const current = account.get();
      switch (message.type) {
        case "hello":
        case "account.changed":
          account.set(message.account as Account);
          break;
        case "waitlist.position":
          if (current) {
            account.set({
              ...current,
              waitlist: { position: message.position as number, total: message.total as number },
            });
          }
          break;
        case "waitlist.window":
          claimWindow.set((message.window as Schemas["ClaimWindowOut"] | null) ?? null);
          break;
        case "notification.new":
          unreadNotices.set(message.unread as number);
          noticeVersion.set(noticeVersion.get() + 1);
          break;
        case "notification.read":
          // Read on this or another device: every bell shows what is left.
          unreadNotices.set(message.unread as number);
          break;
        case "network.changed":
          networkVersion.set(networkVersion.get() + 1);
          break;
        case "hallway.changed":
          // Debounced: a burst of changes refetches once.
          if (hallwayTimer === null) {
            hallwayTimer = setTimeout(() => {
              hallwayTimer = null;
              hallwayVersion.set(hallwayVersion.get() + 1);
            }, 400);
          }
          break;
        default:
          break;
      }
    },
    onFinalClose: (code) => {
      accountLive.set(false);
      if (code === 4401) signedOut();
    },
  });
}

function signedIn(value: Account): void {
  account.set(value);
  startAccountSocket();
  if (value.status === "active") void refreshUnread();
  void keepLanguage(language.get());
}

/** Tell the server the app's language: notices and text messages are written in it. */
async function keepLanguage(lang: string): Promise<void> {
  const current = account.get();
  if (!current || current.language === lang) return;
  try {
    account.set(await call(api.PUT("/api/v1/me/language", { body: { language: lang as Schemas["LanguageIn"]["language"] } })));
  } catch {
    // Not fatal: the server keeps the language it had (the browser's at sign-in).
  }
}

language.subscribe((lang) => void keepLanguage(lang));

/** Fetch the unread count (on sign-in, and after marking notices read). */
export async function refreshUnread(): Promise<void> {
  try {
    const list = await call(api.GET("/api/v1/notifications", { params: { query: { limit: 1 } } }));
    unreadNotices.set(list.unread);
  } catch {
    // Not fatal: the bell shows no count until the next notice.
  }
}

/** Forget the session locally (after logout or a 401). */
export function signedOut(): void {
  accountSocket?.stop();
  accountSocket = null;
  accountLive.set(false);
  unreadNotices.set(null);
  account.set(null);
}

setUnauthorizedHandler(() => {
  if (account.get()) signedOut();
});

/** Load the account of the session cookie, if any. */
export async function loadAccount(): Promise<void> {
  try {
    signedIn(await call(api.GET("/api/v1/me")));
  } catch {
    account.set(null);
  }
}

/** Refetch the account (e.g. after claiming a pass). */
export async function refreshAccount(): Promise<void> {
  account.set(await call(api.GET("/api/v1/me")));
}

/** Ask for a sign-in code; its `ticket` goes back with the code (tries nobody else can use up). */
export async function requestCode(phone: string): Promise<{ phone: string; resend_in: number; ticket: string }> {
  return call(api.POST("/api/v1/auth/code", { body: { phone } }));
}

/** Verify the code; the server answers with an HttpOnly session cookie and a CSRF cookie. */
export async function verifyCode(phone: string, code: string, ticket: string | null): Promise<void> {
  const result = await call(api.POST("/api/v1/auth/session", { body: { phone, code, ticket } }));
  signedIn(result.account);
}

/** Where this account is signed in (newest first, this device marked `current`). */
export async function listSessions(): Promise<Schemas["SessionOut"][]> {
  return (await call(api.GET("/api/v1/me/sessions"))).sessions;
}

/** Sign one other device out (its open screens close at once). */
export async function endSession(sessionId: string): Promise<void> {
  await call(api.DELETE("/api/v1/me/sessions/{session_id}", { params: { path: { session_id: sessionId } } }));
}

/** Sign out on every device, this one too. */
export async function signOutEverywhere(): Promise<void> {
  try {
    await call(api.POST("/api/v1/auth/logout-all"));
  } finally {
    signedOut();
  }
}

/** Sign out on the server and here. */
export async function signOut(): Promise<void> {
  try {
    await call(api.POST("/api/v1/auth/logout"));
  } finally {
    signedOut();
  }
}
