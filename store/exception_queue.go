package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// ExceptionFilter narrows the exception queue. Every field is optional.
type ExceptionFilter struct {
	Statuses   []string // empty means open and in progress
	Kind       string
	Locations  []string // location codes in the user's scope; nil means all
	Location   string   // one location code
	Region     string
	Severity   string
	AssigneeID int64         // > 0: that user's; UnassignedID: nobody's
	OlderThan  time.Duration // raised at least this long ago
	SLA        string        // domain.SLAOverdue, SLADueSoon or SLAOnTime
	SKU        string
	Ref        string          // an order number, transfer or connector reference
	OrderID    int64           // 0 means any
	After      ExceptionCursor // keyset: the page after this row (the queue's order, due time then id)
	Limit      int
	// DueOrder is the queue's order, due time then id, paging with After;
	// otherwise newest first, paging with BeforeID (the API's order).
	DueOrder  bool
	BeforeID  int64
	SkipTotal bool // the API pages by cursor and needs no total

	locationIDs []int64 // Locations, Location and Region resolved (resolveLocations)
	resolved    bool
}

// resolveLocations turns the filter's location codes and region into
// location ids, so the queries filter on the indexes' location_id column
// and keep their due-time order (a join would make the planner sort).
func (db *DB) resolveLocations(ctx context.Context, f *ExceptionFilter) error {
	if f.Locations == nil && f.Location == "" && f.Region == "" {
		return nil
	}
	var codes any
	if f.Locations != nil {
		codes = pq.Array(f.Locations)
	}
	f.locationIDs = []int64{}
	if err := db.SelectContext(ctx, &f.locationIDs, `SELECT id FROM locations WHERE ($1::text[] IS NULL OR code = ANY($1))
		AND ($2 = '' OR code = $2) AND ($3 = '' OR region = $3)`, codes, f.Location, f.Region); err != nil {
		return fmt.Errorf("store: exception locations: %w", err)
	}
	f.resolved = true
	return nil
}

// UnassignedID in ExceptionFilter.AssigneeID asks for exceptions nobody has.
const UnassignedID = -1

// ExceptionCursor is the queue's keyset position: due time, then id.
type ExceptionCursor struct {
	DueAt time.Time
	ID    int64
}

// CursorOf is the cursor that continues after e.
func CursorOf(e domain.ExceptionDetail) ExceptionCursor {
	return ExceptionCursor{DueAt: e.DueAt, ID: e.ID}
}

const exceptionSelect = `SELECT e.id, e.kind, e.severity, e.status, l.code AS location, p.sku, e.ref, e.title, e.detail, e.due_at, e.created_at,
	COALESCE(u.email, '') AS assignee, e.resolution_code, e.resolution_note, e.resolved_at, e.updated_at,
	e.order_id, e.transfer_id, e.resolution_action, e.resolved_by, e.owner_role, e.data
	FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id LEFT JOIN products p ON p.id = e.product_id
	LEFT JOIN users u ON u.id = e.assignee_id`

const dueSoonSQL = "now() + interval '1 hour'" // domain.DueSoonWindow

// overdueSQL is an exception past its due time (domain.SLAOverdue).
const overdueSQL = "e.due_at <= now()"

