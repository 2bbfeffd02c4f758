package handlers

// GET /api/v1/availability?view=summary: what a product or listing page
// shows (can it be bought, per channel), without the per-location buckets
// of the full view: network ATP and an in-stock flag for each channel, or
// for the one ?channel= names. Encoded once per cached snapshot version
// and policy versions, like the full view.

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

type apiChannelSummary struct {
	Channel    domain.Channel `json:"channel"`
	NetworkATP int            `json:"network_atp"`
	InStock    bool           `json:"in_stock"` // network_atp > 0
}

type apiAvailabilitySummary struct {
	SKU      string              `json:"sku"`
	Channels []apiChannelSummary `json:"channels"`
}

// availabilitySummary answers view=summary for skus, in the single or
// batch form.
func (s *Server) availabilitySummary(c echo.Context, skus []string, batch bool, snaps []store.StockSnapshot) error {
	ctx := c.Request().Context()
	chans := domain.Channels
	if raw := c.QueryParam("channel"); raw != "" {
		ch, err := domain.ParseChannel(raw)
		if err != nil {
			return err
		}
		chans = []domain.Channel{ch}
	}
	all, err := s.DB.CachedPolicies(ctx)
	if err != nil {
		return err
	}
	pols := make([]domain.Policy, 0, len(chans))
	var key strings.Builder
	key.WriteString("summary")
	for _, ch := range chans {
		p, ok := all[ch]
		if !ok {
			continue // no policy yet: nothing sells there (a named ?channel= with none is 404 before this)
		}
		pols = append(pols, p)
		key.WriteString("|" + string(ch) + ":" + strconv.FormatInt(p.UpdatedAt.UnixNano(), 10))
	}
	parts := make([][]byte, len(snaps))
	for i, snap := range snaps {
		parts[i], err = snap.Memo(key.String(), func() ([]byte, error) {
			stock := snap.Stock()
			out := apiAvailabilitySummary{SKU: skus[i], Channels: make([]apiChannelSummary, len(pols))}
			for j, p := range pols {
				atp := domain.ChannelAvailability(p, stock).NetworkATP
				out.Channels[j] = apiChannelSummary{Channel: p.Channel, NetworkATP: atp, InStock: atp > 0}
			}
			b, err := json.Marshal(out)
			return append(b, '\n'), err
		})
		if err != nil {
			return err
		}
	}
	return answerObjects(c, batch, parts)
}
