// One <audio> element for the room's sound, kept for the page's life. iOS lets an element play
// later only if it was started from a tap, so the Join / Start tap calls unlockPlayback().

let player: HTMLAudioElement | null = null;

/** The page's audio element (created on first use, attached to the document). */
export function roomPlayer(): HTMLAudioElement {
  if (!player) {
    player = document.createElement("audio");
    player.autoplay = true;
    player.setAttribute("playsinline", "");
    player.hidden = true;
    document.body.appendChild(player);
  }
  return player;
}

/** Call from a tap: lets the element start playing later without another gesture. */
export function unlockPlayback(): void {
  const element = roomPlayer();
  element.muted = false;
  void element.play().catch(() => undefined);
}
