package sim

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DemoSquareLocationID is the Square-style location id the demo gives one
// of our stores: 13 upper-case letters and digits, like Square's own.
func DemoSquareLocationID(code string) string { return "L" + hashID("sq-loc:"+code, 12) }

// DemoSquareItemID is the Square-style catalog object id of a SKU.
func DemoSquareItemID(sku string) string { return hashID("sq-item:"+sku, 24) }

// DemoShopifyLocationID is the Shopify-style location id of a location.
func DemoShopifyLocationID(n int) int64 { return 68_000_000_000 + int64(n) }

// DemoShopifyInventoryItemID is the Shopify-style inventory item id of the
// i-th demo SKU.
func DemoShopifyInventoryItemID(i int) int64 { return 44_000_000_000 + int64(i) }

const idAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func hashID(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	var b strings.Builder
	for i := range n {
		b.WriteByte(idAlphabet[int(h[i%len(h)]+byte(i/len(h)))%len(idAlphabet)])
	}
	return b.String()
}

// DemoStore is one of our locations as the simulated systems know it.
type DemoStore struct {
	Code      string
	Pickup    bool
	ShopifyID int64
	SquareID  string
	IsDC      bool
}

// DemoItem is one SKU as the simulated systems know it.
type DemoItem struct {
	SKU            string
	SquareID       string
	ShopifyItemID  int64
	ShopifyVariant int64
	OnHand         map[string]int // the POS's belief per store code, for counts
	DCAvailable    int
}

// Demo generates a steady, realistic stream on the two simulated feeds:
// sales across stores, returns, waste, receipts, transfers and counts on
// the POS; online orders (ship and pickup), cancellations, refunds and
// inventory levels on the ecommerce platform, some also sent as signed
// webhooks. Now and then a store's POS comes back from being offline with
// a burst of old sales, a change is delivered twice, or a malformed one
// slips in.
type Demo struct {
	Square  *Square
	Shopify *Shopify
	Stores  []DemoStore
	Items   []DemoItem

	// Webhook, when set, delivers signed Shopify webhooks (topic, id, body).
	Webhook func(ctx context.Context, topic, id string, body []byte) error
	// Pace scales every interval (1 = the demo's pace; tests go faster).
	Pace float64
	Log  func(msg string, args ...any)

	mu      sync.Mutex
	rng     *rand.Rand
	seq     int
	recent  []json.RawMessage // recent Square changes, for duplicate deliveries
	orders  []simOrder
	orderNo int
}

type simOrder struct {
	id      int64
	number  int
	created time.Time
	lines   []ShopifyLine
	pickup  int64
	email   string
}

// Run generates until ctx ends.
func (d *Demo) Run(ctx context.Context) {
	if d.Pace <= 0 {
		d.Pace = 1
	}
	if d.Log == nil {
		d.Log = func(string, ...any) {}
	}
	d.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	d.orderNo = 1000 + int(time.Now().Unix()%50000)
	var wg sync.WaitGroup
	every := func(base time.Duration, fn func(now time.Time)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d.mu.Lock()
				jitter := 0.5 + d.rng.Float64()
				d.mu.Unlock()
				t := time.NewTimer(time.Duration(float64(base) * jitter / d.Pace))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				d.mu.Lock()
				fn(time.Now().UTC())
				d.mu.Unlock()
			}
		}()
	}
	if len(d.Items) > 0 && d.Square != nil {
		every(1500*time.Millisecond, d.posChange)
		every(90*time.Second, d.offlineBurst)
		every(45*time.Second, d.duplicate)
		every(150*time.Second, d.malformed)
	}
	if len(d.Items) > 0 && d.Shopify != nil {
		every(8*time.Second, func(now time.Time) { d.newOrder(ctx, now) })
		every(40*time.Second, func(now time.Time) { d.cancelOrder(ctx, now) })
		every(50*time.Second, func(now time.Time) { d.refund(ctx, now) })
		every(120*time.Second, func(now time.Time) { d.level(ctx, now) })
	}
	wg.Wait()
}

func (d *Demo) id(prefix string) string {
	d.seq++
	return fmt.Sprintf("%s%s%06d", prefix, hashID(fmt.Sprint(time.Now().UnixNano()), 6), d.seq)
}

