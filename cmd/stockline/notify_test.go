package main

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"stockline/domain"
)

// fakeSMTP accepts one message on loopback and returns what it received.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		say := func(s string) { c.Write([]byte(s + "\r\n")) }
		say("220 fake ESMTP")
		var data strings.Builder
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if inData {
				if line == ".\r\n" {
					inData = false
					say("250 queued")
					continue
				}
				data.WriteString(line)
				continue
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 fake")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
				say("250 ok")
			case cmd == "DATA":
				inData = true
				say("354 go ahead")
			case cmd == "QUIT":
				say("221 bye")
				ch <- data.String()
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
}

// The SMTP sender speaks SMTP to the configured server: the message has the
// customer, the subject and the body; a header with a line break is refused.
func TestSMTPSender(t *testing.T) {
	addr, got := fakeSMTP(t)
	send := smtpSender(addr, "orders@shop.example")
	n := domain.Notification{ID: 7, Recipient: "ann@example.com", Subject: "Order SL-1 is ready for pickup", Body: "Hi Ann,\nyour order is ready."}
	via, err := send(context.Background(), n)
	if err != nil || !strings.HasPrefix(via, "smtp ") {
		t.Fatalf("send: %q %v", via, err)
	}
	select {
	case msg := <-got:
		for _, want := range []string{"To: ann@example.com", "From: orders@shop.example", "Subject: Order SL-1 is ready for pickup", "your order is ready."} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fake SMTP server received nothing")
	}
	n.Recipient = "ann@example.com\r\nBcc: all@example.com"
	if _, err := send(context.Background(), n); err == nil {
		t.Fatal("a recipient with a line break must be refused")
	}
	if via, err := localSender(context.Background(), n); err != nil || via != "local outbox" {
		t.Fatalf("local sender: %q %v", via, err)
	}
}
