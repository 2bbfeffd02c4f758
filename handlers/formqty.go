package handlers

import (
	"strconv"
	"strings"

	"stockline/domain"
)

// maxFormQty is the largest quantity a page form may name: far above any
// order line, far below where arithmetic on it could overflow.
const maxFormQty = 1_000_000

// formQty reads an optional quantity typed into a form. Empty means "all"
// (0); anything else must be a whole number from 1 to maxFormQty. A value
// that is not (-1, 0, 1.5, 2^63, "two") is refused rather than read as 0,
// which would mean every unit.
func formQty(raw string) (int, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxFormQty {
		return 0, domain.FieldError("qty", "Quantities are whole numbers from 1 to %d (leave it empty for every unit); %q is not one.", maxFormQty, clip(raw, 24))
	}
	return n, nil
}

// clip shortens s to at most n runes for an error message.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
