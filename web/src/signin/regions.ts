// The country chooser's default: the region of the browser's language (de → DE, zh-Hant → TW,
// zh-HK → HK, en-GB → GB, zh → CN, en → US).

/** The likely region for a list of language tags (the first one that names or implies one). */
export function pickRegion(tags: readonly string[], known: (region: string) => boolean): string {
  for (const tag of tags) {
    let region: string | undefined;
    try {
      const locale = new Intl.Locale(tag);
      region = locale.region ?? locale.maximize().region;
    } catch {
      continue;
    }
    if (region && known(region)) return region;
  }
  return known("US") ? "US" : "DE";
}
