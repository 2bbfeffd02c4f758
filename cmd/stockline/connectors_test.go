package main

import (
	"context"
	"testing"
	"time"

	"stockline/store"
)

// With SIMULATORS=true the program starts the Square-style and
// Shopify-style simulators, points the demo connectors at them, and the
// real connector code pulls both feeds (and receives signed webhooks)
// into the ledger.
func TestSimulatorsFeedTheRealConnectors(t *testing.T) {
	dsn := testEnv(t)
	t.Setenv("SIMULATORS", "true")
	t.Setenv("SHOPIFY_WEBHOOK_SECRET", "simulator-webhook-secret-for-tests")
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	simulatorPace = 8
	defer func() { simulatorPace = 1 }()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{}
	m := NewMain(cfg, logs)
	if err := m.Run(ctx); err != nil {
		m.Close()
		t.Fatalf("run: %v\n%s", err, logs)
	}
	count := func(q string) int {
		var n int
		if err := db.GetContext(ctx, &n, q); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(45 * time.Second)
	for count(`SELECT count(*) FROM inbound_events e JOIN connectors c ON c.id = e.connector_id WHERE c.name = 'square-pos' AND e.status = 'applied'`) < 5 ||
		count(`SELECT count(*) FROM inbound_events e JOIN connectors c ON c.id = e.connector_id WHERE c.name = 'shopify-web' AND e.type = 'shopify.order'`) < 1 {
		if time.Now().After(deadline) {
			m.Close()
			t.Fatalf("the simulated feeds did not arrive\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM connectors WHERE simulated AND last_success_at IS NOT NULL`); n != 2 {
		t.Fatalf("%d simulated connectors succeeded, want 2\n%s", n, logs)
	}
	if n := count(`SELECT count(*) FROM connector_leases`); n != 0 {
		t.Fatalf("leases left behind after shutdown: %d", n)
	}
	rep, err := db.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// A plain serve (SIMULATORS=false, the .env.example default) starts no
// simulator and sets up no demo feed that pulls: the seed's demo drifts
// leave only the built-in counts connector and the paused "offline-tills"
// that carried their late sales.
func TestNoSimulatorsByDefault(t *testing.T) {
	m, _ := startProgram(t)
	time.Sleep(300 * time.Millisecond)
	conns, err := m.DB.ListConnectors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if c.Simulated || c.BaseURL != "" || (c.Enabled && c.Name != store.CountsConnectorName) {
			t.Fatalf("a feed set up without simulators: %+v", c)
		}
	}
}
