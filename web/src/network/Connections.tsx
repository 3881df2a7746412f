import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, call, type Connection, type Person } from "../api/client";
import { t } from "../i18n";
import { noticeVersion } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";
import { PersonRow } from "./PersonRow";

interface Lists {
  connections: Connection[];
  incoming: Connection[];
  outgoing: Connection[];
  blocked: Person[];
}

/** Your connections, requests to answer, requests you sent, and whom you blocked. */
export function ConnectionsScreen() {
  const version = useObservable(noticeVersion);
  const [lists, setLists] = useState<Lists | null>(null);
  const { busy, error, setError, run: act } = useAction({ reload: load });

  async function load() {
    try {
      const [all, blocks] = await Promise.all([call(api.GET("/api/v1/connections")), call(api.GET("/api/v1/me/blocks"))]);
      setLists({ ...all, blocked: blocks.people });
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void load();
  }, [version]);

  const path = (id: string) => ({ params: { path: { connection_id: id } } });
  const row = (c: Connection, testId: string, actions?: ComponentChildren) => (
    <PersonRow
      key={c.id}
      id={c.person.id}
      name={c.person.profile.name}
      headline={c.person.profile.headline}
      avatarUrl={c.person.profile.avatar_url}
      testId={testId}
    >
      {actions}
    </PersonRow>
  );

  return (
    <section class="connections">
      <div class="screen-head">
        <h1 tabIndex={-1}>{t("connections.title")}</h1>
        <a class="button secondary small" href="#/met" data-testid="open-met">
          {t("met.title")}
        </a>
      </div>
      <ErrorText error={error} />
      {lists === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : (
        <>
          {lists.incoming.length > 0 && (
            <section aria-labelledby="incoming-heading">
              <h2 id="incoming-heading" class="section-title">
                {t("connections.incoming", { count: lists.incoming.length })}
              </h2>
              <ul class="person-list" data-testid="incoming-list">
                {lists.incoming.map((c) =>
                  row(
                    c,
                    "incoming-request",
                    <>
                      <button type="button" class="primary small" data-testid="accept-request" disabled={busy}
                        onClick={() => void act(() => call(api.POST("/api/v1/connections/{connection_id}/accept", path(c.id))))}>
                        {t("person.accept")}
                      </button>
                      <button type="button" class="secondary small" data-testid="decline-request" disabled={busy}
                        onClick={() => void act(() => call(api.POST("/api/v1/connections/{connection_id}/decline", path(c.id))))}>
                        {t("person.decline")}
                      </button>
                    </>,
                  ),
                )}
              </ul>
            </section>
          )}
          <section aria-labelledby="connected-heading">
            <h2 id="connected-heading" class="section-title">
              {t("connections.connected", { count: lists.connections.length })}
            </h2>
            {lists.connections.length === 0 ? (
              <p class="empty">{t("connections.none")}</p>
            ) : (
              <ul class="person-list" data-testid="connection-list">
                {lists.connections.map((c) => row(c, "connection"))}
              </ul>
            )}
          </section>
          {lists.outgoing.length > 0 && (
            <section aria-labelledby="outgoing-heading">
              <h2 id="outgoing-heading" class="section-title">
                {t("connections.outgoing", { count: lists.outgoing.length })}
              </h2>
              <ul class="person-list" data-testid="outgoing-list">
                {lists.outgoing.map((c) =>
                  row(
                    c,
                    "outgoing-request",
                    <button type="button" class="secondary small" data-testid="withdraw-outgoing" disabled={busy}
                      onClick={() => void act(() => call(api.DELETE("/api/v1/connections/{connection_id}", path(c.id))))}>
                      {t("person.withdraw")}
                    </button>,
                  ),
                )}
              </ul>
            </section>
          )}
          {lists.blocked.length > 0 && (
            <section aria-labelledby="blocked-heading">
              <h2 id="blocked-heading" class="section-title">
                {t("connections.blocked", { count: lists.blocked.length })}
              </h2>
              <ul class="person-list" data-testid="blocked-list">
                {lists.blocked.map((person) => (
                  <li class="card person-row" key={person.id} data-testid="blocked-person" data-user-id={person.id}>
                    <span class="person-name">{person.profile.name || t("common.unnamed")}</span>
                    <div class="actions">
                      <button type="button" class="secondary small" data-testid="unblock-person" disabled={busy}
                        onClick={() => void act(() => call(api.DELETE("/api/v1/users/{user_id}/block", { params: { path: { user_id: person.id } } })))}>
                        {t("person.unblock")}
                      </button>
                    </div>
                  </li>
                ))}
              </ul>
            </section>
          )}
        </>
      )}
    </section>
  );
}
