package handlers

// GET /api/v1/availability: one SKU (?sku=) or up to maxBatchSKUs (?skus=A,B,C),
// from the store's availability read model (store/availability_cache.go).
// The full per-SKU answer is encoded once per cached snapshot version,
// channel and policy version, and the same bytes serve the single form
// and every batch that includes the SKU.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// defaultChannel is the channel GET /api/v1/availability reports when the
// request names none: ecommerce_ship, the web shop's ship-to-home channel,
// which is what a caller that does not think in channels usually means.
const defaultChannel = domain.EcommerceShip

// maxBatchSKUs is how many SKUs one ?skus= request may ask for.
const maxBatchSKUs = 100

// apiPosition is one location's buckets in API answers.
type apiPosition struct {
	Location           string `json:"location"`
	OnHand             int    `json:"on_hand"`
	Reserved           int    `json:"reserved"`
	Damaged            int    `json:"damaged"`
	QualityHold        int    `json:"quality_hold"`
	TransferOut        int    `json:"transfer_out"`
	InTransitIn        int    `json:"in_transit_in"`
	SafetyStock        int    `json:"safety_stock"`
	ATP                int    `json:"atp"`
	Eligible           bool   `json:"eligible"` // whether the channel's policy lets this location serve it
	NotEligibleBecause string `json:"not_eligible_because,omitempty"`
}

type apiAvailability struct {
	SKU        string         `json:"sku"`
	Channel    domain.Channel `json:"channel"`
	NetworkATP int            `json:"network_atp"`
	Locations  []apiPosition  `json:"locations"`
}

// handleAvailabilityAPI answers GET /api/v1/availability?sku=S[&location=L][&channel=C]
// with one SKU's object, and ?skus=A,B,C[&location=L][&channel=C] with
// {"items":[one object per SKU, in the order asked]}. network_atp is
// always the whole network's (the sum over the channel's eligible
// locations), also when location narrows the list to one row. An unknown
// SKU is 404 not_found in both forms; more than 100 SKUs is 400 (field skus).
func (s *Server) handleAvailabilityAPI(c echo.Context) error {
	ctx := c.Request().Context()
	skus, batch, err := availabilitySKUs(c)
	if err != nil {
		return err
	}
	ch := defaultChannel
	if raw := c.QueryParam("channel"); raw != "" {
		if ch, err = domain.ParseChannel(raw); err != nil {
			return err
		}
	}
	pol, err := s.DB.CachedPolicy(ctx, ch)
	if err != nil {
		return err
	}
	snaps, err := s.DB.AvailabilitySnapshots(ctx, skus)
	if err != nil {
		return err
	}
	only := c.QueryParam("location")
	switch c.QueryParam("view") {
	case "", "full":
	case "summary":
		if only != "" {
			return domain.FieldError("location", "view=summary answers for the whole network; leave out location, or ask for the full view.")
		}
		return s.availabilitySummary(c, skus, batch, snaps)
	default:
		return domain.FieldError("view", "view is full (the default) or summary.")
	}
	_, pretty := c.QueryParams()["pretty"]
	if only != "" || pretty || c.Echo().Debug {
		// Narrowed or indented answers are built per request.
		items := make([]apiAvailability, len(snaps))
		for i, snap := range snaps {
			if items[i], err = availabilityOf(skus[i], ch, pol, snap, only); err != nil {
				return err
			}
		}
		if !batch {
			return c.JSON(http.StatusOK, items[0])
		}
		return c.JSON(http.StatusOK, struct {
			Items []apiAvailability `json:"items"`
		}{items})
	}
	key := string(ch) + "|" + strconv.FormatInt(pol.UpdatedAt.UnixNano(), 10)
	objs := make([][]byte, len(snaps))
	for i, snap := range snaps {
		if objs[i], err = encodedAvailability(skus[i], ch, pol, snap, key); err != nil {
			return err
		}
	}
	return answerObjects(c, batch, objs)
}

// answerObjects answers one memoised, newline-terminated object (the
// single form) or {"items":[…]} of them (the batch form). The objects are
// handed to the client as they are, never copied into one buffer: a
// 50-SKU page of 200 locations is about 2 MB.
func answerObjects(c echo.Context, batch bool, objs [][]byte) error {
	if !batch {
		return blobShared(c, echo.MIMEApplicationJSON, objs[0])
	}
	parts := make([][]byte, 0, 2*len(objs)+1)
	for i, b := range objs {
		sep := itemsComma
		if i == 0 {
			sep = itemsOpen
		}
		parts = append(parts, sep, b[:len(b)-1]) // without the encoder's newline
	}
	return blobShared(c, echo.MIMEApplicationJSON, append(parts, itemsClose)...)
}

// The fixed pieces of a batch answer (never modified).
var (
	itemsOpen  = []byte(`{"items":[`)
	itemsComma = []byte(`,`)
	itemsClose = []byte("]}\n")
)

// availabilitySKUs reads ?sku= or ?skus= (batch).
func availabilitySKUs(c echo.Context) ([]string, bool, error) {
	raw, batch := c.QueryParams()["skus"]
	if !batch {
		sku := strings.TrimSpace(c.QueryParam("sku"))
		if sku == "" {
			return nil, false, domain.FieldError("sku", "Give the SKU as ?sku=.")
		}
		return []string{sku}, false, nil
	}
	if c.QueryParam("sku") != "" {
		return nil, true, domain.FieldError("sku", "Give either ?sku= for one SKU or ?skus= for several, not both.")
	}
	var skus []string
	for _, r := range raw {
		for f := range strings.SplitSeq(r, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				return nil, true, domain.FieldError("skus", "Give the SKUs as ?skus=A,B,C, with no empty entries.")
			}
			skus = append(skus, f)
		}
	}
	if len(skus) > maxBatchSKUs {
		return nil, true, domain.FieldError("skus", "Ask for at most %d SKUs at once; this request has %d.", maxBatchSKUs, len(skus))
	}
	return skus, true, nil
}

// encodedAvailability is the full answer for one SKU, exactly as c.JSON
// would write it (HTML-escaped, newline-terminated), built once per
// snapshot version and key.
func encodedAvailability(sku string, ch domain.Channel, pol domain.Policy, snap store.StockSnapshot, key string) ([]byte, error) {
	return snap.Memo(key, func() ([]byte, error) {
		a, err := availabilityOf(sku, ch, pol, snap, "")
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	})
}

// availabilityOf builds one SKU's answer, narrowed to location only when
// it is set. Errors: ENOTFOUND when only names no location.
func availabilityOf(sku string, ch domain.Channel, pol domain.Policy, snap store.StockSnapshot, only string) (apiAvailability, error) {
	a := domain.ChannelAvailability(pol, snap.Stock())
	out := apiAvailability{SKU: sku, Channel: ch, NetworkATP: a.NetworkATP, Locations: make([]apiPosition, 0, len(a.Locations))}
	for _, la := range a.Locations {
		if only != "" && la.Code != only {
			continue
		}
		out.Locations = append(out.Locations, apiPosition{
			Location: la.Code, OnHand: la.OnHand, Reserved: la.Reserved, Damaged: la.Damaged, QualityHold: la.QualityHold,
			TransferOut: la.TransferOut, InTransitIn: la.InTransitIn, SafetyStock: la.SafetyStock, ATP: la.ATP,
			Eligible: la.Eligible, NotEligibleBecause: la.WhyNot,
		})
	}
	if only != "" && len(out.Locations) == 0 {
		return out, domain.Errorf(domain.ENOTFOUND, "Location %q does not exist.", only)
	}
	return out, nil
}
