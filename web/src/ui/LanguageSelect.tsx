import { language, LANGUAGES, setLanguage, t, type Language, type MessageKey } from "../i18n";
import { useObservable } from "../store/hooks";

const LANGUAGE_NAMES: Record<Language, MessageKey> = {
  en: "language.en",
  de: "language.de",
  "zh-Hans": "language.zh-Hans",
  "zh-Hant": "language.zh-Hant",
};

/** The language chooser (on the sign-in screen, and in settings with its label shown). */
export function LanguageSelect(props: { visibleLabel?: boolean }) {
  const current = useObservable(language);
  return (
    <label class={props.visibleLabel ? "field language" : "language"}>
      <span class={props.visibleLabel ? undefined : "visually-hidden"}>{t("nav.language")}</span>
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
