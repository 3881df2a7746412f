import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type PublicUser } from "../api/client";
import { t } from "../i18n";
import { account, networkVersion, noticeVersion } from "../session";
import { useObservable } from "../store/hooks";
import { Avatar } from "../ui/Avatar";
import { asError, ErrorText } from "../ui/ErrorText";
import { useAction } from "../ui/useAction";
import { industryLabel, openToLabel } from "./labels";
import { StaffSuspension } from "./Suspension";

type Err = ReturnType<typeof asError>;

/**
 * A person's public profile and what you can do with them: follow, connect (or accept,
 * withdraw, remove), block with a confirmation, unblock. Never a phone number: the API sends none.
 */
export function PersonView(props: { userId: string; inSheet?: boolean }) {
  const [user, setUser] = useState<PublicUser | null>(null);
  const [loadError, setLoadError] = useState<Err | null>(null);
  const { busy, error, run } = useAction({ reload: load });
  const [confirmBlock, setConfirmBlock] = useState(false);
  const [blockedName, setBlockedName] = useState<string | null>(null);
  const blockButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const userPath = { params: { path: { user_id: props.userId } } };

  async function load() {
    try {
      setUser(await call(api.GET("/api/v1/users/{user_id}", userPath)));
      setLoadError(null);
    } catch (e) {
      setLoadError(asError(e));
    }
  }

  useEffect(() => {
    setUser(null);
    setBlockedName(null);
    void load();
  }, [props.userId]);

  // The other side acts too: an accepted request (or card) arrives as a notice; read again, so
  // "Request sent" turns into "Connected" without a reload.
  // A follow or unfollow of you arrives as `network.changed`: your follower count follows it.
  const me = useObservable(account);
  const version = useObservable(noticeVersion) + useObservable(networkVersion);
  const firstVersion = useRef(version);
  useEffect(() => {
    if (version !== firstVersion.current) void load();
  }, [version]);

  useEffect(() => {
    if (confirmBlock) confirmButton.current?.focus();
  }, [confirmBlock]);

  const act = (work: () => Promise<unknown>, reload = true) => run(work, { reload });

  const Heading = props.inSheet ? "h2" : "h1";

  if (blockedName !== null) {
    return (
      <div class="person" data-testid="person-blocked">
        <Heading tabIndex={-1}>{blockedName}</Heading>
        <p class="card">{t("person.blocked_notice", { name: blockedName })}</p>
        <ErrorText error={error} />
        <button
          type="button"
          class="secondary"
          data-testid="unblock"
          disabled={busy}
          onClick={() =>
            void act(async () => {
              await call(api.DELETE("/api/v1/users/{user_id}/block", userPath));
              setBlockedName(null);
            })
          }
        >
          {t("person.unblock")}
        </button>
      </div>
    );
  }
  if (loadError) {
    return (
      <div class="person">
        <Heading tabIndex={-1}>{t("person.unavailable")}</Heading>
        <ErrorText error={loadError} />
      </div>
    );
  }
  if (!user) return <p aria-busy="true">{t("app.loading")}</p>;

  const p = user.profile;
  const name = p.name || t("common.unnamed");
  const hasFacts = Boolean(p.industry || p.location || p.bio) || p.skills.length + p.open_to.length + p.links.length > 0;
  const work = [p.role, p.company].filter(Boolean).join(" · ");
  const connectionId = user.connection_id ?? null;
  const connectionPath = connectionId ? { params: { path: { connection_id: connectionId } } } : null;

  return (
    <div class="person" data-testid="person-page" data-user-id={user.id} data-connection={user.connection ?? "none"}>
      <div class="person-head">
        <Avatar name={name} url={p.avatar_url} size="huge" />
        <div>
          <Heading tabIndex={-1} data-testid="person-name">
            {name}
          </Heading>
          {p.headline && <p class="person-headline">{p.headline}</p>}
          <p class="follow-counts">
            <a href={`#/people/${user.id}/followers`} data-testid="followers-link">
              {t("person.followers_count", { count: user.followers_count ?? 0 })}
            </a>
            {" · "}
            <a href={`#/people/${user.id}/following`} data-testid="following-link">
              {t("person.following_count", { count: user.following_count ?? 0 })}
            </a>
          </p>
          {work && <p class="person-work">{work}</p>}
          {user.followed_by && <p class="chip-note">{t("person.follows_you")}</p>}
        </div>
      </div>
      <ErrorText error={error} />
      <div class="actions person-actions">
        {user.following ? (
          <button
            type="button"
            class="secondary small"
            data-testid="unfollow"
            aria-pressed="true"
            disabled={busy}
            onClick={() => void act(() => call(api.DELETE("/api/v1/users/{user_id}/follow", userPath)))}
          >
            {t("person.following")}
          </button>
        ) : (
          <button
            type="button"
            class="primary small"
            data-testid="follow"
            disabled={busy}
            onClick={() => void act(() => call(api.POST("/api/v1/users/{user_id}/follow", userPath)))}
          >
            {t("person.follow")}
          </button>
        )}
        {(user.connection ?? "none") === "none" && (
          <button
            type="button"
            class="primary small"
            data-testid="connect"
            disabled={busy}
            onClick={() => void act(() => call(api.POST("/api/v1/connections", { body: { user_id: user.id } })))}
          >
            {t("person.connect")}
          </button>
        )}
        {user.connection === "pending_outgoing" && connectionPath && (
          <button
            type="button"
            class="secondary small"
            data-testid="withdraw-request"
            disabled={busy}
            onClick={() => void act(() => call(api.DELETE("/api/v1/connections/{connection_id}", connectionPath)))}
          >
            {t("person.withdraw")}
          </button>
        )}
        {user.connection === "pending_incoming" && connectionPath && (
          <>
            <button
              type="button"
              class="primary small"
              data-testid="accept-connection"
              disabled={busy}
              onClick={() => void act(() => call(api.POST("/api/v1/connections/{connection_id}/accept", connectionPath)))}
            >
              {t("person.accept")}
            </button>
            <button
              type="button"
              class="secondary small"
              data-testid="decline-connection"
              disabled={busy}
              onClick={() => void act(() => call(api.POST("/api/v1/connections/{connection_id}/decline", connectionPath)))}
            >
              {t("person.decline")}
            </button>
          </>
        )}
        {user.connection === "connected" && connectionPath && (
          <button
            type="button"
            class="secondary small"
            data-testid="remove-connection"
            disabled={busy}
            onClick={() => void act(() => call(api.DELETE("/api/v1/connections/{connection_id}", connectionPath)))}
          >
            {t("person.remove_connection")}
          </button>
        )}
      </div>
      <p class="connection-state" data-testid="connection-state">
        {user.connection === "connected"
          ? t("person.state_connected")
          : user.connection === "pending_outgoing"
            ? t("person.state_pending_outgoing")
            : user.connection === "pending_incoming"
              ? t("person.state_pending_incoming", { name })
              : ""}
      </p>
      {/* No empty card for someone who filled in none of these. */}
      {hasFacts && <dl class="card person-facts">
        {p.industry && (
          <>
            <dt>{t("profile.industry")}</dt>
            <dd>{industryLabel(p.industry)}</dd>
          </>
        )}
        {p.location && (
          <>
            <dt>{t("profile.location")}</dt>
            <dd>{p.location}</dd>
          </>
        )}
        {p.skills.length > 0 && (
          <>
            <dt>{t("profile.skills")}</dt>
            <dd>
              <ul class="tags" data-testid="person-skills">
                {p.skills.map((skill) => (
                  <li class="tag plain" key={skill}>
                    {skill}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        {p.open_to.length > 0 && (
          <>
            <dt>{t("profile.open_to")}</dt>
            <dd>{p.open_to.map((id) => openToLabel(id)).join(", ")}</dd>
          </>
        )}
        {p.bio && (
          <>
            <dt>{t("person.about")}</dt>
            <dd class="bio">{p.bio}</dd>
          </>
        )}
        {p.links.length > 0 && (
          <>
            <dt>{t("profile.links")}</dt>
            <dd>
              <ul class="links">
                {p.links.map((link) => (
                  <li key={link}>
                    <a href={link} target="_blank" rel="noopener noreferrer nofollow ugc">
                      {link.replace(/^https?:\/\//, "")}
                    </a>
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>}
      {confirmBlock ? (
        <div class="card confirm-block" role="alertdialog" aria-labelledby="block-question" onKeyDown={(e) => {
          if (e.key === "Escape") {
            setConfirmBlock(false);
            setTimeout(() => blockButton.current?.focus(), 0);
          }
        }}>
          <p id="block-question">{t("person.block_question", { name })}</p>
          <div class="row">
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setConfirmBlock(false);
                setTimeout(() => blockButton.current?.focus(), 0);
              }}
            >
              {t("common.cancel")}
            </button>
            <button
              type="button"
              class="danger-button"
              data-testid="block-confirm"
              ref={confirmButton}
              disabled={busy}
              onClick={() =>
                void act(async () => {
                  await call(api.POST("/api/v1/users/{user_id}/block", userPath));
                  setConfirmBlock(false);
                  setBlockedName(name);
                }, false)
              }
            >
              {t("person.block")}
            </button>
          </div>
        </div>
      ) : (
        <button type="button" class="link-button danger-link" data-testid="block" ref={blockButton} onClick={() => setConfirmBlock(true)}>
          {t("person.block_name", { name })}
        </button>
      )}
      {me?.is_staff && me.id !== props.userId && <StaffSuspension userId={props.userId} name={name} />}
    </div>
  );
}

/** The person page `#/people/{id}`. */
export function PersonScreen(props: { userId: string }) {
  return (
    <section class="person-screen">
      <PersonView userId={props.userId} />
    </section>
  );
}
