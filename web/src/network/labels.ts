// Names of the vocabulary's ids (industries, "open to") in the reader's language; the server's
// English label is the fallback for an id this client does not know yet.
import { catalogs, t, type MessageKey } from "../i18n";

function known(key: string): key is MessageKey {
  return key in catalogs.en;
}

/** The name of an industry id. */
export function industryLabel(id: string, fallback = id): string {
  const key = `industry.${id}`;
  return known(key) ? t(key) : fallback;
}

/** The name of an "open to" id. */
export function openToLabel(id: string, fallback = id): string {
  const key = `open_to.${id}`;
  return known(key) ? t(key) : fallback;
}