// exceptionWhere builds the SQL conditions and arguments of f.
func exceptionWhere(f ExceptionFilter) ([]string, []any) {
	where, args := []string{}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	st := f.Statuses
	if len(st) == 0 {
		st = []string{domain.ExceptionOpen, domain.ExceptionInProgress}
	}
	if len(st) == 2 && st[0] == domain.ExceptionOpen && st[1] == domain.ExceptionInProgress {
		// The literal form lets the planner use the partial work indexes.
		where = append(where, "e.status IN ('open', 'in_progress')")
	} else {
		add("e.status = ANY($%d)", pq.Array(st))
	}
	switch {
	case f.resolved:
		add("e.location_id = ANY($%d)", pq.Array(f.locationIDs))
	default:
		if f.Locations != nil {
			add("e.location_id IN (SELECT id FROM locations WHERE code = ANY($%d))", pq.Array(f.Locations))
		}
		if f.Location != "" {
			add("e.location_id = (SELECT id FROM locations WHERE code = $%d)", f.Location)
		}
		if f.Region != "" {
			add("e.location_id IN (SELECT id FROM locations WHERE region = $%d)", f.Region)
		}
	}
	if f.Kind != "" {
		add("e.kind = $%d", f.Kind)
	}
	if f.Severity != "" {
		add("e.severity = $%d", f.Severity)
	}
	switch {
	case f.AssigneeID > 0:
		add("e.assignee_id = $%d", f.AssigneeID)
	case f.AssigneeID == UnassignedID:
		where = append(where, "e.assignee_id IS NULL")
	}
	if f.OlderThan > 0 {
		add("e.created_at <= now() - $%d * interval '1 second'", int64(f.OlderThan.Seconds()))
	}
	switch f.SLA {
	case domain.SLAOverdue:
		where = append(where, overdueSQL)
	case domain.SLADueSoon:
		where = append(where, "e.due_at > now() AND e.due_at <= "+dueSoonSQL)
	case domain.SLAOnTime:
		where = append(where, "e.due_at > "+dueSoonSQL)
	}
	if f.SKU != "" {
		add("e.product_id = (SELECT id FROM products WHERE sku = $%d)", f.SKU)
	}
	if f.Ref != "" {
		add("e.ref = $%d", f.Ref)
	}
	if f.OrderID != 0 {
		add("e.order_id = $%d", f.OrderID)
	}
	return where, args
}

// ListExceptions returns a page of exceptions, newest first (before
// f.BeforeID) or in the queue's order (f.DueOrder: due time, then id, after
// f.After), and how many match f in all, up to MaxCounted+1 (-1 with
// f.SkipTotal).
func (db *DB) ListExceptions(ctx context.Context, f ExceptionFilter) ([]domain.ExceptionDetail, int, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	if err := db.resolveLocations(ctx, &f); err != nil {
		return nil, 0, err
	}
	where, args := exceptionWhere(f)
	total := -1
	if !f.SkipTotal {
		// Counted up to MaxCounted: the history (resolved, dismissed) runs to
		// millions, and "more than 10,000" is as useful as the figure.
		if err := db.GetContext(ctx, &total, `SELECT count(*) FROM (SELECT 1 FROM exceptions e WHERE `+joinAnd(where)+
			fmt.Sprintf(` LIMIT %d) x`, MaxCounted+1), args...); err != nil {
			return nil, 0, fmt.Errorf("store: count exceptions: %w", err)
		}
	}
	order := "e.id DESC"
	switch {
	case f.DueOrder:
		order = "e.due_at, e.id"
		if f.After.ID > 0 {
			args = append(args, f.After.DueAt, f.After.ID)
			where = append(where, fmt.Sprintf("(e.due_at, e.id) > ($%d, $%d)", len(args)-1, len(args)))
		}
	case f.BeforeID > 0:
		args = append(args, f.BeforeID)
		where = append(where, fmt.Sprintf("e.id < $%d", len(args)))
	}
	args = append(args, f.Limit)
	// The page's ids first, from the index alone (its INCLUDE columns
	// answer the filters; a plain index scan would read the heap of every
	// row it filters out), then the page's rows.
	q := fmt.Sprintf(`WITH page AS (SELECT e.id FROM exceptions e WHERE %s ORDER BY %s LIMIT $%d) `, joinAnd(where), order, len(args)) +
		exceptionSelect + ` JOIN page ON page.id = e.id ORDER BY ` + order
	out, err := selectAs(ctx, db, exceptionDetailRow.detail, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list exceptions: %w", err)
	}
	return out, total, nil
}

// MaxCounted is the most exceptions ListExceptions counts; a total above
// it means "more than MaxCounted".
const MaxCounted = 10000

// QueueCounts are the queue's counts per filter value, within the user's
// scope and the chosen statuses.
type QueueCounts struct {
	Total      int
	Overdue    int
	ByKind     map[string]int
	BySeverity map[string]int
	BySLA      map[string]int
}

// CountsMaxAge is how old the queue's counts may be: they are computed in
// one pass over the open work of a scope and reused for that long, so a
// page load or a burst of filter clicks does not recount 50,000 rows.
const CountsMaxAge = 5 * time.Second

