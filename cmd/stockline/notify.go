package main

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/smtp"
	"strings"
	"time"

	"stockline/domain"
	"stockline/store"
)

// The outbox relay and customer notification sender: every NOTIFY_INTERVAL
// it marks the outbox's new domain events published (the hook where live
// page updates or a message stream would be fed) and delivers queued
// customer messages, by SMTP when SMTP_ADDR is set and otherwise to the
// local outbox page (/notifications). Several instances may run it: both
// steps take rows with FOR UPDATE SKIP LOCKED.
func notifyWorker(m *Main) func(ctx context.Context) {
	send := localSender
	if m.Config.SMTPAddr != "" {
		send = smtpSender(m.Config.SMTPAddr, m.Config.SMTPFrom)
	}
	alerts := alertSender(m.Config)
	limit := domain.AlertLimit{Window: m.Config.AlertWindow, PerKey: m.Config.AlertPerKey, Global: m.Config.AlertGlobal}
	return func(ctx context.Context) {
		relayAndNotify(ctx, m.DB, m.Log, m.Config.NotifyInterval, send, alerts, limit)
	}
}

const (
	relayBatch  = 500
	notifyBatch = 100
)

// relayAndNotify is the relay round: publish the outbox (queueing an alert,
// rate-limited, for each new critical exception when alerts is set), send
// queued alerts, then deliver queued customer messages.
func relayAndNotify(ctx context.Context, db *store.DB, log *slog.Logger, interval time.Duration, send store.SendFunc, alerts store.AlertSendFunc, limit domain.AlertLimit) {
	var handle func(ctx context.Context, e store.OutboxEvent) error
	if alerts != nil {
		handle = func(ctx context.Context, e store.OutboxEvent) error { return db.QueueExceptionAlert(ctx, e, limit) }
	}
	every(ctx, interval, func(rctx context.Context) {
		if _, err := drain(relayBatch, func() (int, error) { return db.RelayOutbox(rctx, relayBatch, handle) }); err != nil && ctx.Err() == nil {
			log.Error("outbox relay failed", "err", err.Error())
		}
		if alerts != nil {
			if n, err := db.SendExceptionAlerts(rctx, alerts, notifyBatch); err != nil && ctx.Err() == nil {
				log.Error("alert sender failed", "err", err.Error())
			} else if n > 0 {
				log.Info("exception alerts handled", "count", n)
			}
		}
		n, err := db.SendQueuedNotifications(rctx, send, notifyBatch)
		if err != nil && ctx.Err() == nil {
			log.Error("notification sender failed", "err", err.Error())
		} else if n > 0 {
			log.Info("customer notifications handled", "count", n)
		}
	})
}

// localSender delivers to the local outbox: the message is already stored
// and shown on /notifications, so delivering is recording it as sent.
func localSender(ctx context.Context, n domain.Notification) (string, error) {
	return "local outbox", nil
}

// smtpSender delivers by plain SMTP to addr (host:port) from from.
func smtpSender(addr, from string) store.SendFunc {
	return func(ctx context.Context, n domain.Notification) (string, error) {
		if strings.ContainsAny(n.Recipient, "\r\n") || strings.ContainsAny(from, "\r\n") {
			return "", fmt.Errorf("refusing a header with a line break")
		}
		msg := "From: " + from + "\r\n" +
			"To: " + n.Recipient + "\r\n" +
			"Subject: " + mime.QEncoding.Encode("utf-8", n.Subject) + "\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			fmt.Sprintf("Message-ID: <stockline-notification-%d@stockline>\r\n", n.ID) +
			"\r\n" + strings.ReplaceAll(n.Body, "\n", "\r\n") + "\r\n"
		done := make(chan error, 1)
		go func() { done <- smtp.SendMail(addr, nil, from, []string{n.Recipient}, []byte(msg)) }()
		select {
		case err := <-done:
			if err != nil {
				return "", err
			}
			return "smtp " + addr, nil
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Second):
			return "", fmt.Errorf("smtp %s: no answer in 20 s", addr)
		}
	}
}
