package domain

import (
	"fmt"
	"strings"
	"time"
)

// CancelReason is the code a cancellation (or pick rejection) carries so
// that cancellations can be counted by reason.
type CancelReason string

// Cancellation reason codes.
const (
	CancelOutOfStock      CancelReason = "out_of_stock"
	CancelItemNotFound    CancelReason = "item_not_found"
	CancelCustomerRequest CancelReason = "customer_request"
	CancelPaymentFailed   CancelReason = "payment_failed"
	CancelFraud           CancelReason = "fraud"
	CancelNotCollected    CancelReason = "not_collected"
	CancelOther           CancelReason = "other"
)

// CancelReasons lists every code in display order.
var CancelReasons = []CancelReason{CancelOutOfStock, CancelItemNotFound, CancelCustomerRequest,
	CancelPaymentFailed, CancelFraud, CancelNotCollected, CancelOther}

var cancelReasonLabels = map[CancelReason]string{
	CancelOutOfStock: "out of stock", CancelItemNotFound: "item not found", CancelCustomerRequest: "customer request",
	CancelPaymentFailed: "payment failed", CancelFraud: "fraud", CancelNotCollected: "not collected", CancelOther: "other",
}

// Label is the code in words.
func (r CancelReason) Label() string { return cancelReasonLabels[r] }

// ResolveCancelReason decides a cancellation's code from the code and
// free-text note a client sent: an unknown code is CodeUnknownReasonCode on field
// reason_code; free text alone is other; neither is customer_request
// (what a cancellation without a reason always meant).
func ResolveCancelReason(code, note string) (CancelReason, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		if strings.TrimSpace(note) != "" {
			return CancelOther, nil
		}
		return CancelCustomerRequest, nil
	}
	r := CancelReason(code)
	if _, ok := cancelReasonLabels[r]; !ok {
		return "", &Error{Code: CodeUnknownReasonCode, Field: "reason_code", Message: fmt.Sprintf("Unknown reason code %q; use one of out_of_stock, item_not_found, customer_request, payment_failed, fraud, not_collected, other.", code)}
	}
	return r, nil
}

// ShopifyCancelReason maps Shopify's cancel_reason onto a code.
func ShopifyCancelReason(s string) CancelReason {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "customer":
		return CancelCustomerRequest
	case "inventory":
		return CancelOutOfStock
	case "fraud":
		return CancelFraud
	case "declined":
		return CancelPaymentFailed
	default:
		return CancelOther
	}
}

// RejectCancelReason is the code of a pick rejection's reason.
func RejectCancelReason(reject string) CancelReason {
	if reject == RejectDamaged {
		return CancelOutOfStock
	}
	return CancelItemNotFound
}

// UncollectedReason is not_collected for a pickup order that was made
// ready and whose pickup window has passed by now, and "" otherwise: a
// cancellation without an explicit code of such an order is counted as
// not collected.
func UncollectedReason(o Order, now time.Time) CancelReason {
	if o.Fulfilment == FulfilPickup && !o.ReadyAt.IsZero() && !o.PickupUntil.IsZero() && now.After(o.PickupUntil) {
		return CancelNotCollected
	}
	return ""
}
