import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type PersonHit, type RoomHit, type Vocabulary } from "../api/client";
import { t } from "../i18n";
import { loadVocabulary } from "../profile/Profile";
import { asError, ErrorText } from "../ui/ErrorText";
import { formatDateTime } from "../ui/time";
import { industryLabel, openToLabel } from "./labels";
import { PersonRow } from "./PersonRow";

/** Wait this long after the last keystroke before searching. */
export const DEBOUNCE_MS = 300;

interface Query {
  q: string;
  skill: string;
  industry: string;
  openTo: string;
}

/** The people-search parameters of a query (empty ones left out). */
export function peopleParams(query: Query): Record<string, string> {
  const params: Record<string, string> = {};
  if (query.q.trim()) params.q = query.q.trim();
  if (query.skill.trim()) params.skill = query.skill.trim();
  if (query.industry) params.industry = query.industry;
  if (query.openTo) params.open_to = query.openTo;
  return params;
}

/** Search people (words, skill, industry, open to) and rooms (words), as you type. */
export function SearchScreen() {
  const [query, setQuery] = useState<Query>({ q: "", skill: "", industry: "", openTo: "" });
  const [people, setPeople] = useState<PersonHit[] | null>(null);
  const [rooms, setRooms] = useState<RoomHit[] | null>(null);
  const [vocabulary, setVocabulary] = useState<Vocabulary | null>(null);
  const [error, setError] = useState<ReturnType<typeof asError> | null>(null);
  const [searching, setSearching] = useState(false);
  const latest = useRef(0);

  useEffect(() => {
    loadVocabulary().then(setVocabulary, () => undefined);
  }, []);

  useEffect(() => {
    const params = peopleParams(query);
    if (Object.keys(params).length === 0) {
      latest.current += 1;
      setPeople(null);
      setRooms(null);
      setSearching(false);
      return;
    }
    const ticket = ++latest.current;
    setSearching(true);
    const timer = setTimeout(async () => {
      try {
        const [foundPeople, foundRooms] = await Promise.all([
          call(api.GET("/api/v1/search/people", { params: { query: params } })),
          query.q.trim()
            ? call(api.GET("/api/v1/search/rooms", { params: { query: { q: query.q.trim() } } }))
            : Promise.resolve({ rooms: [] as RoomHit[], next_offset: null }),
        ]);
        if (ticket !== latest.current) return; // an older answer arriving late
        setPeople(foundPeople.people);
        setRooms(foundRooms.rooms);
        setError(null);
      } catch (e) {
        if (ticket === latest.current) setError(asError(e));
      } finally {
        if (ticket === latest.current) setSearching(false);
      }
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [query.q, query.skill, query.industry, query.openTo]);

  const set = (field: keyof Query) => (e: Event) =>
    setQuery({ ...query, [field]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value });

  return (
    <section class="search">
      <h1 tabIndex={-1}>{t("search.title")}</h1>
      <form class="card" role="search" onSubmit={(e) => e.preventDefault()}>
        <label class="field">
          <span>{t("search.words")}</span>
          <input type="search" data-testid="search-input" value={query.q} maxLength={200} onInput={set("q")} />
        </label>
        <div class="filters">
          <label class="field">
            <span>{t("search.skill")}</span>
            <input data-testid="search-skill" value={query.skill} maxLength={40} onInput={set("skill")} />
          </label>
          <label class="field">
            <span>{t("profile.industry")}</span>
            <select data-testid="search-industry" value={query.industry} onChange={set("industry")}>
              <option value="">{t("search.any")}</option>
              {(vocabulary?.industries ?? []).map((item) => (
                <option value={item.id} key={item.id}>
                  {industryLabel(item.id, item.label)}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>{t("profile.open_to")}</span>
            <select data-testid="search-open-to" value={query.openTo} onChange={set("openTo")}>
              <option value="">{t("search.any")}</option>
              {(vocabulary?.open_to ?? []).map((item) => (
                <option value={item.id} key={item.id}>
                  {openToLabel(item.id, item.label)}
                </option>
              ))}
            </select>
          </label>
        </div>
      </form>
      <ErrorText error={error} />
      <div aria-live="polite" aria-busy={searching}>
        {people === null ? (
          <p class="empty">{t("search.hint")}</p>
        ) : (
          <>
            <h2 class="section-title">{t("search.people")}</h2>
            {people.length === 0 ? (
              <p class="empty" data-testid="search-empty">
                {t("search.no_people")}
              </p>
            ) : (
              <ul class="person-list" data-testid="search-people">
                {people.map((hit) => (
                  <PersonRow
                    key={hit.id}
                    id={hit.id}
                    name={hit.name}
                    headline={hit.headline}
                    testId="search-person"
                    detail={
                      hit.skills.length > 0 ? <span class="person-skills">{hit.skills.slice(0, 5).join(" · ")}</span> : undefined
                    }
                  />
                ))}
              </ul>
            )}
            {rooms !== null && rooms.length > 0 && (
              <>
                <h2 class="section-title">{t("search.rooms")}</h2>
                <ul class="room-list" data-testid="search-rooms">
                  {rooms.map((room) => (
                    <li key={room.id}>
                      <a class="card room-card" href={`#/room/${room.id}`} data-testid="search-room">
                        <span class="room-card-title">{room.title}</span>
                        <span class="counts">
                          {room.status === "scheduled" && room.starts_at
                            ? t("search.room_starts", { time: formatDateTime(room.starts_at) })
                            : t("search.room_live")}
                        </span>
                      </a>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </>
        )}
      </div>
    </section>
  );
}
