import { useEffect, useState } from "preact/hooks";
import { api, call, type Account, type Schemas } from "../api/client";
import { t } from "../i18n";
import { PersonRow } from "../network/PersonRow";
import { addSkills, AvatarEditor } from "../profile/Profile";
import { onboarding, refreshAccount, savedOnboardingStep, saveOnboardingStep } from "../session";
import { ErrorText } from "../ui/ErrorText";
import { LanguageSelect } from "../ui/LanguageSelect";
import { useAction } from "../ui/useAction";

const STEPS = ["name", "photo", "headline", "topics", "people"] as const;
type Step = (typeof STEPS)[number];
const MAX_TOPICS = 10;

type Suggestion = Schemas["SuggestedPerson"];

/** Where onboarding starts: the name while there is none, else the step the page was left at. */
function firstStep(account: Account): Step {
  if (!account.profile.name.trim()) return "name";
  const saved = savedOnboardingStep(account.id);
  return STEPS.find((step) => step === saved && step !== "name") ?? "photo";
}

function save(body: Schemas["ProfileUpdate"]) {
  return call(api.PATCH("/api/v1/me/profile", { body }));
}

/** The step's title, its "step n of 5", and the buttons at the bottom (skip unless it is the name). */
function StepFrame(props: {
  step: Step;
  title: string;
  hint: string;
  children: preact.ComponentChildren;
  next: { label: string; testId: string; disabled?: boolean; onClick: () => void };
  skip?: () => void;
}) {
  const n = STEPS.indexOf(props.step) + 1;
  return (
    <section class="onboarding" data-testid="onboarding" data-step={props.step}>
      <p class="onboarding-step" data-testid="onboarding-progress">
        {t("onboarding.step", { n, total: STEPS.length })}
      </p>
      <h1 tabIndex={-1}>{props.title}</h1>
      <p class="hint-block">{props.hint}</p>
      {props.children}
      <div class="onboarding-buttons">
        {props.skip && (
          <button type="button" class="secondary" data-testid="onboarding-skip" onClick={props.skip}>
            {t("onboarding.skip")}
          </button>
        )}
        <button
          type="button"
          class="primary"
          data-testid={props.next.testId}
          disabled={props.next.disabled}
          onClick={props.next.onClick}
        >
          {props.next.label}
        </button>
      </div>
    </section>
  );
}

/**
 * The first minutes after being let in: a name (required: others see who raises a hand, speaks
 * or offers a card), then a photo, a headline, topics of interest and people to follow, each
 * of which can be skipped. Shown while the account has no name, and until the last step.
 */
