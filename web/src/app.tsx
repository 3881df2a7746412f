import { useEffect, useRef } from "preact/hooks";
import { HallwayScreen } from "./hallway/Hallway";
import { language, LANGUAGES, setLanguage, t, type Language, type MessageKey } from "./i18n";
import { InvitesScreen } from "./invites/Invites";
import { ConnectionsScreen } from "./network/Connections";
import { MetScreen } from "./network/Met";
import { Bell, NotificationsScreen } from "./network/Notifications";
import { PersonScreen } from "./network/Person";
import { SearchScreen } from "./network/Search";
import { ProfileScreen } from "./profile/Profile";
import { RoomScreen } from "./room/Room";
import { navigate, route, routeHash, type Route } from "./router";
import { account, signOut } from "./session";
import { SignInScreen } from "./signin/SignIn";
import { useObservable } from "./store/hooks";
import { WaitingRoomScreen } from "./waiting/WaitingRoom";

const LANGUAGE_NAMES: Record<Language, MessageKey> = {
  en: "language.en",
  de: "language.de",
  "zh-Hans": "language.zh-Hans",
  "zh-Hant": "language.zh-Hant",
};

/** The language chooser (on every screen). */
export function LanguageSelect() {
  const current = useObservable(language);
  return (
    <label class="language">
      <span class="visually-hidden">{t("nav.language")}</span>
      <select
        data-testid="language-select"
        value={current}
        onChange={(event) => setLanguage((event.currentTarget as HTMLSelectElement).value as Language)}
      >
        {LANGUAGES.map((lang) => (
          <option value={lang} lang={lang} key={lang}>
            {t(LANGUAGE_NAMES[lang])}
          </option>
        ))}
      </select>
    </label>
  );
}

function NavLink(props: { to: Route; testId: string; label: MessageKey; current: Route }) {
  const active = props.current.name === props.to.name;
  return (
    <a
      href={routeHash(props.to)}
      data-testid={props.testId}
      class={active ? "nav-link active" : "nav-link"}
      aria-current={active ? "page" : undefined}
    >
      {t(props.label)}
    </a>
  );
}

function Header(props: { current: Route; waitlisted: boolean }) {
  return (
    <header class="top">
      <a class="brand" href="#/">
        {t("app.name")}
      </a>
      <nav aria-label={t("nav.label")}>
        <NavLink
          to={{ name: "hallway" }}
          testId="nav-hallway"
          label={props.waitlisted ? "nav.waitlist" : "nav.hallway"}
          current={props.current}
        />
        {!props.waitlisted && (
          <>
            <NavLink to={{ name: "search" }} testId="nav-search" label="nav.search" current={props.current} />
            <NavLink to={{ name: "connections" }} testId="nav-connections" label="nav.connections" current={props.current} />
          </>
        )}
        <NavLink to={{ name: "profile" }} testId="nav-profile" label="nav.profile" current={props.current} />
        {!props.waitlisted && (
          <NavLink to={{ name: "invites" }} testId="nav-invites" label="nav.invites" current={props.current} />
        )}
      </nav>
      <div class="top-tools">
        {!props.waitlisted && <Bell />}
        <LanguageSelect />
        <button type="button" class="link-button" data-testid="sign-out" onClick={() => void signOut()}>
          {t("nav.sign_out")}
        </button>
      </div>
    </header>
  );
}

/** The app: sign-in, the waiting room, or the member's screens. */
export function App() {
  useObservable(language); // re-render everything on a language switch
  const me = useObservable(account);
  const current = useObservable(route);
  const main = useRef<HTMLElement>(null);

  // Move focus to the new screen's heading, so screen readers announce it.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [current.name, current.name === "person" ? current.userId : "", me?.status]);

  if (me === undefined) {
    return (
      <main class="screen center" aria-busy="true">
        <p>{t("app.loading")}</p>
      </main>
    );
  }
  if (me === null) {
    return (
      <main class="screen" ref={main}>
        <SignInScreen />
      </main>
    );
  }
  const waitlisted = me.status !== "active";
  let screen;
  if (current.name === "profile") screen = <ProfileScreen account={me} />;
  else if (waitlisted) screen = <WaitingRoomScreen account={me} />;
  else if (current.name === "invites") screen = <InvitesScreen phone={me.phone} />;
  else if (current.name === "search") screen = <SearchScreen />;
  else if (current.name === "person") screen = <PersonScreen key={current.userId} userId={current.userId} />;
  else if (current.name === "connections") screen = <ConnectionsScreen />;
  else if (current.name === "notifications") screen = <NotificationsScreen />;
  else if (current.name === "met") screen = <MetScreen key={current.roomId ?? ""} roomId={current.roomId} />;
  else if (current.name === "room") screen = <RoomScreen key={current.roomId} roomId={current.roomId} account={me} />;
  else screen = <HallwayScreen onOpen={(roomId) => navigate({ name: "room", roomId })} />;
  return (
    <>
      <Header current={current} waitlisted={waitlisted} />
      <main class="screen" id="main" ref={main}>
        {screen}
      </main>
    </>
  );
}
