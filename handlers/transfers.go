package handlers

// The transfers JSON API (issue 10): scope transfers; admin opens every
// route. Errors use the one shape; bad input on create is 422 with field.

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// TransferLineJSON is one line as the API shows it.
type TransferLineJSON struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Approved  int    `json:"approved"`
	Shipped   int    `json:"shipped"`
	Received  int    `json:"received"`
	Damaged   int    `json:"damaged"`
}

// TransferEventJSON is one timeline entry.
type TransferEventJSON struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	Message string    `json:"message"`
}

// TransferJSON is a transfer as every transfer route answers it.
type TransferJSON struct {
	ID       int64               `json:"id"`
	Status   string              `json:"status"`
	From     string              `json:"from"`
	To       string              `json:"to"`
	Lines    []TransferLineJSON  `json:"lines"`
	Reason   string              `json:"reason"`
	NeededBy *string             `json:"needed_by"`
	Tracking string              `json:"tracking"`
	Timeline []TransferEventJSON `json:"timeline"`
}

func transferJSON(t domain.Transfer) TransferJSON {
	j := TransferJSON{ID: t.ID, Status: string(t.Status), From: t.From, To: t.To, Reason: t.Reason, Tracking: t.Tracking,
		Lines: make([]TransferLineJSON, 0, len(t.Lines)), Timeline: make([]TransferEventJSON, 0, len(t.Timeline))}
	if t.NeededBy != nil {
		d := t.NeededBy.Format(time.DateOnly)
		j.NeededBy = &d
	}
	for _, l := range t.Lines {
		j.Lines = append(j.Lines, TransferLineJSON{SKU: l.SKU, Requested: l.Requested, Approved: l.Approved, Shipped: l.Shipped, Received: l.Received, Damaged: l.Damaged})
	}
	for _, e := range t.Timeline {
		j.Timeline = append(j.Timeline, TransferEventJSON{At: e.At, Kind: e.Kind, Actor: e.Actor, Message: e.Message})
	}
	return j
}

type transferRequest struct {
	From     string                     `json:"from"`
	To       string                     `json:"to"`
	Lines    []domain.TransferLineInput `json:"lines"`
	Reason   string                     `json:"reason"`
	NeededBy string                     `json:"needed_by"`
}

// handleTransferCreate is POST /api/v1/transfers, idempotent on
// Idempotency-Key: 201 with the transfer.
func (s *Server) handleTransferCreate(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req transferRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := domain.NewTransfer{From: req.From, To: req.To, Lines: req.Lines, Reason: req.Reason, NeededBy: req.NeededBy}
	act := actor(c)
	res, err := s.DB.Idempotent(c.Request().Context(), store.IdempotencyKey{Scope: idempotencyScope(c), Key: key, Hash: requestHash(c, req)},
		func(ctx context.Context, tx *store.Tx) (store.Response, error) {
			t, err := s.DB.CreateTransferTx(ctx, tx, act, in)
			if err != nil {
				return store.Response{}, err
			}
			return store.Response{Status: http.StatusCreated, Body: jsonLine(transferJSON(t))}, nil
		})
	if err != nil {
		return err
	}
	return c.Blob(res.Status, echo.MIMEApplicationJSON, res.Body)
}

func transferID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "There is no transfer %q.", c.Param("id"))
	}
	return id, nil
}

// handleTransferGetAPI is GET /api/v1/transfers/{id}.
func (s *Server) handleTransferGetAPI(c echo.Context) error {
	id, err := transferID(c)
	if err != nil {
		return err
	}
	t, err := s.DB.TransferByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, transferJSON(t))
}

// handleTransferListAPI is GET /api/v1/transfers?status=&from=&to=.
func (s *Server) handleTransferListAPI(c echo.Context) error {
	ts, err := s.DB.ListTransfers(c.Request().Context(), store.TransferFilter{Status: c.QueryParam("status"), From: c.QueryParam("from"), To: c.QueryParam("to")})
	if err != nil {
		return err
	}
	out := make([]TransferJSON, len(ts))
	for i, t := range ts {
		out[i] = transferJSON(t)
	}
	return c.JSON(http.StatusOK, map[string]any{"transfers": out})
}

// transferAction decodes body (when given), runs fn on the transfer named
// by :id and answers the transfer.
func (s *Server) transferAction(c echo.Context, body any, fn func(ctx context.Context, act domain.Actor, id int64) (domain.Transfer, error)) error {
	id, err := transferID(c)
	if err != nil {
		return err
	}
	if body == nil {
		body = &struct{}{} // no fields, but a malformed body or one with NUL is still refused
	}
	if c.Request().ContentLength != 0 {
		if err := decodeOptionalJSON(c, body); err != nil {
			return err
		}
	}
	t, err := fn(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, transferJSON(t))
}

// handleTransferShipAPI is POST /api/v1/transfers/{id}/ship.
func (s *Server) handleTransferShipAPI(c echo.Context) error {
	var b struct {
		Lines    []domain.TransferLineInput `json:"lines"`
		Tracking string                     `json:"tracking"`
	}
	return s.transferAction(c, &b, func(ctx context.Context, act domain.Actor, id int64) (domain.Transfer, error) {
		return s.DB.ShipTransfer(ctx, act, id, b.Lines, b.Tracking)
	})
}

// handleTransferReceiveAPI is POST /api/v1/transfers/{id}/receive;
// complete defaults to true.
func (s *Server) handleTransferReceiveAPI(c echo.Context) error {
	var b struct {
		Lines    []domain.ReceiptLine `json:"lines"`
		Complete *bool                `json:"complete"`
	}
	return s.transferAction(c, &b, func(ctx context.Context, act domain.Actor, id int64) (domain.Transfer, error) {
		return s.DB.ReceiveTransfer(ctx, act, id, b.Lines, b.Complete == nil || *b.Complete)
	})
}

// handleTransferCancelAPI is POST /api/v1/transfers/{id}/cancel.
func (s *Server) handleTransferCancelAPI(c echo.Context) error {
	return s.transferAction(c, nil, func(ctx context.Context, act domain.Actor, id int64) (domain.Transfer, error) {
		return s.DB.CancelTransfer(ctx, act, id)
	})
}

// handleTransferDecideAPI is POST /api/v1/transfers/{id}/approve and
// …/reject with an optional {"note"}.
func (s *Server) handleTransferDecideAPI(approve bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b struct {
			Note string `json:"note"`
		}
		return s.transferAction(c, &b, func(ctx context.Context, act domain.Actor, id int64) (domain.Transfer, error) {
			if approve {
				return s.DB.ApproveTransfer(ctx, act, id, b.Note)
			}
			return s.DB.RejectTransfer(ctx, act, id, b.Note)
		})
	}
}
