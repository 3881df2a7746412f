// Room audio through the server's signaling (docs/media.md): speakers send an offer and get
// Janus's answer; listeners ask to `listen`, get an offer and answer it. Remote audio plays
// in one <audio> element that the person's Join tap started (iOS autoplay rules).
import { api, call, type Schemas } from "../api/client";
import { Observable } from "../store/observable";

export type AudioPath = "stage" | "audience";
export type AudioStatus = "idle" | "connecting" | "connected" | "unavailable" | "failed";

/** The server's ICE servers (TURN URLs with a credential valid for minutes) as WebRTC takes them. */
function rtcIceServers(servers: Schemas["IceServer"][]): RTCIceServer[] {
  return servers.map((server) => ({
    urls: server.urls,
    ...(server.username ? { username: server.username } : {}),
    ...(server.credential ? { credential: server.credential } : {}),
  }));
}

/** At most this many candidates per request (the server's limit, API: …/media/candidates). */
const CANDIDATES_PER_REQUEST = 20;

/**
 * Trickle ICE: the description goes to the server at once, and each candidate the browser
 * gathers follows through `POST …/media/candidates` (the server hands it to the media server
 * on this person's own connection). Candidates found before the server took the description
 * wait here until `start()`; the end of gathering is sent last, as `completed`.
 */
class Trickle {
  private readonly queue: RTCIceCandidateInit[] = [];
  private gatheringDone = false;
  private completedSent = false;
  private started = false;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    pc: RTCPeerConnection,
    private readonly roomId: string,
    private readonly current: () => boolean,
  ) {
    pc.onicecandidate = (event) => {
      // A null candidate (or an empty one, in some browsers) marks the end of gathering.
      if (event.candidate && event.candidate.candidate) this.queue.push(event.candidate.toJSON());
      else if (!event.candidate) this.gatheringDone = true;
      this.flush();
    };
  }

  /** The server holds the description now: send what was gathered, and the rest as it comes. */
  start(): void {
    this.started = true;
    this.flush();
  }

  private flush(): void {
    if (!this.started) return;
    // One request at a time, in order: `completed` must reach the server after the last candidate.
    this.sending = this.sending.then(() => this.send());
  }

  private async send(): Promise<void> {
    while (this.current() && (this.queue.length > 0 || (this.gatheringDone && !this.completedSent))) {
      const batch = this.queue.splice(0, CANDIDATES_PER_REQUEST);
      const completed = this.gatheringDone && this.queue.length === 0;
      const candidates = batch.map((c) => ({
        candidate: c.candidate ?? "",
        sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
      }));
      try {
        await call(
          api.POST("/api/v1/rooms/{room_id}/media/candidates", {
            params: { path: { room_id: this.roomId } },
            body: { candidates, completed },
          }),
        );
      } catch {
        // A lost candidate only removes one path; ICE still tries the others (and reports
        // "failed" if none works, which reconnects).
      }
      if (completed) this.completedSent = true;
    }
  }
}

