package domain

import (
	"fmt"
	"strings"
)

// An exchange gives the customer replacement units for what they bring
// back, in the same transaction as the return: a new bopis order at the
// receiving store, for the original order's customer, whose lines are
// reserved there at once (an in-store pickup order the associate picks and
// hands over from the pickup queue). If the store cannot reserve every
// replacement line, nothing is recorded: no return, no order.

// NewExchange is the replacement an exchange asks for.
type NewExchange struct {
	Lines []OrderLineInput `json:"lines"`
}

// MaxExchangeLines bounds an exchange's lines: one reservation's worth.
const MaxExchangeLines = MaxReservationLines

// Validate checks the exchange's own fields: 1..MaxExchangeLines lines,
// each with a SKU given once and a quantity from 1 to 10,000 (422 on
// exchange.lines[i].sku or .qty).
func (x NewExchange) Validate() error {
	if len(x.Lines) == 0 || len(x.Lines) > MaxExchangeLines {
		return Unprocessable("exchange.lines", "An exchange needs between 1 and %d replacement lines.", MaxExchangeLines)
	}
	seen := make(map[string]bool, len(x.Lines))
	for i, l := range x.Lines {
		f := fmt.Sprintf("exchange.lines[%d]", i)
		sku := strings.TrimSpace(l.SKU)
		switch {
		case sku == "":
			return Unprocessable(f+".sku", "Replacement line %d has no SKU.", i+1)
		case seen[sku]:
			return Unprocessable(f+".sku", "SKU %s appears on two replacement lines; put the whole quantity on one line.", sku)
		case l.Qty <= 0 || l.Qty > 10_000:
			return Unprocessable(f+".qty", "Replacement quantity for %s must be between 1 and 10000.", sku)
		}
		seen[sku] = true
	}
	return nil
}

// ExchangeOrder is the new order an exchange creates: bopis at the store
// receiving the return, for the original order's customer. Money is not
// Stockline's business: the till settles any difference, so the payment
// status stays pending.
func ExchangeOrder(x NewExchange, original Order, location, source string) NewOrder {
	c := original.Customer()
	if strings.TrimSpace(c.Name+c.Email+c.Phone) == "" {
		c.Name = "Customer of " + original.Number
	}
	lines := make([]OrderLineInput, len(x.Lines))
	for i, l := range x.Lines {
		lines[i] = OrderLineInput{SKU: strings.TrimSpace(l.SKU), Qty: l.Qty}
	}
	return NewOrder{Channel: BOPIS, Customer: c, PickupLocation: location, PaymentStatus: PaymentPending, Lines: lines, Source: source}
}

// ExchangeShort is the 409 insufficient_stock for an exchange whose
// replacement the store cannot reserve: it names each short line with the
// units available, and says nothing was recorded.
func ExchangeShort(location string, short *Error) *Error {
	lines, _ := short.Details["lines"].([]ShortLine)
	var parts []string
	for _, l := range lines {
		parts = append(parts, fmt.Sprintf("%d × %s wanted, %d available", l.Requested, l.SKU, l.Available))
	}
	msg := fmt.Sprintf("%s cannot reserve the replacement: %s. Nothing was recorded: the return was not received and no order was created. Choose other items or take the return without an exchange.",
		location, strings.Join(parts, "; "))
	return &Error{Code: CodeInsufficientStock, Field: "exchange", Message: msg, Details: short.Details}
}

// ExchangeField moves an error about the replacement order or its
// reservation onto the exchange's fields (lines[0].sku becomes
// exchange.lines[0].sku); an unknown SKU is 422 like the return's own.
func ExchangeField(err error) error {
	e := AsError(err)
	if e == nil || e.Code == EINTERNAL {
		return err
	}
	out := *e
	switch {
	case strings.HasPrefix(e.Field, "lines"):
		out.Field = "exchange." + e.Field
	case e.Field == "location" || e.Field == "pickup_location":
		out.Field = "exchange"
	}
	if out.Code == ENOTFOUND || out.Code == EINVALID {
		out.Code = CodeUnprocessable
	}
	return &out
}
