// Room audio through the server's signaling (docs/media.md): speakers send an offer and get
// Janus's answer; listeners ask to `listen`, get an offer and answer it. Remote audio plays
// in one <audio> element that the person's Join tap started (iOS autoplay rules).
import { api, call } from "../api/client";
import { Observable } from "../store/observable";

export type AudioPath = "stage" | "audience";
export type AudioStatus = "idle" | "connecting" | "connected" | "unavailable" | "failed";

/** Wait until ICE gathering finishes (the server takes no trickled candidates). */
function gathered(pc: RTCPeerConnection, timeoutMs = 3000): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** One person's audio in one room: their microphone on stage, or the room's mix in the audience. */
export class RoomAudio {
  readonly status = new Observable<AudioStatus>("idle");
  /** True when the browser refused to start playback without a tap. */
  readonly needsTap = new Observable<boolean>(false);
  private pc: RTCPeerConnection | null = null;
  private mic: MediaStream | null = null;
  private micEnabled = true;
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

  private newConnection(): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: [] });
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
    const pc = this.newConnection();
    for (const track of mic.getAudioTracks()) {
      track.enabled = this.micEnabled;
      pc.addTransceiver(track, { direction: "sendrecv", streams: [mic] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const local = pc.localDescription;
    if (!local || generation !== this.generation) return;
    const result = await call(
      api.POST("/api/v1/rooms/{room_id}/media/offer", {
        params: { path: { room_id: this.roomId } },
        body: { type: "offer", sdp: local.sdp },
      }),
    );
    if (generation !== this.generation) return;
    await pc.setRemoteDescription({ type: "answer", sdp: result.answer.sdp });
  }

  private async listen(generation: number): Promise<void> {
    const result = await call(
      api.POST("/api/v1/rooms/{room_id}/media/listen", { params: { path: { room_id: this.roomId } } }),
    );
    if (generation !== this.generation) return;
    const pc = this.newConnection();
    await pc.setRemoteDescription({ type: "offer", sdp: result.offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    const local = pc.localDescription;
    if (!local || generation !== this.generation) return;
    await call(
      api.POST("/api/v1/rooms/{room_id}/media/answer", {
        params: { path: { room_id: this.roomId } },
        body: { type: "answer", sdp: local.sdp },
      }),
    );
  }

  private hangUp(): void {
    this.pc?.close();
    this.pc = null;
    for (const track of this.mic?.getTracks() ?? []) track.stop();
    this.mic = null;
  }
}