export function OnboardingScreen(props: { account: Account }) {
  const profile = props.account.profile;
  const [step, setStep] = useState<Step>(() => firstStep(props.account));
  const [name, setName] = useState(profile.name);
  const [headline, setHeadline] = useState(profile.headline);
  const [topics, setTopics] = useState<string[]>(profile.topics ?? []);
  const [topicInput, setTopicInput] = useState("");
  const [popular, setPopular] = useState<string[]>([]);
  const [people, setPeople] = useState<Suggestion[] | null>(null);
  const [followed, setFollowed] = useState<Set<string>>(new Set());
  const { busy, error, setError, run } = useAction({});

  const go = (next: Step) => {
    setError(null);
    setStep(next);
  };

  // Suggestions: the topics at once (for the topics step), people again after topics are saved.
  useEffect(() => {
    if (step !== "topics" && step !== "people") return;
    let live = true;
    call(api.GET("/api/v1/search/suggestions")).then(
      (found) => {
        if (!live) return;
        setPopular(found.topics);
        if (step === "people") setPeople(found.people);
      },
      () => live && step === "people" && setPeople([]),
    );
    return () => {
      live = false;
    };
  }, [step]);

  useEffect(() => {
    document.querySelector<HTMLElement>(".onboarding h1")?.focus();
    saveOnboardingStep(props.account.id, step);
  }, [step]);

  const finish = () => {
    saveOnboardingStep(props.account.id, null);
    onboarding.set(false);
    void refreshAccount();
  };

  if (step === "name") {
    const submit = async () => {
      if (!name.trim()) return;
      if (await run(() => save({ name: name.trim() }))) {
        go("photo");
        void refreshAccount();
      }
    };
    return (
      <StepFrame
        step="name"
        title={t("onboarding.name_title")}
        hint={t("onboarding.name_hint")}
        next={{ label: t("onboarding.next"), testId: "onboarding-next", disabled: busy || !name.trim(), onClick: () => void submit() }}
      >
        <form
          class="card"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <label class="field">
            <span>{t("onboarding.name_label")}</span>
            <input
              data-testid="onboarding-name"
              value={name}
              maxLength={80}
              autocomplete="name"
              required
              aria-required="true"
              onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
            />
          </label>
          <ErrorText error={error} testId="onboarding-error" />
        </form>
        <div class="card">
          <LanguageSelect visibleLabel />
        </div>
      </StepFrame>
    );
  }

  if (step === "photo") {
    return (
      <StepFrame
        step="photo"
        title={t("onboarding.photo_title")}
        hint={t("onboarding.photo_hint")}
        next={{ label: t("onboarding.next"), testId: "onboarding-next", onClick: () => go("headline") }}
        skip={() => go("headline")}
      >
        <AvatarEditor profile={props.account.profile} />
      </StepFrame>
    );
  }

  if (step === "headline") {
    const submit = async () => {
      if (!headline.trim()) return go("topics");
      if (await run(() => save({ headline: headline.trim() }))) go("topics");
    };
    return (
      <StepFrame
        step="headline"
        title={t("onboarding.headline_title")}
        hint={t("onboarding.headline_hint")}
        next={{ label: t("onboarding.next"), testId: "onboarding-next", disabled: busy, onClick: () => void submit() }}
        skip={() => go("topics")}
      >
        <form
          class="card"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <label class="field">
            <span>{t("profile.headline")}</span>
            <input
              data-testid="onboarding-headline"
              value={headline}
              maxLength={160}
              onInput={(e) => setHeadline((e.currentTarget as HTMLInputElement).value)}
            />
          </label>
          <ErrorText error={error} testId="onboarding-error" />
        </form>
      </StepFrame>
    );
  }

  if (step === "topics") {
    const folded = new Set(topics.map((topic) => topic.toLocaleLowerCase()));
    const choices = [...topics, ...popular.filter((topic) => !folded.has(topic.toLocaleLowerCase()))];
    const toggle = (topic: string) =>
      setTopics(
        folded.has(topic.toLocaleLowerCase())
          ? topics.filter((x) => x.toLocaleLowerCase() !== topic.toLocaleLowerCase())
          : addSkills(topics, topic, MAX_TOPICS),
      );
    const add = () => {
      setTopics(addSkills(topics, topicInput, MAX_TOPICS));
      setTopicInput("");
    };
    const submit = async () => {
      const all = addSkills(topics, topicInput, MAX_TOPICS);
      setTopicInput("");
      if (await run(() => save({ topics: all }))) go("people");
    };
    return (
      <StepFrame
        step="topics"
        title={t("onboarding.topics_title")}
        hint={t("onboarding.topics_hint", { max: MAX_TOPICS })}
        next={{ label: t("onboarding.next"), testId: "onboarding-next", disabled: busy, onClick: () => void submit() }}
        skip={() => go("people")}
      >
        <div class="card">
          {choices.length > 0 && (
            <ul class="tags topic-choices" data-testid="onboarding-topics">
              {choices.map((topic) => {
                const on = folded.has(topic.toLocaleLowerCase());
                return (
                  <li key={topic}>
                    <button
                      type="button"
                      class={on ? "topic-choice on" : "topic-choice"}
                      aria-pressed={on}
                      data-testid="topic-choice"
                      disabled={!on && topics.length >= MAX_TOPICS}
                      onClick={() => toggle(topic)}
                    >
                      {topic}
                    </button>
                  </li>
                );
              })}
            </ul>
          )}
          <label class="visually-hidden" for="topic-input">
            {t("onboarding.topic_input")}
          </label>
          <div class="inline-add">
            <input
              id="topic-input"
              data-testid="onboarding-topic-input"
              placeholder={t("onboarding.topic_input")}
              value={topicInput}
              maxLength={200}
              onInput={(e) => setTopicInput((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === ",") {
                  e.preventDefault();
                  add();
                }
              }}
            />
            <button
              type="button"
              class="secondary small"
              data-testid="onboarding-topic-add"
              disabled={!topicInput.trim() || topics.length >= MAX_TOPICS}
              onClick={add}
            >
              {t("profile.skill_add")}
            </button>
          </div>
          <ErrorText error={error} testId="onboarding-error" />
        </div>
      </StepFrame>
    );
  }

  const follow = (id: string) =>
    void run(async () => {
      await call(api.POST("/api/v1/users/{user_id}/follow", { params: { path: { user_id: id } } }));
      setFollowed(new Set([...followed, id]));
    });
  return (
    <StepFrame
      step="people"
      title={t("onboarding.people_title")}
      hint={t("onboarding.people_hint")}
      next={{ label: t("onboarding.done"), testId: "onboarding-done", onClick: finish }}
    >
      {people === null ? (
        <p aria-busy="true">{t("app.loading")}</p>
      ) : people.length === 0 ? (
        <p class="card" data-testid="onboarding-people-none">
          {t("onboarding.people_none")}
        </p>
      ) : (
        <ul class="person-list" data-testid="onboarding-people">
          {people.map((s) => (
            <PersonRow
              key={s.person.id}
              id={s.person.id}
              name={s.person.profile.name}
              headline={s.person.profile.headline}
              avatarUrl={s.person.profile.avatar_url}
              testId="suggested-person"
              detail={
                <span class="person-headline" data-testid="suggested-why">
                  {s.via === "contacts" ? t("onboarding.via_contacts") : t("onboarding.via_topics", { topics: s.topics.join(", ") })}
                </span>
              }
            >
              {followed.has(s.person.id) ? (
                <span class="chip-note" data-testid="suggested-following">
                  {t("person.following")}
                </span>
              ) : (
                <button type="button" class="secondary small" data-testid="follow-suggested" disabled={busy} onClick={() => follow(s.person.id)}>
                  {t("person.follow")}
                </button>
              )}
            </PersonRow>
          ))}
        </ul>
      )}
      <ErrorText error={error} testId="onboarding-error" />
    </StepFrame>
  );
}
