package handlers

import (
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"stockline/connectors"
	"stockline/domain"
	"stockline/store"
)

// maxWebhookBody bounds a webhook body; Shopify orders with many lines run
// to a few hundred KiB.
const maxWebhookBody = 5 << 20

// handleShopifyWebhook receives orders/create, orders/cancelled,
// refunds/create and inventory_levels/update. It answers 401 to a missing
// or wrong X-Shopify-Hmac-Sha256 (logged, never applied), 200 to a
// delivery it has seen before (X-Shopify-Webhook-Id), and otherwise stores
// and applies the events in one transaction, deduped against pulls by the
// order, refund or level they are about. Malformed bodies that are signed
// are dead-lettered, not refused, so the platform does not retry them.
func (s *Server) handleShopifyWebhook(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, req.Body, maxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &domain.Error{Code: domain.ETOOLARGE, Message: "The webhook body is over 5 MiB."}
		}
		return &domain.Error{Code: domain.EINVALID, Message: "The webhook body could not be read."}
	}
	topic := req.Header.Get("X-Shopify-Topic")
	webhookID := req.Header.Get("X-Shopify-Webhook-Id")
	if s.opts.ShopifyWebhookSecret == "" {
		s.Log.WarnContext(ctx, "shopify webhook refused: SHOPIFY_WEBHOOK_SECRET is not set", "topic", topic, "ip", c.RealIP())
		return &domain.Error{Code: domain.CodeInvalidSignature,
			Message: "Webhooks are not accepted: SHOPIFY_WEBHOOK_SECRET is not configured."}
	}
	if !connectors.VerifyShopifyHMAC(s.opts.ShopifyWebhookSecret, body, req.Header.Get("X-Shopify-Hmac-Sha256")) {
		s.Log.WarnContext(ctx, "shopify webhook refused: bad signature", "topic", topic, "webhook_id", webhookID,
			"ip", c.RealIP(), "bytes", len(body))
		return &domain.Error{Code: domain.CodeInvalidSignature,
			Message: "The X-Shopify-Hmac-Sha256 signature does not match the body."}
	}
	if !slices.Contains(connectors.ShopifyWebhookTopics, topic) {
		// Answer 200 so the platform does not retry a topic we never use.
		return c.JSON(http.StatusOK, map[string]any{"status": "ignored", "topic": topic})
	}
	conn, err := s.DB.ConnectorByAdapter(ctx, "shopify")
	if err != nil {
		return err
	}
	seen, err := s.DB.RecordWebhookDelivery(ctx, conn.ID, webhookID, topic)
	if err != nil {
		return err
	}
	if seen {
		return c.JSON(http.StatusOK, map[string]any{"status": "duplicate", "webhook_id": webhookID})
	}
	events, err := shopifyWebhookEvents(topic, body)
	if err != nil {
		return err
	}
	for i := range events {
		events[i].Via, events[i].DeliveryID = "webhook", webhookID
	}
	res, err := s.DB.Ingest(ctx, conn, events, "")
	if err != nil {
		// Let the platform's retry bring it again.
		if ferr := s.DB.ForgetWebhookDelivery(ctx, conn.ID, webhookID); ferr != nil {
			s.Log.ErrorContext(ctx, "forget webhook delivery", "err", ferr.Error())
		}
		return err
	}
	if err := s.DB.NoteSourceTime(ctx, conn.ID, res.Newest); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "shopify webhook", "topic", topic, "webhook_id", webhookID, "connector", conn.Name,
		"applied", res.Applied, "duplicates", res.Duplicates, "pending", res.Pending, "dead_lettered", res.DeadLettered)
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "connector": conn.Name, "received": res.Received,
		"applied": res.Applied, "duplicates": res.Duplicates, "pending": res.Pending, "dead_lettered": res.DeadLettered})
}

// shopifyWebhookEvents parses a signed body, except one that cannot be
// stored as text (a NUL byte, a \u0000 escape, bytes that are not UTF-8):
// that becomes one dead-lettered event holding the body with those bytes
// escaped, so the delivery is answered 200 and kept for a person instead
// of failing on every redelivery.
func shopifyWebhookEvents(topic string, body []byte) ([]store.InboundEvent, error) {
	clean, changed := cleanPayload(body)
	if !changed {
		return connectors.ParseShopifyWebhook(topic, body)
	}
	typ := map[string]string{"orders/cancelled": "shopify.order_cancelled", "refunds/create": "shopify.refund",
		"inventory_levels/update": "shopify.inventory_level"}[topic]
	if typ == "" {
		typ = "shopify.order"
	}
	return []store.InboundEvent{{SourceEventID: store.SyntheticEventID(body), Type: typ, Payload: clean,
		Err: "The webhook body contains a NUL byte or bytes that are not UTF-8, which Stockline cannot store; " +
			"it is kept here with those bytes escaped (\\u0000, \\xHH). Fix the payload and retry, or dismiss it."}}, nil
}
