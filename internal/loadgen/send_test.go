package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
)

// TestSend_UDP offers a small rate to a socket of the test's own and checks
// that what arrives is every packet sent, each a HEPv3 packet of the run.
func TestSend_UDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_ = pc.(*net.UDPConn).SetReadBuffer(4 << 20)
	got := make(chan int)
	go func() {
		var dec hep.Decoder
		var hp hep.Packet
		buf := make([]byte, 64<<10)
		n := 0
		for {
			_ = pc.SetReadDeadline(time.Now().Add(time.Second))
			m, _, err := pc.ReadFrom(buf)
			if err != nil {
				got <- n
				return
			}
			if dec.Decode(buf[:m], &hp) == nil && hp.CaptureID == 42 {
				n++
			}
		}
	}()
	res, err := Send(context.Background(), SendConfig{Addr: pc.LocalAddr().String(), Transport: "udp", Conns: 3,
		Rate: 3000, Duration: 300 * time.Millisecond, Gen: Config{RunID: "t", CaptureID: 42}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Offered != 900 || res.Sent != 900 || res.Errors != 0 {
		t.Fatalf("unexpected send result; got offered %d sent %d errors %d; want 900, 900, 0", res.Offered, res.Sent, res.Errors)
	}
	if n := <-got; uint64(n) != res.Sent {
		t.Fatalf("unexpected packets received; got %d; want %d", n, res.Sent)
	}
	if res.Elapsed < 250*time.Millisecond {
		t.Fatalf("sent too fast for the rate: %v", res.Elapsed)
	}
}

// TestSend_TCP frames the stream as the collector does and counts the
// packets of every connection.
func TestSend_TCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	counts := make(chan int)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fr := hep.NewFramer(c, hep.MaxV3Len)
				var dec hep.Decoder
				var hp hep.Packet
				n := 0
				for {
					frame, err := fr.Next()
					if err != nil {
						counts <- n
						return
					}
					if dec.Decode(frame, &hp) == nil {
						n++
					}
				}
			}()
		}
	}()
	res, err := Send(context.Background(), SendConfig{Addr: ln.Addr().String(), Transport: "tcp", Conns: 2,
		Rate: 4000, Duration: 250 * time.Millisecond, Gen: Config{RunID: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	total := <-counts + <-counts
	if res.Sent != 1000 || uint64(total) != res.Sent {
		t.Fatalf("unexpected packets; sent %d, received %d; want 1000 each", res.Sent, total)
	}
}
