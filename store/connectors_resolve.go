package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
)

// feedResolver maps a batch's item and location references to ours, with one
// query per reference kind.
type feedResolver struct {
	ids   map[domain.Ref]int64
	codes map[domain.Ref]string
}

func newFeedResolver(ctx context.Context, tx *Tx, connectorID int64, preps []*feedEvent) (*feedResolver, error) {
	r := &feedResolver{ids: map[domain.Ref]int64{}, codes: map[domain.Ref]string{}}
	want := map[domain.Ref]bool{}
	for _, p := range preps {
		for _, ch := range p.ev.Changes {
			want[ch.Item], want[ch.Location] = true, true
		}
		if o := p.ev.Order; o != nil {
			for _, l := range o.Lines {
				want[l.Item] = true
			}
			if o.PickupLocation.ID != "" {
				want[o.PickupLocation] = true
			}
		}
		if rf := p.ev.Refund; rf != nil {
			for _, l := range rf.Lines {
				want[l.Item] = true
				if l.Restock {
					want[l.Location] = true
				}
			}
		}
	}
	var mk, mid, skus, codes []string
	for ref := range want {
		switch ref.Kind {
		case domain.RefItem, domain.RefLocation:
			mk, mid = append(mk, ref.Kind), append(mid, ref.ID)
		case domain.RefSKU:
			skus = append(skus, ref.ID)
		case domain.RefLocationCode:
			codes = append(codes, ref.ID)
		}
	}
	type row struct {
		Kind string `db:"kind"`
		Ext  string `db:"ext"`
		ID   int64  `db:"id"`
		Code string `db:"code"`
	}
	var rows []row
	if len(mk) > 0 {
		var got []row
		// One primary-key lookup per reference (LATERAL), whatever the
		// table statistics say.
		err := tx.SelectContext(ctx, &got, `SELECT k.kind, k.ext, COALESCE(m.product_id, m.location_id) AS id,
				COALESCE((SELECT sku FROM products p WHERE p.id = m.product_id), (SELECT code FROM locations l WHERE l.id = m.location_id)) AS code
			FROM unnest($2::text[], $3::text[]) AS k(kind, ext)
			CROSS JOIN LATERAL (SELECT product_id, location_id FROM connector_mappings m
				WHERE m.connector_id = $1 AND m.kind = k.kind AND m.external_id = k.ext) m`, connectorID, pq.Array(mk), pq.Array(mid))
		if err != nil {
			return nil, fmt.Errorf("store: resolve mappings: %w", err)
		}
		rows = append(rows, got...)
	}
	if len(skus) > 0 {
		var got []row
		err := tx.SelectContext(ctx, &got, `SELECT 'sku' AS kind, sku AS ext, id, sku AS code FROM products WHERE sku = ANY($1::text[])`, pq.Array(skus))
		if err != nil {
			return nil, fmt.Errorf("store: resolve skus: %w", err)
		}
		rows = append(rows, got...)
	}
	if len(codes) > 0 {
		var got []row
		err := tx.SelectContext(ctx, &got, `SELECT 'location_code' AS kind, code AS ext, id, code FROM locations WHERE code = ANY($1::text[])`, pq.Array(codes))
		if err != nil {
			return nil, fmt.Errorf("store: resolve locations: %w", err)
		}
		rows = append(rows, got...)
	}
	for _, x := range rows {
		ref := domain.Ref{Kind: x.Kind, ID: x.Ext}
		r.ids[ref], r.codes[ref] = x.ID, x.Code
	}
	return r, nil
}

func (r *feedResolver) item(ref domain.Ref) (int64, string, string) {
	if id, ok := r.ids[ref]; ok && (ref.Kind == domain.RefItem || ref.Kind == domain.RefSKU) {
		return id, r.codes[ref], ""
	}
	if ref.Kind == domain.RefSKU {
		return 0, "", fmt.Sprintf("Unknown SKU %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped item: the feed's item %q has no SKU mapping. Map it on the connector page, then retry.", ref.ID)
}

func (r *feedResolver) location(ref domain.Ref) (int64, string, string) {
	if id, ok := r.ids[ref]; ok && (ref.Kind == domain.RefLocation || ref.Kind == domain.RefLocationCode) {
		return id, r.codes[ref], ""
	}
	if ref.Kind == domain.RefLocationCode {
		return 0, "", fmt.Sprintf("Unknown location %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped location: the feed's location %q has no mapping. Map it on the connector page, then retry.", ref.ID)
}
