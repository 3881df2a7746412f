const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/** The initials of a name (two letters at most; one character for CJK names). */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  const first = [...(words[0] ?? "")][0] ?? "?";
  if (CJK.test(first)) return first; // 張偉 Zhang Wei → 張: a Han character fills the circle alone
  const last = words.length > 1 ? ([...(words[words.length - 1] ?? "")][0] ?? "") : "";
  return (first + last).toUpperCase();
}

/** A round avatar (the picture, else initials); `speaking` draws the ring. The name is shown beside it. */
export function Avatar(props: {
  name: string;
  speaking?: boolean;
  size?: "large" | "small" | "tiny" | "huge";
  url?: string | null;
}) {
  const classes = ["avatar", props.size ?? "large", props.speaking ? "speaking" : ""];
  if (props.url) return <img class={classes.join(" ")} src={props.url} alt="" />;
  return (
    <span class={classes.join(" ")} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}
