package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/lib/pq"

	"stockline/domain"
)

// feedResolver maps a batch's item and location references to ours: from
// the connector's resolved references (feedRefCache) while its mappings are
// unchanged, and with one query per reference kind for the rest.
type feedResolver struct {
	refs map[domain.Ref]resolvedRef
}

// resolvedRef is our id and code (SKU or location code) for a reference.
type resolvedRef struct {
	id   int64
	code string
}

// feedRefCache keeps, per connector, the references its batches resolved,
// with the connector's mappings_version they were read under. Every change
// to connector_mappings bumps that version (a trigger, migration 0014) and
// our products' SKUs and location codes never change, so a batch that
// reads the same version inside its transaction may use them: it sees what
// a lookup would. Unresolved references are never kept.
type feedRefCache struct {
	mu     sync.Mutex
	byConn map[int64]*connectorRefs
}

type connectorRefs struct {
	version int64
	refs    map[domain.Ref]resolvedRef
}

// maxCachedFeedRefs bounds one connector's kept references (a retailer's
// SKUs and locations); past it, older ones make room (makeRoom).
const maxCachedFeedRefs = 200_000

// lookup returns the kept references of want under version, and which of
// want still need a query.
func (c *feedRefCache) lookup(connectorID, version int64, want map[domain.Ref]bool) (map[domain.Ref]resolvedRef, []domain.Ref) {
	out := make(map[domain.Ref]resolvedRef, len(want))
	var missing []domain.Ref
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.byConn[connectorID]
	if kept != nil && kept.version != version {
		delete(c.byConn, connectorID)
		kept = nil
	}
	for ref := range want {
		if kept != nil {
			if r, ok := kept.refs[ref]; ok {
				out[ref] = r
				continue
			}
		}
		missing = append(missing, ref)
	}
	return out, missing
}

// keep adds references resolved under version.
func (c *feedRefCache) keep(connectorID, version int64, refs map[domain.Ref]resolvedRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.byConn[connectorID]
	if kept == nil || kept.version != version {
		if c.byConn == nil {
			c.byConn = map[int64]*connectorRefs{}
		}
		kept = &connectorRefs{version: version, refs: make(map[domain.Ref]resolvedRef, len(refs))}
		c.byConn[connectorID] = kept
	}
	makeRoom(kept.refs, len(refs), maxCachedFeedRefs)
	for ref, r := range refs {
		kept.refs[ref] = r
	}
}

func newFeedResolver(ctx context.Context, tx *Tx, cache *feedRefCache, connectorID int64, preps []*feedEvent) (*feedResolver, error) {
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
	if len(want) == 0 { // e.g. a batch of malformed events: nothing to look up
		return &feedResolver{refs: map[domain.Ref]resolvedRef{}}, nil
	}
	var version int64
	if err := tx.GetContext(ctx, &version, `SELECT mappings_version FROM connectors WHERE id = $1`, connectorID); err != nil {
		return nil, fmt.Errorf("store: mappings version: %w", err)
	}
	refs, missing := cache.lookup(connectorID, version, want)
	r := &feedResolver{refs: refs}
	var mk, mid, skus, codes []string
	for _, ref := range missing {
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
	found := make(map[domain.Ref]resolvedRef, len(rows))
	for _, x := range rows {
		ref := domain.Ref{Kind: x.Kind, ID: x.Ext}
		found[ref] = resolvedRef{x.ID, x.Code}
		r.refs[ref] = found[ref]
	}
	if len(found) > 0 {
		cache.keep(connectorID, version, found)
	}
	return r, nil
}

func (r *feedResolver) item(ref domain.Ref) (int64, string, string) {
	if x, ok := r.refs[ref]; ok && (ref.Kind == domain.RefItem || ref.Kind == domain.RefSKU) {
		return x.id, x.code, ""
	}
	if ref.Kind == domain.RefSKU {
		return 0, "", fmt.Sprintf("Unknown SKU %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped item: the feed's item %q has no SKU mapping. Map it on the connector page, then retry.", ref.ID)
}

func (r *feedResolver) location(ref domain.Ref) (int64, string, string) {
	if x, ok := r.refs[ref]; ok && (ref.Kind == domain.RefLocation || ref.Kind == domain.RefLocationCode) {
		return x.id, x.code, ""
	}
	if ref.Kind == domain.RefLocationCode {
		return 0, "", fmt.Sprintf("Unknown location %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped location: the feed's location %q has no mapping. Map it on the connector page, then retry.", ref.ID)
}
