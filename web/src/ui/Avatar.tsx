/** The initials of a name (two letters at most; one character for CJK names). */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  const first = [...(words[0] ?? "")][0] ?? "?";
  const last = words.length > 1 ? ([...(words[words.length - 1] ?? "")][0] ?? "") : "";
  return (first + last).toUpperCase();
}

/** A round avatar with initials; `speaking` draws the ring. */
export function Avatar(props: { name: string; speaking: boolean; size?: "large" | "small" }) {
  const classes = ["avatar", props.size === "small" ? "small" : "large", props.speaking ? "speaking" : ""];
  return (
    <span class={classes.join(" ")} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}
