package handlers

import (
	"strings"

	"stockline/domain"
	"stockline/store"
)

// cancelRequest turns a client's reason_code, legacy free-text reason and
// note into a CancelRequest; an unknown code is 422 on reason_code.
func cancelRequest(code, reason, note string) (store.CancelRequest, error) {
	text := strings.TrimSpace(note)
	if text == "" {
		text = strings.TrimSpace(reason)
	}
	rc, err := domain.ResolveCancelReason(code, text)
	if err != nil {
		return store.CancelRequest{}, err
	}
	if text == "" && strings.TrimSpace(code) != "" {
		text = rc.Label()
	}
	return store.CancelRequest{Reason: text, ReasonCode: rc}, nil
}
