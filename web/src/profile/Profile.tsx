import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type Account, type Profile, type Vocabulary } from "../api/client";
import { invalidFields } from "../api/fields";
import { t, type MessageKey } from "../i18n";
import { CardSharingEditor } from "../network/CardView";
import { FindableChoice } from "../network/Findable";
import { industryLabel, openToLabel } from "../network/labels";
import { refreshAccount } from "../session";
import { Avatar } from "../ui/Avatar";
import { asError, ErrorText } from "../ui/ErrorText";
import { usePhoneFormat } from "../ui/phone";
import { useAction } from "../ui/useAction";

type Field = "name" | "headline" | "company" | "role" | "industry" | "location" | "skills" | "bio" | "links" | "open_to";
const FIELD_HINTS: Record<Field, MessageKey> = {
  name: "profile.invalid_line",
  headline: "profile.invalid_line",
  company: "profile.invalid_line",
  role: "profile.invalid_line",
  location: "profile.invalid_line",
  industry: "profile.invalid_industry",
  skills: "profile.invalid_skills",
  bio: "profile.invalid_bio",
  links: "profile.invalid_links",
  open_to: "profile.invalid_open_to",
};

let vocabularyCache: Promise<Vocabulary> | null = null;
/** The pickers' lists (fetched once per page load). */
export function loadVocabulary(): Promise<Vocabulary> {
  vocabularyCache ??= call(api.GET("/api/v1/network/vocabulary")).catch((e: unknown) => {
    vocabularyCache = null;
    throw e;
  });
  return vocabularyCache;
}

/** Skills typed as "a, b" or one at a time: spaces collapsed, kept as written, no duplicates
 * (compared without case, as the server does). */
export function addSkills(current: string[], typed: string, max: number): string[] {
  const next = [...current];
  const folded = new Set(next.map((skill) => skill.toLocaleLowerCase()));
  for (const raw of typed.split(",")) {
    const skill = raw.trim().replace(/\s+/g, " ");
    const key = skill.toLocaleLowerCase();
    if (skill && !folded.has(key) && next.length < max) {
      next.push(skill);
      folded.add(key);
    }
  }
  return next;
}

export function AvatarEditor(props: { profile: Profile }) {
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction({ reload: refreshAccount });
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  function choose(event: Event) {
    const chosen = (event.currentTarget as HTMLInputElement).files?.[0] ?? null;
    setError(null);
    setFile(chosen);
    setPreview(chosen ? URL.createObjectURL(chosen) : null);
  }

  function reset() {
    setFile(null);
    setPreview(null);
    if (input.current) input.current.value = "";
  }

  async function upload() {
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    if (await run(() => call(api.PUT("/api/v1/me/avatar", { body: form as unknown as { file: string } })))) reset();
  }

  const remove = () => run(() => call(api.DELETE("/api/v1/me/avatar")));

  const shown = preview ?? props.profile.avatar_url ?? null;
  return (
    <div class="card avatar-editor">
      <div class="avatar-editor-row">
        <span data-testid={preview ? "avatar-preview" : "avatar-current"} data-has-image={shown ? "true" : "false"}>
          <Avatar name={props.profile.name || t("common.unnamed")} url={shown} size="huge" />
        </span>
        <div class="avatar-editor-tools">
          <label class="button secondary small file-button">
            <input
              ref={input}
              type="file"
              class="visually-hidden"
              accept="image/jpeg,image/png,image/webp"
              data-testid="avatar-file"
              onChange={choose}
            />
            <span>{t("profile.avatar_choose")}</span>
          </label>
          {!preview && props.profile.avatar_url && (
            <button type="button" class="secondary small" data-testid="avatar-remove" disabled={busy} onClick={() => void remove()}>
              {t("profile.avatar_remove")}
            </button>
          )}
        </div>
      </div>
      <p class="hint avatar-hint">{t("profile.avatar_hint")}</p>
      {preview && (
        <div class="actions">
          <button type="button" class="primary small" data-testid="avatar-upload" disabled={busy} onClick={() => void upload()}>
            {t("profile.avatar_upload")}
          </button>
          <button type="button" class="secondary small" disabled={busy} onClick={reset}>
            {t("common.cancel")}
          </button>
        </div>
      )}
      <ErrorText error={error} testId="avatar-error" />
    </div>
  );
}

