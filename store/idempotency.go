package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// IdempotencyKey identifies one client's attempt at a creating call
// (POST /api/v1/reservations, POST /api/v1/orders).
type IdempotencyKey struct {
	Scope string // whose key it is, e.g. "token:12"; keys of different clients never meet
	Key   string // the Idempotency-Key header
	Hash  []byte // a digest of what was asked (method, path, body); the same key with another hash is refused
}

// Response is the answer to a creating call exactly as sent: it is stored
// with the key and replayed byte for byte.
type Response struct {
	Status int
	Body   []byte
}

// IdempotencyRetention is how long keys are kept; the sweeper deletes older
// ones. The API promises at least 24 hours.
const IdempotencyRetention = 48 * time.Hour

// idempotencyWait bounds how long a duplicate waits for the first request
// with its key (in another app instance) to finish before it gets 409
// idempotency_in_progress.
var idempotencyWait = 10 * time.Second // a variable only so tests can shorten it

// Idempotent runs effect at most once per key and returns its answer; a
// later call with the same key and hash gets the stored answer, and one
// with another hash gets 422 idempotency_mismatch. effect runs inside the
// transaction that records the key, so the answer and the effect commit
// together or not at all. An answer is stored only when effect returns a
// Response; an error (validation, not found, internal) stores nothing, so
// the client may fix the request and retry with the same key.
//
// A duplicate arriving while the first is in flight waits for its answer:
// in this process through an in-memory flight, across instances on the
// key's unique index; after 10 s it gets 409 idempotency_in_progress.
func (db *DB) Idempotent(ctx context.Context, k IdempotencyKey, effect func(ctx context.Context, tx *Tx) (Response, error)) (Response, error) {
	return db.resv.flights.do(ctx, k, func() (Response, error) {
		var res Response
		err := db.runLimited(ctx, func() error {
			return db.InTx(ctx, func(tx *Tx) error {
				stored, claimed, err := claimKey(ctx, tx, k)
				if err != nil {
					return err
				}
				if !claimed {
					res = stored
					return nil
				}
				res, err = effect(ctx, tx)
				if err != nil {
					return err
				}
				return saveResponses(ctx, tx, []IdempotencyKey{k}, []Response{res})
			})
		})
		return res, err
	})
}

// claimKey inserts the key's row inside tx. claimed is false when the key
// was already used: then stored is its answer, or the error is 422
// idempotency_mismatch when the hash differs.
func claimKey(ctx context.Context, tx *Tx, k IdempotencyKey) (stored Response, claimed bool, err error) {
	claims, answers, err := claimKeys(ctx, tx, []IdempotencyKey{k})
	if err != nil {
		return Response{}, false, err
	}
	if claims[0] {
		return Response{}, true, nil
	}
	return answers[0].res, false, answers[0].err
}

type storedAnswer struct {
	res Response
	err error
}

// claimKeys claims many keys at once. For each key, claimed[i] says whether
// this transaction now owns it; otherwise answers[i] is the stored answer
// (or the mismatch error). A key held by another uncommitted transaction
// is waited for, at most idempotencyWait.
func claimKeys(ctx context.Context, tx *Tx, keys []IdempotencyKey) ([]bool, []storedAnswer, error) {
	var a stmtArgs
	query := `WITH ` + claimClause(keys)(&a) + ` SELECT scope, key FROM ck`
	var won []claimRow
	wctx, cancel := context.WithTimeout(ctx, idempotencyWait)
	defer cancel()
	if err := tx.SelectContext(wctx, &won, query, a...); err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return nil, nil, inProgress()
		}
		return nil, nil, fmt.Errorf("store: claim idempotency keys: %w", err)
	}
	claimed := claimedKeys(keys, won)
	answers, err := storedAnswers(ctx, tx, keys, claimed)
	return claimed, answers, err
}

// claimRow is a key this transaction claimed.
type claimRow struct {
	Scope string `db:"scope"`
	Key   string `db:"key"`
}

