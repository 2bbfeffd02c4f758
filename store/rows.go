package store

import "context"

// Reads that return domain types scan into an unexported row type first:
// the domain type embedded, with each nullable column shadowed by a
// sql.Null* field of the same db name (sqlx maps the shallower field), and
// a method that turns the row into the domain value.

// selectAs runs a query, scans rows of R and converts each to T. No rows
// give a nil slice, as sqlx's Select does.
func selectAs[R, T any](ctx context.Context, q queryer, conv func(R) T, query string, args ...any) ([]T, error) {
	var rows []R
	if err := q.SelectContext(ctx, &rows, query, args...); err != nil || len(rows) == 0 {
		return nil, err
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out, nil
}

// getAs runs a query for one row of R and converts it to T.
func getAs[R, T any](ctx context.Context, q queryer, conv func(R) T, query string, args ...any) (T, error) {
	var r R
	if err := q.GetContext(ctx, &r, query, args...); err != nil {
		var zero T
		return zero, err
	}
	return conv(r), nil
}
