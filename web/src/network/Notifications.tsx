import { useEffect, useState } from "preact/hooks";
import { api, call, type Notice } from "../api/client";
import { catalogs, t, type MessageKey } from "../i18n";
import { noticeVersion, refreshUnread, unreadNotices } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";
import { formatDateTime, formatRelative } from "../ui/time";

/** Where a notice leads: the person for people's notices, else the room (`data` from the server). */
export function noticeLink(notice: Pick<Notice, "kind" | "data">): string | null {
  const data = notice.data ?? {};
  const roomId = typeof data.room_id === "string" ? data.room_id : null;
  const userId = typeof data.user_id === "string" ? data.user_id : null;
  // A card offered opens the card itself, with Accept / Decline (not the person's page).
  if (notice.kind === "card_offered" && typeof data.card_id === "string") return `#/cards/${data.card_id}`;
  const personFirst = /^(connection_|card_)/.test(notice.kind);
  if (personFirst && userId) return `#/people/${userId}`;
  if (roomId) return `#/room/${roomId}`;
  if (userId) return `#/people/${userId}`;
  return null;
}

function kindTitle(kind: string): string {
  const key = `notices.${kind}`;
  return key in catalogs.en ? t(key as MessageKey) : t("notices.other");
}

/** The bell in the header: a link to the notices with the unread count, kept live by the socket. */
export function Bell() {
  const unread = useObservable(unreadNotices) ?? 0;
  return (
    <a
      href="#/notifications"
      class="bell"
      data-testid="nav-notifications"
      data-unread={unread}
      aria-label={unread > 0 ? t("notices.bell_unread", { count: unread }) : t("notices.title")}
    >
      <svg width="24" height="24" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
        <path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15zM10 20.5a2 2 0 0 0 4 0" />
      </svg>
      {unread > 0 && (
        <span class="bell-count" data-testid="notification-count" aria-hidden="true">
          {unread > 99 ? "99+" : unread}
        </span>
      )}
    </a>
  );
}

/** Your notices, newest first; opening the list marks them read. */
export function NotificationsScreen() {
  const version = useObservable(noticeVersion);
  const [notices, setNotices] = useState<Notice[] | null>(null);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);

  useEffect(() => {
    let stopped = false;
    async function load() {
      try {
        const list = await call(api.GET("/api/v1/notifications", { params: { query: { limit: 50 } } }));
        if (stopped) return;
        setNotices(list.notifications);
        const newest = list.notifications[0];
        if (list.unread > 0 && newest) {
          await call(api.POST("/api/v1/notifications/read", { body: { up_to: newest.id } }));
          unreadNotices.set(0);
          void refreshUnread();
        }
      } catch (e) {
        if (!stopped) setError(asError(e));
      }
    }
    void load();
    return () => {
      stopped = true;
    };
  }, [version]);

  return (
    <section class="notifications">
      <h1 tabIndex={-1}>{t("notices.title")}</h1>
      <ErrorText error={error} />
      {notices === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : notices.length === 0 ? (
        <p class="empty">{t("notices.empty")}</p>
      ) : (
        <ul class="notice-list" data-testid="notice-list">
          {notices.map((notice) => {
            const link = noticeLink(notice);
            const body = (
              <>
                <span class="notice-title">
                  {!notice.read && <span class="unread-dot" aria-hidden="true" />}
                  {!notice.read && <span class="visually-hidden">{t("notices.unread")}</span>}
                  {kindTitle(notice.kind)}
                </span>
                <span class="notice-body">{notice.body}</span>
                <time class="notice-time" dateTime={notice.created_at} title={formatDateTime(notice.created_at)}>
                  {formatRelative(notice.created_at)}
                </time>
              </>
            );
            return (
              <li key={notice.id} data-testid="notice" data-kind={notice.kind} data-read={notice.read ? "true" : "false"}>
                {link ? (
                  <a class="card notice-row" href={link}>
                    {body}
                  </a>
                ) : (
                  <div class="card notice-row">{body}</div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