func (d *Demo) stores() []DemoStore {
	var out []DemoStore
	for _, s := range d.Stores {
		if !s.IsDC && s.SquareID != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d *Demo) add(created time.Time, locs []string, raw json.RawMessage) {
	d.Square.Add(created, locs, raw)
	d.recent = append(d.recent, raw)
	if len(d.recent) > 50 {
		d.recent = d.recent[1:]
	}
}

func (d *Demo) belief(it *DemoItem, code string) int {
	if it.OnHand == nil {
		it.OnHand = map[string]int{}
	}
	return it.OnHand[code]
}

// posChange is one ordinary store event, mostly sales.
func (d *Demo) posChange(now time.Time) {
	stores := d.stores()
	if len(stores) == 0 {
		return
	}
	st := stores[d.rng.IntN(len(stores))]
	it := &d.Items[d.rng.IntN(len(d.Items))]
	have := d.belief(it, st.Code)
	switch r := d.rng.IntN(100); {
	case r < 66:
		q := 1 + d.rng.IntN(2)
		if have < q && d.rng.IntN(100) >= 3 {
			// Shoppers buy what is on the shelf; now and then the POS sells
			// what the books say is not there (an exception for a person).
			q = 6 + d.rng.IntN(12)
			d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("ADJ"), "NONE", "IN_STOCK", st.SquareID, it.SquareID, q, now, now))
			it.OnHand[st.Code] = have + q
			return
		}
		d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("ADJ"), "IN_STOCK", "SOLD", st.SquareID, it.SquareID, q, now, now))
		it.OnHand[st.Code] = have - q
	case r < 74:
		d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("ADJ"), "RETURNED_BY_CUSTOMER", "IN_STOCK", st.SquareID, it.SquareID, 1, now, now))
		it.OnHand[st.Code] = have + 1
	case r < 77:
		d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("ADJ"), "IN_STOCK", "WASTE", st.SquareID, it.SquareID, 1, now, now))
		it.OnHand[st.Code] = have - 1
	case r < 87:
		q := 6 + d.rng.IntN(18)
		d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("ADJ"), "NONE", "IN_STOCK", st.SquareID, it.SquareID, q, now, now))
		it.OnHand[st.Code] = have + q
	case r < 93:
		to := stores[d.rng.IntN(len(stores))]
		if to.Code == st.Code || have < 2 {
			return
		}
		q := 1 + d.rng.IntN(min(have, 4))
		d.add(now, []string{st.SquareID, to.SquareID}, SquareTransfer(d.id("TRF"), st.SquareID, to.SquareID, it.SquareID, q, now, now))
		it.OnHand[st.Code] = have - q
		it.OnHand[to.Code] = d.belief(it, to.Code) + q
	default:
		// A cycle count: what the POS believes, give or take shrinkage.
		n := max(0, have-d.rng.IntN(2))
		d.add(now, []string{st.SquareID}, SquareCount(d.id("CNT"), st.SquareID, it.SquareID, n, now, now))
		it.OnHand[st.Code] = n
	}
}

// offlineBurst is a store's POS catching up after being offline: sales
// that happened 10 to 40 minutes ago, recorded by Square only now.
func (d *Demo) offlineBurst(now time.Time) {
	stores := d.stores()
	if len(stores) == 0 {
		return
	}
	st := stores[d.rng.IntN(len(stores))]
	n := 5 + d.rng.IntN(10)
	start := now.Add(-time.Duration(10+d.rng.IntN(30)) * time.Minute)
	for i := range n {
		it := &d.Items[d.rng.IntN(len(d.Items))]
		if d.belief(it, st.Code) < 1 {
			continue
		}
		at := start.Add(time.Duration(i*40+d.rng.IntN(30)) * time.Second)
		d.add(now, []string{st.SquareID}, SquareAdjustment(d.id("OFF"), "IN_STOCK", "SOLD", st.SquareID, it.SquareID, 1, at, now))
		it.OnHand[st.Code] = d.belief(it, st.Code) - 1
	}
	d.Log("simulator: offline POS burst", "store", st.Code, "sales", n)
}

// duplicate delivers a recent change a second time.
func (d *Demo) duplicate(now time.Time) {
	if len(d.recent) == 0 {
		return
	}
	raw := d.recent[d.rng.IntN(len(d.recent))]
	var locs []string
	for _, s := range d.stores() {
		if strings.Contains(string(raw), s.SquareID) {
			locs = append(locs, s.SquareID)
		}
	}
	d.Square.Add(now, locs, raw)
}

// malformed slips in a change with a quantity that is not a number.
func (d *Demo) malformed(now time.Time) {
	stores := d.stores()
	if len(stores) == 0 {
		return
	}
	st := stores[d.rng.IntN(len(stores))]
	it := d.Items[d.rng.IntN(len(d.Items))]
	d.Square.Add(now, []string{st.SquareID}, SquareMalformed(d.id("BAD"), st.SquareID, it.SquareID, now))
	d.Log("simulator: malformed change sent", "store", st.Code)
}

