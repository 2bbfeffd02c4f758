package store_test

import (
	"context"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// A page that finds its session's last-seen time more than a minute old
// records the use without waiting on the write: with the session's row
// locked by another transaction, SessionUser still answers at once, and
// the write lands once the lock is gone. Before, the write ran in the
// request's path and the page waited on the lock.
func TestSessionUseIsRecordedOffThePath(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Fresh(t)
	store.BcryptCost = 4
	u, err := db.CreateUser(ctx, domain.SystemActor("test"), store.NewUser{Email: "touch@example.com", Name: "Touch",
		Role: domain.RoleSupport, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	const raw = "session-touch-0123456789"
	if err := db.CreateSession(ctx, raw, u.ID, time.Now().Add(time.Hour), "127.0.0.1", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() - interval '5 minutes'`); err != nil {
		t.Fatal(err)
	}
	lock, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `SELECT 1 FROM sessions FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := db.SessionUser(ctx, raw, 30*time.Minute)
		answered <- err
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SessionUser waited on the last-seen write")
	}
	lastSeen := func() time.Duration {
		var age float64
		if err := db.GetContext(ctx, &age, `SELECT extract(epoch FROM now() - last_seen_at) FROM sessions`); err != nil {
			t.Fatal(err)
		}
		return time.Duration(age * float64(time.Second))
	}
	if age := lastSeen(); age < 4*time.Minute {
		t.Fatalf("last seen %s ago while its row was locked", age)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); lastSeen() > time.Minute; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session's use was never recorded")
		}
	}
	// A session seen less than a minute ago is not written again.
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() - interval '30 seconds'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, raw, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if age := lastSeen(); age < 29*time.Second {
		t.Fatalf("a session seen 30 s ago was written again (last seen %s ago)", age)
	}
}
