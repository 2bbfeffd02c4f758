package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"stockline/domain"
	"stockline/store"
)

// exceptionWorker raises pickup_overdue exceptions for pickups whose
// window ended, once per order (a unique index makes it so across
// instances).
func exceptionWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) {
		every(ctx, m.Config.ExceptionSweep, func(rctx context.Context) { sweepOverduePickups(rctx, m.DB, m.Log) })
	}
}

// checkWorker runs the consistency check every CHECK_INTERVAL: one
// check_failed exception while it fails (deduplicated, so several
// instances may run it), resolved when it is clean.
func checkWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) {
		tick := time.NewTicker(m.Config.CheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			scheduledCheck(ctx, m.DB, m.Log)
		}
	}
}

const overdueBatch = 200

func sweepOverduePickups(ctx context.Context, db *store.DB, log *slog.Logger) {
	n, err := drain(overdueBatch, func() (int, error) { return db.RaiseOverduePickups(ctx, db.Now(), overdueBatch) })
	if n > 0 {
		log.Info("overdue pickups raised", "count", n)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("overdue pickup sweep failed", "err", err.Error())
	}
}

// scheduledCheck runs the consistency check and records its result as an
// exception (or resolves the open one). The check has its own time-out
// (on a large database it takes longer than a worker round) and stops
// with the worker.
func scheduledCheck(ctx context.Context, db *store.DB, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rep, err := db.Check(cctx)
	if err == nil {
		err = db.RecordCheckResult(cctx, rep)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("scheduled consistency check failed to run", "err", err.Error())
	} else if err == nil && !rep.OK() {
		log.Warn("scheduled consistency check found violations", "ledger", len(rep.LedgerMismatch), "unexplained", len(rep.Unexplained),
			"leaks", len(rep.ReservationLeak), "orders", len(rep.OrderMismatch))
	}
}

// alertSender is how new critical exceptions are announced: a webhook, an
// email through the notifier's SMTP sender, or both; nil when neither is
// configured (then no alert is queued at all).
func alertSender(cfg Config) store.AlertSendFunc {
	var sends []store.AlertSendFunc
	if cfg.AlertWebhookURL != "" {
		sends = append(sends, webhookAlert(cfg.AlertWebhookURL, &http.Client{Timeout: 10 * time.Second}))
	}
	if cfg.AlertEmail != "" && cfg.SMTPAddr != "" {
		smtp := smtpSender(cfg.SMTPAddr, cfg.SMTPFrom)
		to := cfg.AlertEmail
		sends = append(sends, func(ctx context.Context, a domain.ExceptionAlert) (string, error) {
			return smtp(ctx, domain.Notification{ID: a.ID, Recipient: to, Subject: alertText(a), Body: alertText(a) + "\n\n" + a.Detail +
				fmt.Sprintf("\n\nOpen it: /exceptions/%d", a.ExceptionID)})
		})
	}
	if len(sends) == 0 {
		return nil
	}
	return func(ctx context.Context, a domain.ExceptionAlert) (string, error) {
		via := ""
		for _, send := range sends {
			v, err := send(ctx, a)
			if err != nil {
				return "", err
			}
			if via != "" {
				via += " and "
			}
			via += v
		}
		return via, nil
	}
}

func alertText(a domain.ExceptionAlert) string {
	where := ""
	if a.Location != "" {
		where = " at " + a.Location
	}
	return fmt.Sprintf("[Stockline] %s %s%s: %s", a.Severity, domain.ExceptionKindLabel(a.Kind), where, a.Title)
}

// webhookAlert POSTs {"text", "exception"} (Slack-compatible text) to url;
// any answer but 2xx is a failure to retry.
func webhookAlert(url string, client *http.Client) store.AlertSendFunc {
	return func(ctx context.Context, a domain.ExceptionAlert) (string, error) {
		body, err := json.Marshal(map[string]any{"text": alertText(a), "exception": map[string]any{
			"id": a.ExceptionID, "kind": a.Kind, "severity": a.Severity, "location": a.Location, "title": a.Title,
			"path": fmt.Sprintf("/exceptions/%d", a.ExceptionID)}})
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("webhook: %w", err)
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			return "", fmt.Errorf("webhook answered %s", res.Status)
		}
		return "webhook", nil
	}
}