func (d *Demo) hook(ctx context.Context, topic string, body []byte) {
	if d.Webhook == nil || d.rng.IntN(100) >= 60 {
		return // this one only reaches us by the pull
	}
	id := hashID(fmt.Sprint(time.Now().UnixNano(), d.rng.Int64()), 8) + "-" + strings.ReplaceAll(topic, "/", "-")
	go func() {
		if err := d.Webhook(ctx, topic, id, body); err != nil && ctx.Err() == nil {
			d.Log("simulator: webhook failed", "topic", topic, "err", err.Error())
		}
	}()
}

func (d *Demo) pickupStores() []DemoStore {
	var out []DemoStore
	for _, s := range d.Stores {
		if s.Pickup && s.ShopifyID != 0 {
			out = append(out, s)
		}
	}
	return out
}

// newOrder places an online order: shipped from the DC, or picked up in a
// store.
func (d *Demo) newOrder(ctx context.Context, now time.Time) {
	d.orderNo++
	o := simOrder{id: 5_100_000_000_000 + int64(d.orderNo)*7, number: d.orderNo, created: now,
		email: fmt.Sprintf("customer%d@example.com", d.orderNo%500)}
	if ps := d.pickupStores(); len(ps) > 0 && d.rng.IntN(100) < 35 {
		o.pickup = ps[d.rng.IntN(len(ps))].ShopifyID
	}
	pickupCode := ""
	for _, s := range d.Stores {
		if o.pickup != 0 && s.ShopifyID == o.pickup {
			pickupCode = s.Code
		}
	}
	n := 1 + d.rng.IntN(3)
	seen := map[string]bool{}
	for i := range n * 4 {
		if len(o.lines) == n {
			break
		}
		it := d.Items[d.rng.IntN(len(d.Items))]
		// Web shoppers see availability: they order what is in stock where
		// it ships from or is picked up (mostly; a few still oversell).
		stocked := it.DCAvailable > 3
		if pickupCode != "" {
			stocked = d.belief(&it, pickupCode) > 3
		}
		if seen[it.SKU] || !stocked && d.rng.IntN(100) >= 2 {
			continue
		}
		seen[it.SKU] = true
		o.lines = append(o.lines, ShopifyLine{ID: o.id*10 + int64(i), VariantID: it.ShopifyVariant, SKU: it.SKU, Quantity: 1 + d.rng.IntN(2)})
	}
	if len(o.lines) == 0 {
		return
	}
	raw := ShopifyOrder(o.id, o.number, o.email, now, now, o.lines, o.pickup, nil)
	d.Shopify.PutOrder(raw)
	d.orders = append(d.orders, o)
	if len(d.orders) > 40 {
		d.orders = d.orders[1:]
	}
	d.hook(ctx, "orders/create", raw)
}

func (d *Demo) cancelOrder(ctx context.Context, now time.Time) {
	if len(d.orders) < 3 {
		return
	}
	i := d.rng.IntN(len(d.orders) - 1)
	o := d.orders[i]
	d.orders = append(d.orders[:i], d.orders[i+1:]...)
	raw := ShopifyOrder(o.id, o.number, o.email, o.created, now, o.lines, o.pickup, &now)
	d.Shopify.PutOrder(raw)
	d.hook(ctx, "orders/cancelled", raw)
}

// refund refunds one unit of an earlier order's line without a restock:
// the customer sends it back, so Stockline records a pending return that
// a store receives on its returns desk (or, for units the order never
// delivered, notes a refund of money only).
func (d *Demo) refund(ctx context.Context, now time.Time) {
	if len(d.orders) == 0 {
		return
	}
	o := d.orders[d.rng.IntN(len(d.orders))]
	l := o.lines[0]
	rid := o.id*3 + int64(d.rng.IntN(1000))
	refund := ShopifyRefundNoRestock(rid, o.id, l.ID, l.SKU, 1, now)
	raw := ShopifyOrder(o.id, o.number, o.email, o.created, now, o.lines, o.pickup, nil, refund)
	d.Shopify.PutOrder(raw)
	d.hook(ctx, "refunds/create", refund)
}

// level reports the DC's available quantity of one item.
func (d *Demo) level(ctx context.Context, now time.Time) {
	var dc DemoStore
	for _, s := range d.Stores {
		if s.IsDC {
			dc = s
		}
	}
	if dc.ShopifyID == 0 {
		return
	}
	it := d.Items[d.rng.IntN(len(d.Items))]
	raw := ShopifyLevel(it.ShopifyItemID, dc.ShopifyID, it.DCAvailable, now)
	d.Shopify.PutLevel(raw)
	d.hook(ctx, "inventory_levels/update", raw)
}

// Serve starts an HTTP server for h on a loopback port and returns its
// base URL and a function that stops it.
func Serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