/** One person's audio in one room: their microphone on stage, or the room's mix in the audience. */
export class RoomAudio {
  readonly status = new Observable<AudioStatus>("idle");
  /** True when the browser refused to start playback without a tap. */
  readonly needsTap = new Observable<boolean>(false);
  private pc: RTCPeerConnection | null = null;
  private mic: MediaStream | null = null;
  // Off until the room says otherwise: a stage (re)join always starts muted (the server's word).
  private micEnabled = false;
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly roomId: string,
    private readonly player: HTMLAudioElement,
  ) {}

  /** Connect (or move) the audio for a role: stage for moderators and speakers, else audience. */
  async connect(path: AudioPath): Promise<void> {
    if (this.closed) return;
    const generation = ++this.generation;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.hangUp();
    this.status.set("connecting");
    try {
      if (path === "stage") await this.publish(generation);
      else await this.listen(generation);
    } catch (error) {
      if (generation !== this.generation) return;
      this.hangUp();
      const code = (error as { code?: string }).code;
      this.status.set(code === "media_unavailable" || code === "network" ? "unavailable" : "failed");
      if (code === "room_ended" || code === "removed_from_room" || code === "not_in_room") return;
      // Janus restarting, or a refused microphone: try again shortly.
      this.retryTimer = setTimeout(() => void this.connect(path), 4000);
    }
  }

  /** Turn the microphone's track on or off (the API's mute/unmute tells the others). */
  setMicEnabled(enabled: boolean): void {
    this.micEnabled = enabled;
    for (const track of this.mic?.getAudioTracks() ?? []) track.enabled = enabled;
  }

  /** Start playback from a user gesture (the "tap to enable sound" button). */
  async resumePlayback(): Promise<void> {
    try {
      await this.player.play();
      this.needsTap.set(false);
    } catch {
      this.needsTap.set(true);
    }
  }

  /** Hang up for good; tell the server unless the room is over (it dropped the seat itself). */
  close(tellServer = true): void {
    this.closed = true;
    this.generation += 1;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const hadConnection = this.pc !== null;
    this.hangUp();
    this.status.set("idle");
    if (hadConnection && tellServer) {
      void call(api.DELETE("/api/v1/rooms/{room_id}/media", { params: { path: { room_id: this.roomId } } })).catch(
        () => undefined,
      );
    }
  }

  /** A connection using the server's ICE servers (TURN with a credential valid for minutes). */
  private newConnection(iceServers: RTCIceServer[]): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers });
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this.player.srcObject = stream;
      this.player.muted = false;
      void this.resumePlayback();
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "connected") this.status.set("connected");
      if (pc.connectionState === "failed") this.status.set("failed");
    };
    this.pc = pc;
    return pc;
  }

  private async publish(generation: number): Promise<void> {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    if (generation !== this.generation) {
      for (const track of mic.getTracks()) track.stop();
      return;
    }
    this.mic = mic;
    // TURN credentials first: the connection gathers its relay candidates from them.
    const servers = await call(
      api.GET("/api/v1/rooms/{room_id}/media/ice-servers", { params: { path: { room_id: this.roomId } } }),
    );
    if (generation !== this.generation) return;
    const pc = this.newConnection(rtcIceServers(servers.ice_servers));
    const trickle = new Trickle(pc, this.roomId, () => generation === this.generation);
    for (const track of mic.getAudioTracks()) {
      track.enabled = this.micEnabled;
      pc.addTransceiver(track, { direction: "sendrecv", streams: [mic] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    const local = pc.localDescription;
    if (!local || generation !== this.generation) return;
    const result = await call(
      api.POST("/api/v1/rooms/{room_id}/media/offer", {
        params: { path: { room_id: this.roomId } },
        body: { type: "offer", sdp: local.sdp, trickle: true },
      }),
    );
    if (generation !== this.generation) return;
    if (result.muted) this.setMicEnabled(false);
    await pc.setRemoteDescription({ type: "answer", sdp: result.answer.sdp });
    trickle.start();
  }

  private async listen(generation: number): Promise<void> {
    const result = await call(
      api.POST("/api/v1/rooms/{room_id}/media/listen", { params: { path: { room_id: this.roomId } } }),
    );
    if (generation !== this.generation) return;
    const pc = this.newConnection(rtcIceServers(result.ice_servers));
    const trickle = new Trickle(pc, this.roomId, () => generation === this.generation);
    await pc.setRemoteDescription({ type: "offer", sdp: result.offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    const local = pc.localDescription;
    if (!local || generation !== this.generation) return;
    await call(
      api.POST("/api/v1/rooms/{room_id}/media/answer", {
        params: { path: { room_id: this.roomId } },
        body: { type: "answer", sdp: local.sdp, trickle: true },
      }),
    );
    if (generation !== this.generation) return;
    trickle.start();
  }

  private hangUp(): void {
    this.pc?.close();
    this.pc = null;
    for (const track of this.mic?.getTracks() ?? []) track.stop();
    this.mic = null;
  }
}