// claimClause inserts the keys' rows, skipping keys already recorded (and
// waiting on ones another transaction is recording), as WITH clause ck
// returning the claimed (scope, key).
func claimClause(keys []IdempotencyKey) clause {
	return func(a *stmtArgs) string {
		scopes, names, hashes := make([]string, len(keys)), make([]string, len(keys)), make([][]byte, len(keys))
		for i, k := range keys {
			scopes[i], names[i], hashes[i] = k.Scope, k.Key, k.Hash
		}
		return fmt.Sprintf(`ck AS (
			INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body)
			SELECT s, k, h, 0, '' FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS t(s, k, h)
			ON CONFLICT DO NOTHING RETURNING scope, key
		)`, a.p(pq.Array(scopes)), a.p(pq.Array(names)), a.p(pq.ByteaArray(hashes)))
	}
}

// claimedKeys marks which keys are among the claimed rows.
func claimedKeys(keys []IdempotencyKey, won []claimRow) []bool {
	claimed := make([]bool, len(keys))
	mine := make(map[[2]string]bool, len(won))
	for _, w := range won {
		mine[[2]string{w.Scope, w.Key}] = true
	}
	for i, k := range keys {
		if mine[[2]string{k.Scope, k.Key}] {
			claimed[i] = true
			delete(mine, [2]string{k.Scope, k.Key}) // a key twice in one batch is claimed once
		}
	}
	return claimed
}