/** Your profile: every field others see, your picture, and what you are open to. */
export function ProfileScreen(props: { account: Account }) {
  const profile = props.account.profile;
  const [form, setForm] = useState(() => ({
    name: profile.name,
    headline: profile.headline,
    company: profile.company,
    role: profile.role,
    industry: profile.industry,
    location: profile.location,
    bio: profile.bio,
  }));
  const [skills, setSkills] = useState<string[]>(profile.skills);
  const [skillInput, setSkillInput] = useState("");
  const [links, setLinks] = useState<string[]>(profile.links.length ? profile.links : [""]);
  const [openTo, setOpenTo] = useState<string[]>(profile.open_to);
  const [vocabulary, setVocabulary] = useState<Vocabulary | null>(null);
  const [saved, setSaved] = useState(false);
  const [bad, setBad] = useState<string[]>([]);
  const show = usePhoneFormat();
  const { busy, error, setError, run } = useAction({ reload: refreshAccount, onError: (e) => setBad(invalidFields(e)) });

  useEffect(() => {
    loadVocabulary().then(setVocabulary, (e: unknown) => setError(asError(e)));
  }, []);

  const maxSkills = vocabulary?.max_skills ?? 30;
  const maxLinks = vocabulary?.max_links ?? 5;
  const changed = () => setSaved(false);

  function save(event: Event) {
    event.preventDefault();
    setSaved(false);
    setBad([]);
    const allSkills = addSkills(skills, skillInput, maxSkills);
    setSkills(allSkills);
    setSkillInput("");
    const body = {
      name: form.name.trim(),
      headline: form.headline.trim(),
      company: form.company.trim(),
      role: form.role.trim(),
      industry: form.industry,
      location: form.location.trim(),
      bio: form.bio.trim(),
      skills: allSkills,
      links: links.map((link) => link.trim()).filter(Boolean),
      open_to: openTo as ("hiring" | "job_offers" | "investing" | "partnerships" | "mentoring" | "clients")[],
    };
    void run(() => call(api.PATCH("/api/v1/me/profile", { body }))).then((ok) => setSaved(ok));
  }

  const fieldError = (field: Field) =>
    bad.includes(field) ? (
      <span class="field-error" id={`${field}-error`} data-testid={`field-error-${field}`} role="alert">
        {t(FIELD_HINTS[field])}
      </span>
    ) : null;
  const described = (field: Field) => (bad.includes(field) ? `${field}-error` : undefined);

  const line = (field: "name" | "headline" | "company" | "role" | "location", label: MessageKey, max: number, auto: string) => (
    <label class="field">
      <span>{t(label)}</span>
      <input
        data-testid={`profile-${field}`}
        value={form[field]}
        maxLength={max}
        autocomplete={auto}
        aria-invalid={bad.includes(field) || undefined}
        aria-describedby={described(field)}
        onInput={(e) => {
          setForm({ ...form, [field]: (e.currentTarget as HTMLInputElement).value });
          changed();
        }}
      />
      {fieldError(field)}
    </label>
  );

  return (
    <section class="profile">
      <h1 tabIndex={-1}>{t("profile.title")}</h1>
      <AvatarEditor profile={profile} />
      <form class="card" onSubmit={save} noValidate>
        {line("name", "profile.name", 80, "name")}
        {line("headline", "profile.headline", 160, "off")}
        {line("company", "profile.company", 120, "organization")}
        {line("role", "profile.role", 120, "organization-title")}
        <label class="field">
          <span>{t("profile.industry")}</span>
          <select
            data-testid="profile-industry"
            value={form.industry}
            aria-invalid={bad.includes("industry") || undefined}
            aria-describedby={described("industry")}
            onChange={(e) => {
              setForm({ ...form, industry: (e.currentTarget as HTMLSelectElement).value });
              changed();
            }}
          >
            <option value="">{t("profile.industry_none")}</option>
            {(vocabulary?.industries ?? []).map((item) => (
              <option value={item.id} key={item.id}>
                {industryLabel(item.id, item.label)}
              </option>
            ))}
          </select>
          {fieldError("industry")}
        </label>
        {line("location", "profile.location", 120, "address-level2")}
        <div class="field">
          <label for="skill-input">{t("profile.skills")}</label>
          {skills.length > 0 && (
            <ul class="tags" data-testid="profile-skills">
              {skills.map((skill) => (
                <li class="tag" key={skill} data-testid="skill-tag">
                  <span>{skill}</span>
                  <button
                    type="button"
                    class="tag-remove"
                    aria-label={t("profile.skill_remove", { skill })}
                    onClick={() => {
                      setSkills(skills.filter((s) => s !== skill));
                      changed();
                    }}
                  >
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div class="inline-add">
            <input
              id="skill-input"
              data-testid="profile-skill-input"
              value={skillInput}
              maxLength={200}
              aria-describedby={["skills-hint", described("skills")].filter(Boolean).join(" ")}
              aria-invalid={bad.includes("skills") || undefined}
              onInput={(e) => setSkillInput((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === ",") {
                  e.preventDefault();
                  setSkills(addSkills(skills, skillInput, maxSkills));
                  setSkillInput("");
                  changed();
                }
              }}
            />
            <button
              type="button"
              class="secondary small"
              data-testid="profile-skill-add"
              disabled={!skillInput.trim() || skills.length >= maxSkills}
              onClick={() => {
                setSkills(addSkills(skills, skillInput, maxSkills));
                setSkillInput("");
                changed();
              }}
            >
              {t("profile.skill_add")}
            </button>
          </div>
          <span class="hint-inline" id="skills-hint">
            {t("profile.skills_hint", { max: maxSkills })}
          </span>
          {fieldError("skills")}
        </div>
        <label class="field">
          <span>{t("profile.bio")}</span>
          <textarea
            data-testid="profile-bio"
            rows={4}
            maxLength={vocabulary?.max_bio_length ?? 2000}
            value={form.bio}
            aria-invalid={bad.includes("bio") || undefined}
            aria-describedby={described("bio")}
            onInput={(e) => {
              setForm({ ...form, bio: (e.currentTarget as HTMLTextAreaElement).value });
              changed();
            }}
          />
          {fieldError("bio")}
        </label>
        <fieldset class="field plain">
          <legend>{t("profile.links")}</legend>
          {links.map((link, index) => (
            <div class="inline-add" key={index}>
              <input
                type="url"
                inputMode="url"
                data-testid={`profile-link-${index}`}
                aria-label={t("profile.link_n", { n: index + 1 })}
                value={link}
                maxLength={300}
                aria-invalid={bad.includes("links") || undefined}
                aria-describedby={described("links")}
                onInput={(e) => {
                  setLinks(links.map((l, i) => (i === index ? (e.currentTarget as HTMLInputElement).value : l)));
                  changed();
                }}
              />
              {links.length > 1 && (
                <button
                  type="button"
                  class="icon-button"
                  aria-label={t("profile.link_remove", { n: index + 1 })}
                  onClick={() => {
                    setLinks(links.filter((_, i) => i !== index));
                    changed();
                  }}
                >
                  ×
                </button>
              )}
            </div>
          ))}
          {links.length < maxLinks && (
            <button type="button" class="link-button" data-testid="profile-link-add" onClick={() => setLinks([...links, ""])}>
              {t("profile.link_add")}
            </button>
          )}
          {fieldError("links")}
        </fieldset>
        <fieldset class="field plain" aria-describedby={described("open_to")}>
          <legend>{t("profile.open_to")}</legend>
          <div class="checks">
            {(vocabulary?.open_to ?? []).map((item) => (
              <label class="check" key={item.id}>
                <input
                  type="checkbox"
                  data-testid={`profile-open-to-${item.id}`}
                  checked={openTo.includes(item.id)}
                  onChange={(e) => {
                    const on = (e.currentTarget as HTMLInputElement).checked;
                    setOpenTo(on ? [...openTo, item.id] : openTo.filter((id) => id !== item.id));
                    changed();
                  }}
                />
                <span>{openToLabel(item.id, item.label)}</span>
              </label>
            ))}
          </div>
          {fieldError("open_to")}
        </fieldset>
        <ErrorText error={error} testId="profile-error" />
        <div aria-live="polite">
          {saved && (
            <p class="success" data-testid="profile-saved">
              {t("profile.saved")}
            </p>
          )}
        </div>
        <button class="primary" type="submit" data-testid="save-profile" disabled={busy}>
          {t("profile.save")}
        </button>
      </form>
      <CardSharingEditor />
      <p class="hint" data-testid="profile-phone">
        {t("profile.phone", { phone: show(props.account.phone) })}
      </p>
      {props.account.status === "active" && <FindableChoice label="profile.findable" />}
    </section>
  );
}
