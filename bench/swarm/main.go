// mitalk-swarm: many receive-only WebRTC listeners in one light process, for load tests.
//
// A listener here is what a Streaming viewer's browser is on the wire (ICE, DTLS-SRTP, RTP in)
// but it never decodes: it checks every RTP packet's sequence number and payload size and keeps
// the last payloads so the driver can decode a sample of listeners itself. Built from Debian's
// packaged pion/webrtc (golang-github-pion-webrtc.v3-dev) in GOPATH mode: nothing downloads.
//
// The driver (bench/_swarm.py) talks JSON lines over stdin/stdout; signaling stays its job:
//
//	{"op":"add","id":"k","offer":"v=0..."}  -> {"id":"k","answer":"v=0..."} | {"id":"k","error":"..."}
//	{"op":"close","id":"k"}                 -> {"id":"k","closed":true}
//	{"op":"stats"}                          -> {"stats":{"k":{...}, ...}}
//	{"op":"payloads","id":"k"}              -> {"id":"k","payloads":["base64", ...]} (oldest first)
//	{"op":"mark"}                           -> {"marked":true} (restarts every max_gap_ms window)
//
// "add" with an id that exists replaces that listener's connection (a move to another edge):
// its counters go on, and the silence between the two streams counts in max_gap_ms.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
)

const keepPayloads = 100 // 2 s of 20 ms Opus frames, enough to decode and check a tone.

type listener struct {
	mu          sync.Mutex
	pc          *webrtc.PeerConnection
	generation  int
	packets     int64
	bytes       int64
	small       int64 // payloads under 16 bytes: Opus silence/DTX frames, not sound
	lost        int64 // sequence gaps, summed over every stream this listener received
	streams     int
	extHighest  int64 // extended highest sequence number of the current stream, -1 before
	firstNs     int64
	lastNs      int64
	maxGapNs    int64 // longest silence between two packets since the last "mark"
	payloads    [][]byte
	state       string
}

type stats struct {
	Packets  int64   `json:"packets"`
	Bytes    int64   `json:"bytes"`
	Small    int64   `json:"small"`
	Lost     int64   `json:"lost"`
	Streams  int     `json:"streams"`
	FirstMs  float64 `json:"first_ms"`
	LastMs   float64 `json:"last_ms"`
	MaxGapMs float64 `json:"max_gap_ms"`
	State    string  `json:"state"`
}

type swarm struct {
	api       *webrtc.API
	start     time.Time
	mu        sync.Mutex
	listeners map[string]*listener
	out       chan any
}

type command struct {
	Op    string `json:"op"`
	ID    string `json:"id"`
	Offer string `json:"offer"`
}

func newAPI() *webrtc.API {
	media := &webrtc.MediaEngine{}
	// Opus only: all a Mi Talk listener is ever offered.
	if err := media.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		panic(err)
	}
	settings := webrtc.SettingEngine{}
	// Raw host addresses like Janus expects from a test host; no mDNS, IPv4 UDP only.
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	settings.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// No interceptors (no NACK, no reports): a listener that only counts costs the least.
	return webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithSettingEngine(settings))
}

func (s *swarm) now() int64 { return int64(time.Since(s.start)) }

func (s *swarm) add(id, offer string) {
	s.mu.Lock()
	l, ok := s.listeners[id]
	if !ok {
		l = &listener{extHighest: -1, state: "new"}
		s.listeners[id] = l
	}
	s.mu.Unlock()

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		s.out <- map[string]any{"id": id, "error": err.Error()}
		return
	}
	l.mu.Lock()
	old := l.pc
	l.pc = pc
	l.generation++
	generation := l.generation
	l.extHighest = -1
	l.mu.Unlock()
	if old != nil {
		go old.Close()
	}
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		l.mu.Lock()
		if l.generation == generation {
			l.state = state.String()
		}
		l.mu.Unlock()
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		s.read(l, generation, track)
	})
	fail := func(err error) {
		pc.Close()
		s.out <- map[string]any{"id": id, "error": err.Error()}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		fail(err)
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		fail(err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		fail(err)
		return
	}
	<-gathered // no trickle: Mi Talk takes one answer with every candidate in it
	s.out <- map[string]any{"id": id, "answer": pc.LocalDescription().SDP}
}