// storedAnswers reads the recorded answers of the keys not claimed.
func storedAnswers(ctx context.Context, tx *Tx, keys []IdempotencyKey, claimed []bool) ([]storedAnswer, error) {
	answers := make([]storedAnswer, len(keys))
	var ls, lk []string
	for i, k := range keys {
		if !claimed[i] {
			ls, lk = append(ls, k.Scope), append(lk, k.Key)
		}
	}
	if len(ls) == 0 {
		return answers, nil
	}
	var rows []struct {
		Scope string `db:"scope"`
		Key   string `db:"key"`
		keyRow
	}
	err := tx.SelectContext(ctx, &rows, `SELECT scope, key, request_hash, response_status, response_body FROM idempotency_keys
		WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, pq.Array(ls), pq.Array(lk))
	if err != nil {
		return nil, fmt.Errorf("store: read idempotency keys: %w", err)
	}
	found := make(map[[2]string]int, len(rows))
	for j, r := range rows {
		found[[2]string{r.Scope, r.Key}] = j
	}
	for i, k := range keys {
		if claimed[i] {
			continue
		}
		if j, ok := found[[2]string{k.Scope, k.Key}]; ok {
			answers[i].res, answers[i].err = rows[j].answerFor(k)
		} else {
			// Only possible for a key repeated in one call, whose first copy
			// this transaction claimed and has not answered yet.
			answers[i].err = inProgress()
		}
	}
	return answers, nil
}

// answersClause records the answers of keys this transaction claimed, as
// WITH clause ka.
func answersClause(keys []IdempotencyKey, res []Response) clause {
	return func(a *stmtArgs) string {
		scopes, names := make([]string, len(keys)), make([]string, len(keys))
		statuses, bodies := make([]int64, len(keys)), make([][]byte, len(keys))
		for i, k := range keys {
			scopes[i], names[i], statuses[i], bodies[i] = k.Scope, k.Key, int64(res[i].Status), res[i].Body
		}
		return fmt.Sprintf(`ka AS (
			UPDATE idempotency_keys k SET response_status = t.st, response_body = t.b
			FROM unnest(%s::text[], %s::text[], %s::int[], %s::bytea[]) AS t(s, k, st, b)
			WHERE k.scope = t.s AND k.key = t.k
		)`, a.p(pq.Array(scopes)), a.p(pq.Array(names)), a.p(pq.Array(statuses)), a.p(pq.ByteaArray(bodies)))
	}
}

// newAnswersClause records keys with their answers in one write each, as
// WITH clause ka, for the batcher, which claims no key beforehand: a key
// another transaction recorded meanwhile fails the statement on the key's
// unique index (the batch then runs each request alone).
func newAnswersClause(keys []IdempotencyKey, res []Response) clause {
	return func(a *stmtArgs) string {
		scopes, names, hashes := make([]string, len(keys)), make([]string, len(keys)), make([][]byte, len(keys))
		statuses, bodies := make([]int64, len(keys)), make([][]byte, len(keys))
		for i, k := range keys {
			scopes[i], names[i], hashes[i], statuses[i], bodies[i] = k.Scope, k.Key, k.Hash, int64(res[i].Status), res[i].Body
		}
		return fmt.Sprintf(`ka AS (
			INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body)
			SELECT * FROM unnest(%s::text[], %s::text[], %s::bytea[], %s::int[], %s::bytea[])
		)`, a.p(pq.Array(scopes)), a.p(pq.Array(names)), a.p(pq.ByteaArray(hashes)), a.p(pq.Array(statuses)), a.p(pq.ByteaArray(bodies)))
	}
}

// insertAnswers records new keys with their answers (newAnswersClause) on
// their own.
func insertAnswers(ctx context.Context, tx *Tx, keys []IdempotencyKey, res []Response) error {
	if len(keys) == 0 {
		return nil
	}
	var a stmtArgs
	if _, err := tx.ExecContext(ctx, `WITH `+newAnswersClause(keys, res)(&a)+` SELECT 1`, a...); err != nil {
		return fmt.Errorf("store: record idempotent responses: %w", err)
	}
	return nil
}

// saveResponses records the answers of keys this transaction claimed.
func saveResponses(ctx context.Context, tx *Tx, keys []IdempotencyKey, res []Response) error {
	if len(keys) == 0 {
		return nil
	}
	var a stmtArgs
	if _, err := tx.ExecContext(ctx, `WITH `+answersClause(keys, res)(&a)+` SELECT 1`, a...); err != nil {
		return fmt.Errorf("store: save idempotent responses: %w", err)
	}
	return nil
}

func mismatch() error {
	return &domain.Error{Code: domain.CodeIdempotencyMismatch,
		Message: "This Idempotency-Key was already used with a different request. Use a new key for a new request."}
}

func inProgress() error {
	return &domain.Error{Code: domain.CodeIdempotencyInProgress,
		Message: "A request with this Idempotency-Key is still being processed; retry shortly to get its answer."}
}

// DeleteIdempotencyKeys removes keys recorded before cutoff and says how
// many went. The sweeper calls it with now minus IdempotencyRetention.
func (db *DB) DeleteIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		// In slices, so a large backlog never holds a long transaction.
		res, err := db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000))`, cutoff)
		if err != nil {
			return total, fmt.Errorf("store: delete idempotency keys: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}

// flightGroup lets concurrent calls with the same key in this process share
// one execution: the first runs, the others wait for its answer.
type flightGroup struct {
	mu sync.Mutex
	m  map[[2]string]*flight
}

type flight struct {
	done chan struct{}
	hash []byte
	res  Response
	err  error
}

func (g *flightGroup) do(ctx context.Context, k IdempotencyKey, fn func() (Response, error)) (Response, error) {
	id := [2]string{k.Scope, k.Key}
	for {
		g.mu.Lock()
		if g.m == nil {
			g.m = map[[2]string]*flight{}
		}
		f, busy := g.m[id]
		if !busy {
			f = &flight{done: make(chan struct{}), hash: k.Hash}
			g.m[id] = f
			g.mu.Unlock()
			f.res, f.err = fn()
			g.mu.Lock()
			delete(g.m, id)
			g.mu.Unlock()
			close(f.done)
			return f.res, f.err
		}
		g.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
		if f.err != nil {
			// Nothing was stored: try for ourselves, since our request may
			// differ from the one that failed, or the failure was transient.
			continue
		}
		if !bytes.Equal(f.hash, k.Hash) {
			return Response{}, mismatch()
		}
		return f.res, nil
	}
}