// exceptionCountsCache keeps each scope's counts for CountsMaxAge.
type exceptionCountsCache struct {
	mu sync.Mutex
	m  map[string]cachedCounts
}

type cachedCounts struct {
	at time.Time
	c  QueueCounts
}

// ExceptionCounts counts the open work (open and in progress) in the
// filter's location scope, by kind, by severity and by SLA state, in one
// index-only pass; the figures may be up to CountsMaxAge old.
func (db *DB) ExceptionCounts(ctx context.Context, f ExceptionFilter) (QueueCounts, error) {
	key := "all"
	if f.Locations != nil {
		key = "in:" + strings.Join(f.Locations, ",")
	}
	db.xcounts.mu.Lock()
	hit, ok := db.xcounts.m[key]
	db.xcounts.mu.Unlock()
	if ok && time.Since(hit.at) < CountsMaxAge {
		return hit.c, nil
	}
	c, err := db.countExceptions(ctx, f)
	if err != nil {
		return c, err
	}
	db.xcounts.mu.Lock()
	if db.xcounts.m == nil || len(db.xcounts.m) > 1000 {
		db.xcounts.m = map[string]cachedCounts{}
	}
	db.xcounts.m[key] = cachedCounts{time.Now(), c}
	db.xcounts.mu.Unlock()
	return c, nil
}

func (db *DB) countExceptions(ctx context.Context, f ExceptionFilter) (QueueCounts, error) {
	scope := ExceptionFilter{Locations: f.Locations}
	if err := db.resolveLocations(ctx, &scope); err != nil {
		return QueueCounts{}, err
	}
	where, args := exceptionWhere(scope)
	var rows []struct {
		Kind     string `db:"kind"`
		Severity string `db:"severity"`
		SLA      string `db:"sla"`
		Grouping int    `db:"g"`
		N        int    `db:"n"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT COALESCE(kind, '') AS kind, COALESCE(severity, '') AS severity, COALESCE(sla, '') AS sla,
			GROUPING(kind, severity, sla) AS g, count(*) AS n
		FROM (SELECT e.kind, e.severity, CASE WHEN e.due_at <= now() THEN 'overdue' WHEN e.due_at <= `+dueSoonSQL+` THEN 'due_soon'
			ELSE 'on_time' END AS sla FROM exceptions e WHERE `+joinAnd(where)+`) x
		GROUP BY GROUPING SETS ((kind), (severity), (sla), ())`, args...)
	if err != nil {
		return QueueCounts{}, fmt.Errorf("store: exception counts: %w", err)
	}
	c := QueueCounts{ByKind: map[string]int{}, BySeverity: map[string]int{}, BySLA: map[string]int{}}
	for _, r := range rows {
		switch r.Grouping {
		case 0b011:
			c.ByKind[r.Kind] = r.N
		case 0b101:
			c.BySeverity[r.Severity] = r.N
		case 0b110:
			c.BySLA[r.SLA] = r.N
		case 0b111:
			c.Total = r.N
		}
	}
	c.Overdue = c.BySLA[domain.SLAOverdue]
	return c, nil
}

// OpenExceptionCounts counts open exceptions of the given kinds within
// the location scope (nil: all locations), and how many of them are
// overdue: the counts a role's home page shows. One statement, prepared
// once per connection (a home page is asked for often); the scope's codes
// are resolved inside it.
func (db *DB) OpenExceptionCounts(ctx context.Context, kinds, locations []string) (open, overdue int, err error) {
	where, args := exceptionWhere(ExceptionFilter{Locations: locations})
	args = append(args, pq.Array(kinds))
	where = append(where, fmt.Sprintf("e.kind = ANY($%d)", len(args)))
	var n struct {
		Open    int `db:"open"`
		Overdue int `db:"overdue"`
	}
	if err := db.prepared().getDB(ctx, &n, `SELECT count(*) AS open, count(*) FILTER (WHERE `+overdueSQL+`) AS overdue
		FROM exceptions e WHERE `+joinAnd(where), args...); err != nil {
		return 0, 0, fmt.Errorf("store: open exceptions: %w", err)
	}
	return n.Open, n.Overdue, nil
}