func (s *swarm) read(l *listener, generation int, track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var header rtp.Header
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		size, err := header.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		payload := buf[size:n]
		if header.Padding && len(payload) > 0 {
			payload = payload[:len(payload)-int(payload[len(payload)-1])]
		}
		now := s.now()
		l.mu.Lock()
		if l.generation != generation {
			l.mu.Unlock()
			return
		}
		if l.extHighest < 0 {
			l.extHighest = int64(header.SequenceNumber)
			l.streams++
		} else {
			// Extend the 16-bit sequence number around the current highest one.
			delta := int64(int16(header.SequenceNumber - uint16(l.extHighest)))
			if delta > 0 {
				if delta > 1 {
					l.lost += delta - 1
				}
				l.extHighest += delta
			} else if l.lost > 0 {
				l.lost-- // a late packet filled a gap counted before
			}
		}
		if l.lastNs > 0 && now-l.lastNs > l.maxGapNs {
			l.maxGapNs = now - l.lastNs
		}
		if l.firstNs == 0 {
			l.firstNs = now
		}
		l.lastNs = now
		l.packets++
		l.bytes += int64(len(payload))
		if len(payload) < 16 {
			l.small++
		}
		kept := make([]byte, len(payload))
		copy(kept, payload)
		if len(l.payloads) >= keepPayloads {
			l.payloads = l.payloads[1:]
		}
		l.payloads = append(l.payloads, kept)
		l.mu.Unlock()
	}
}

func (s *swarm) stats() map[string]stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	result := make(map[string]stats, len(s.listeners))
	for id, l := range s.listeners {
		l.mu.Lock()
		result[id] = stats{
			Packets: l.packets, Bytes: l.bytes, Small: l.small, Lost: l.lost,
			Streams: l.streams, FirstMs: float64(l.firstNs) / 1e6, LastMs: float64(l.lastNs) / 1e6,
			MaxGapMs: float64(l.maxGapNs) / 1e6, State: l.state,
		}
		l.mu.Unlock()
	}
	return result
}

func (s *swarm) handle(cmd command) {
	switch cmd.Op {
	case "add":
		go s.add(cmd.ID, cmd.Offer)
	case "close":
		s.mu.Lock()
		l := s.listeners[cmd.ID]
		delete(s.listeners, cmd.ID)
		s.mu.Unlock()
		if l != nil {
			l.mu.Lock()
			pc := l.pc
			l.generation++
			l.mu.Unlock()
			if pc != nil {
				pc.Close()
			}
		}
		s.out <- map[string]any{"id": cmd.ID, "closed": true}
	case "stats":
		s.out <- map[string]any{"stats": s.stats(), "now_ms": float64(s.now()) / 1e6}
	case "payloads":
		s.mu.Lock()
		l := s.listeners[cmd.ID]
		s.mu.Unlock()
		encoded := []string{}
		if l != nil {
			l.mu.Lock()
			for _, p := range l.payloads {
				encoded = append(encoded, base64.StdEncoding.EncodeToString(p))
			}
			l.mu.Unlock()
		}
		s.out <- map[string]any{"id": cmd.ID, "payloads": encoded}
	case "mark":
		s.mu.Lock()
		for _, l := range s.listeners {
			l.mu.Lock()
			l.maxGapNs = 0
			l.mu.Unlock()
		}
		s.mu.Unlock()
		s.out <- map[string]any{"marked": true}
	default:
		s.out <- map[string]any{"error": fmt.Sprintf("unknown op %q", cmd.Op)}
	}
}

func main() {
	// Two OS threads are plenty for hundreds of listeners and leave the machine to Janus.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2)
	}
	s := &swarm{api: newAPI(), start: time.Now(), listeners: map[string]*listener{}, out: make(chan any, 1024)}
	done := make(chan struct{})
	go func() {
		writer := bufio.NewWriter(os.Stdout)
		encoder := json.NewEncoder(writer)
		for message := range s.out {
			if err := encoder.Encode(message); err != nil {
				os.Exit(1)
			}
			if len(s.out) == 0 {
				writer.Flush()
			}
		}
		writer.Flush()
		close(done)
	}()
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var cmd command
		if err := json.Unmarshal(scanner.Bytes(), &cmd); err != nil {
			s.out <- map[string]any{"error": "bad command: " + err.Error()}
			continue
		}
		s.handle(cmd)
	}
	// stdin closed: the driver is gone or done; close every connection and leave.
	s.mu.Lock()
	for _, l := range s.listeners {
		if l.pc != nil {
			l.pc.Close()
		}
	}
	s.mu.Unlock()
	close(s.out)
	<-done
}
