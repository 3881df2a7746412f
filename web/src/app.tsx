import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { HallwayScreen } from "./hallway/Hallway";
import { language, t, type MessageKey } from "./i18n";
import { InvitesScreen } from "./invites/Invites";
import { ConnectionsScreen } from "./network/Connections";
import { CardScreen } from "./network/CardView";
import { FollowsScreen } from "./network/Follows";
import { MetScreen } from "./network/Met";
import { Bell, NotificationsScreen } from "./network/Notifications";
import { PersonScreen } from "./network/Person";
import { SearchScreen } from "./network/Search";
import { ProfileScreen } from "./profile/Profile";
import { RoomScreen } from "./room/Room";
import { navigate, route, routeHash, type Route } from "./router";
import { OnboardingScreen } from "./onboarding/Onboarding";
import { account, onboarding, savedOnboardingStep, signOut } from "./session";
import { SessionsCard } from "./settings/Sessions";
import { SignInScreen } from "./signin/SignIn";
import { useObservable } from "./store/hooks";
import { InviteIcon, PeopleIcon, PersonIcon, RoomsIcon, SearchIcon, SettingsIcon } from "./ui/icons";
import { LanguageSelect } from "./ui/LanguageSelect";
import { WaitingRoomScreen } from "./waiting/WaitingRoom";

function Tab(props: { to: Route; testId: string; label: MessageKey; current: Route; icon: ComponentChildren }) {
  const active = props.current.name === props.to.name;
  return (
    <a
      href={routeHash(props.to)}
      data-testid={props.testId}
      class={active ? "tab active" : "tab"}
      aria-current={active ? "page" : undefined}
    >
      {props.icon}
      <span class="tab-label">{t(props.label)}</span>
    </a>
  );
}

/** The top bar: the name, the bell and the settings (a phone's app bar). */
function TopBar(props: { waitlisted: boolean; current: Route }) {
  return (
    <header class="top">
      <a class="brand" href="#/">
        {t("app.name")}
      </a>
      <div class="top-tools">
        {!props.waitlisted && <Bell />}
        <a
          href={routeHash({ name: "settings" })}
          class={props.current.name === "settings" ? "top-icon active" : "top-icon"}
          data-testid="nav-settings"
          aria-label={t("nav.settings")}
          aria-current={props.current.name === "settings" ? "page" : undefined}
        >
          <SettingsIcon />
        </a>
      </div>
    </header>
  );
}

/** The tab bar at the bottom, in thumb reach (above the home indicator on phones). */
function TabBar(props: { current: Route; waitlisted: boolean }) {
  const { current } = props;
  return (
    <nav class="tabbar" aria-label={t("nav.label")} data-testid="tabbar">
      <Tab to={{ name: "hallway" }} testId="nav-hallway" label={props.waitlisted ? "nav.waitlist" : "nav.hallway"} current={current} icon={<RoomsIcon />} />
      {!props.waitlisted && (
        <>
          <Tab to={{ name: "search" }} testId="nav-search" label="nav.search" current={current} icon={<SearchIcon />} />
          <Tab to={{ name: "connections" }} testId="nav-connections" label="nav.connections" current={current} icon={<PeopleIcon />} />
          <Tab to={{ name: "invites" }} testId="nav-invites" label="nav.invites" current={current} icon={<InviteIcon />} />
        </>
      )}
      <Tab to={{ name: "profile" }} testId="nav-profile" label="nav.profile" current={current} icon={<PersonIcon />} />
    </nav>
  );
}

/** Settings: the language, where you are signed in, and signing out. */
function SettingsScreen() {
  return (
    <section class="settings">
      <h1 tabIndex={-1}>{t("settings.title")}</h1>
      <div class="card">
        <LanguageSelect visibleLabel />
      </div>
      <SessionsCard />
      <button type="button" class="secondary wide" data-testid="sign-out" onClick={() => void signOut()}>
        {t("nav.sign_out")}
      </button>
    </section>
  );
}

/** The app: sign-in, the waiting room, or the member's screens. */
export function App() {
  useObservable(language); // re-render everything on a language switch
  const me = useObservable(account);
  const current = useObservable(route);
  const onboardingOn = useObservable(onboarding);
  const main = useRef<HTMLElement>(null);
  // A member without a name (the first minutes after being let in) is onboarded first; the
  // steps after the name stay on screen until the last one, though the name is then saved.
  // A reload in the middle of onboarding comes back to its step.
  const needsName = me != null && me.status === "active" && !me.profile.name.trim();
  const resumes = me != null && me.status === "active" && savedOnboardingStep(me.id) !== null;
  useEffect(() => {
    if (needsName || resumes) onboarding.set(true);
  }, [needsName, resumes]);

  // Move focus to the new screen's heading, so screen readers announce it.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [current.name, current.name === "person" ? current.userId : current.name === "card" ? current.cardId : "", me?.status]);

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
  if (!waitlisted && (needsName || onboardingOn)) {
    // Any link (a room's, a person's) opens once onboarding is done: the route is kept.
    return (
      <main class="screen" id="main" ref={main}>
        <OnboardingScreen account={me} />
      </main>
    );
  }
  let screen;
  if (current.name === "settings") screen = <SettingsScreen />;
  else if (current.name === "profile") screen = <ProfileScreen account={me} />;
  else if (waitlisted) screen = <WaitingRoomScreen account={me} />;
  else if (current.name === "invites") screen = <InvitesScreen phone={me.phone} />;
  else if (current.name === "search") screen = <SearchScreen />;
  else if (current.name === "person") screen = <PersonScreen key={current.userId} userId={current.userId} />;
  else if (current.name === "connections") screen = <ConnectionsScreen />;
  else if (current.name === "notifications") screen = <NotificationsScreen />;
  else if (current.name === "follows") screen = <FollowsScreen key={`${current.userId}/${current.which}`} userId={current.userId} which={current.which} />;
  else if (current.name === "card") screen = <CardScreen key={current.cardId} cardId={current.cardId} />;
  else if (current.name === "met") screen = <MetScreen key={current.roomId ?? ""} roomId={current.roomId} />;
  else if (current.name === "room") screen = <RoomScreen key={current.roomId} roomId={current.roomId} account={me} />;
  else screen = <HallwayScreen onOpen={(roomId) => navigate({ name: "room", roomId })} />;
  // A live room is the whole screen: its own bar (leave, hand, mic) takes the bottom.
  const inRoom = current.name === "room";
  return (
    <>
      <TopBar waitlisted={waitlisted} current={current} />
      <main class={inRoom ? "screen in-room" : "screen"} id="main" ref={main}>
        {screen}
      </main>
      {!inRoom && <TabBar current={current} waitlisted={waitlisted} />}
    </>
  );
}
