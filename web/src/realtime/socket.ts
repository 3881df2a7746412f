// A WebSocket that validates every frame and reconnects with backoff until told to stop.
import { parseFrame, type ServerMessage } from "./validate";

export interface LiveSocketOptions {
  /** Path under the origin, e.g. `/api/v1/rooms/ID/ws`. */
  path: string;
  /** Extra query parameters for the next connection (called on every connect). */
  query?: () => Record<string, string>;
  onMessage: (message: ServerMessage) => void;
  /** A frame failed validation (it was dropped). */
  onInvalid?: () => void;
  onOpen?: () => void;
  /** The server refused us or said goodbye for good (1000, or 4xxx other than 4409): no reconnect. */
  onFinalClose?: (code: number) => void;
}

/** The socket URL on this origin (ws: or wss:); the session cookie authenticates it. */
export function socketUrl(path: string, query: Record<string, string> = {}): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams(query);
  const search = params.toString();
  return `${scheme}//${location.host}${path}${search ? `?${search}` : ""}`;
}

/** One live connection that comes back after network trouble. */
export class LiveSocket {
  private socket: WebSocket | null = null;
  private stopped = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: LiveSocketOptions) {
    this.open();
  }

  /** Send a JSON message if connected; returns whether it went out. */
  send(message: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Close and connect again (e.g. to resume with `?after=`). */
  reconnect(): void {
    if (this.stopped) return;
    const old = this.socket;
    this.socket = null;
    old?.close(1000);
    this.open();
  }

  /** Close for good. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.socket = null;
  }

  private open(): void {
    const socket = new WebSocket(socketUrl(this.options.path, this.options.query?.() ?? {}));
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.options.onOpen?.();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      const message = typeof event.data === "string" ? parseFrame(event.data) : null;
      if (message) this.options.onMessage(message);
      else this.options.onInvalid?.();
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      // 4409: we read too slowly and were dropped; coming back gets a fresh state.
      if (event.code === 1000 || (event.code >= 4000 && event.code < 5000 && event.code !== 4409)) {
        this.stopped = true;
        this.options.onFinalClose?.(event.code);
        return;
      }
      const delay = Math.min(15000, 500 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
      this.attempts += 1;
      this.retryTimer = setTimeout(() => this.open(), delay);
    };
  }
}
