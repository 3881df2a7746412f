import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type Person } from "../api/client";
import { t } from "../i18n";
import { account, networkVersion } from "../session";
import { useObservable } from "../store/hooks";
import { asError, ErrorText } from "../ui/ErrorText";
import { PersonRow } from "./PersonRow";

const PAGE = 50;

/** Who follows a member, or whom they follow: newest first, a page at a time. */
export function FollowsScreen(props: { userId: string; which: "followers" | "following" }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);
  const path = { path: { user_id: props.userId } };

  async function load(offset: number) {
    try {
      const query = { query: { limit: PAGE, offset } };
      const page =
        props.which === "followers"
          ? await call(api.GET("/api/v1/users/{user_id}/followers", { params: { ...path, ...query } }))
          : await call(api.GET("/api/v1/users/{user_id}/following", { params: { ...path, ...query } }));
      setPeople((before) => [...(offset === 0 ? [] : (before ?? [])), ...page.people]);
      setNext(page.next_offset ?? null);
    } catch (e) {
      setError(asError(e));
    }
  }

  useEffect(() => {
    void load(0);
    call(api.GET("/api/v1/users/{user_id}", { params: path })).then(
      (user) => setName(user.profile.name || t("common.unnamed")),
      () => undefined,
    );
  }, [props.userId, props.which]);

  // Someone followed or unfollowed you: your own followers list reads its first page again.
  const version = useObservable(networkVersion);
  const firstVersion = useRef(version);
  useEffect(() => {
    if (version !== firstVersion.current && props.userId === account.get()?.id) void load(0);
  }, [version]);

  return (
    <section class="follows" data-testid={`${props.which}-screen`}>
      <h1 tabIndex={-1}>{props.which === "followers" ? t("follows.followers_of", { name }) : t("follows.following_of", { name })}</h1>
      <ErrorText error={error} />
      {people === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : people.length === 0 ? (
        <p class="empty">{t("follows.empty")}</p>
      ) : (
        <ul class="person-list" data-testid="follows-list">
          {people.map((person) => (
            <PersonRow
              key={person.id}
              id={person.id}
              name={person.profile.name}
              headline={person.profile.headline}
              avatarUrl={person.profile.avatar_url}
              testId="follows-person"
            />
          ))}
        </ul>
      )}
      {next !== null && (
        <button type="button" class="secondary wide" data-testid="follows-more" onClick={() => void load(next)}>
          {t("follows.more")}
        </button>
      )}
    </section>
  );
}
