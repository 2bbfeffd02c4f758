package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is an in-process TCP proxy between Stockline and PostgreSQL that
// can disturb the connection: add latency to every chunk, cap the
// bandwidth, and reset every open connection. The soak's fault phase and
// the fault tests use it; it only ever listens and dials on loopback.
type proxy struct {
	ln     net.Listener
	target string

	latency atomic.Int64 // nanoseconds added before each chunk is forwarded
	bps     atomic.Int64 // bytes a second per direction; 0 is unlimited
	refuse  atomic.Bool  // close new connections at once

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newProxy listens on a free loopback port and forwards to target.
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port to connect to instead of the target.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Disturb sets the added latency and the bandwidth cap (0: none).
func (p *proxy) Disturb(latency time.Duration, bytesPerSecond int64) {
	p.latency.Store(int64(latency))
	p.bps.Store(bytesPerSecond)
}

// Calm removes every disturbance.
func (p *proxy) Calm() { p.Disturb(0, 0); p.refuse.Store(false) }

// Reset closes every open connection (both ends see a reset or EOF), as a
// failing network or a firewall dropping state would.
func (p *proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN
		}
		c.Close()
	}
}

// Conns is how many connections (pairs) are open through the proxy; each
// holds two goroutines, which goroutine baselines must leave out.
func (p *proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Close stops listening, resets every connection and waits for the pipes.
func (p *proxy) Close() {
	p.ln.Close()
	p.Reset()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst chunk by chunk, applying the disturbances, and
// closes both ends when either side ends.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.latency.Load()); d > 0 {
				time.Sleep(d)
			}
			if bps := p.bps.Load(); bps > 0 {
				time.Sleep(time.Duration(float64(n) / float64(bps) * float64(time.Second)))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or a reset: either way this pair is done
			return
		}
	}
}
