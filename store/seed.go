package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// DemoUser is a seeded login printed by `make run`.
type DemoUser struct {
	Email     string
	Password  string
	Role      domain.Role
	Locations []string
}

// DemoToken is the seeded API token, printed by `make run`.
const DemoToken = "stk_demo_5f2c9a1e7b3d4c6a8e0f1b2d3c4e5f60"

// DemoUsers are the seeded logins, one per role. They are demo-only
// credentials: a production install adds its users with `stockline user add`.
var DemoUsers = []DemoUser{
	{"associate@demo.stockline", "associate-demo-1", domain.RoleAssociate, []string{"S01"}},
	{"support@demo.stockline", "support-demo-1", domain.RoleSupport, nil},
	{"manager@demo.stockline", "manager-demo-1", domain.RoleManager, []string{"S01", "S02", "S03", "S04", "S05", "S06"}},
	{"lead@demo.stockline", "inventory-demo-1", domain.RoleInventoryLead, nil},
	{"admin@demo.stockline", "admin-demo-123", domain.RoleAdmin, nil},
}

type demoCategory struct {
	name   string
	nouns  []string
	prices [2]int // cents range
}

var demoCategories = []demoCategory{
	{"Footwear", []string{"Trail Runner", "Leather Chelsea Boot", "Canvas Sneaker", "Hiking Boot", "Slip-On Loafer", "Wool Slipper"}, [2]int{2999, 18999}},
	{"Outerwear", []string{"Rain Shell", "Down Parka", "Fleece Jacket", "Insulated Vest", "Softshell Jacket", "Wool Overcoat"}, [2]int{3999, 34999}},
	{"Tops", []string{"Merino Crew", "Oxford Shirt", "Linen Tee", "Flannel Shirt", "Henley", "Cable Knit Sweater"}, [2]int{1499, 11999}},
	{"Bottoms", []string{"Chino", "Selvedge Jean", "Hiking Pant", "Cord Trouser", "Running Short", "Cargo Pant"}, [2]int{1999, 12999}},
	{"Home", []string{"Ceramic Mug", "Linen Napkin Set", "Cast Iron Skillet", "Wool Throw", "Pour-Over Kettle", "Oak Cutting Board"}, [2]int{899, 14999}},
	{"Outdoor", []string{"Camp Chair", "Insulated Bottle", "Headlamp", "Daypack", "Trekking Pole", "Sleeping Bag"}, [2]int{1299, 24999}},
	{"Accessories", []string{"Beanie", "Leather Belt", "Wool Scarf", "Canvas Tote", "Sunglasses", "Wool Sock 3-Pack"}, [2]int{999, 8999}},
	{"Kitchen", []string{"Chef Knife", "Enamel Dutch Oven", "Salad Bowl", "Espresso Cup Set", "Spice Grinder", "Linen Apron"}, [2]int{1299, 19999}},
}

var demoAdjectives = []string{"Classic", "Alpine", "Harbor", "Everyday", "Summit", "Coastal", "Heritage", "Nordic", "Urban", "Field"}
var demoColours = []string{"Black", "Navy", "Olive", "Sand", "Rust", "Charcoal", "Forest", "Oat", "Slate", "Clay"}

type demoLocation struct {
	code, name, kind, region, tz string
	pickup, sfs                  bool
}

var demoLocations = []demoLocation{
	{"DC1", "Central Distribution Centre", "dc", "North", "America/Chicago", false, false},
	{"S01", "Store 01 Downtown", "store", "North", "America/Chicago", true, true},
	{"S02", "Store 02 Riverside", "store", "North", "America/Chicago", true, true},
	{"S03", "Store 03 Lakeshore", "store", "North", "America/Chicago", true, false},
	{"S04", "Store 04 Maple Grove", "store", "North", "America/Chicago", true, true},
	{"S05", "Store 05 Eastgate", "store", "North", "America/Chicago", true, false},
	{"S06", "Store 06 Old Town", "store", "North", "America/Chicago", false, false},
	{"S07", "Store 07 Mesa Verde", "store", "South", "America/Denver", true, true},
	{"S08", "Store 08 Canyon Mall", "store", "South", "America/Denver", true, true},
	{"S09", "Store 09 Desert Ridge", "store", "South", "America/Phoenix", true, false},
	{"S10", "Store 10 Sunset Plaza", "store", "South", "America/Phoenix", true, true},
	{"S11", "Store 11 Mission Hills", "store", "South", "America/Denver", true, false},
	{"S12", "Store 12 Old Mill", "store", "South", "America/Denver", false, false},
}

// DefaultPolicies are the seeded channel rules: the DC serves
// ecommerce_ship, stores with pickup serve bopis. The pickup window is the
// pickup or ship window: how long a committed hold lasts for the order to
// be collected or shipped.
func DefaultPolicies() []domain.Policy {
	return []domain.Policy{
		{Channel: domain.BOPIS, EligibleKinds: []domain.LocationKind{domain.Store}, RequirePickup: true, ReserveAt: domain.ReserveAtCheckoutStart,
			HoldTTL: 20 * time.Minute, SafetyStock: 1, MaxSplit: 1, PickupWindow: 72 * time.Hour},
		{Channel: domain.EcommerceShip, EligibleKinds: []domain.LocationKind{domain.DC, domain.Warehouse}, ReserveAt: domain.ReserveAtCheckoutStart,
			HoldTTL: 30 * time.Minute, SafetyStock: 0, AllowSplit: true, MaxSplit: 2, PickupWindow: 48 * time.Hour},
		{Channel: domain.ShipFromStore, EligibleKinds: []domain.LocationKind{domain.Store}, RequireShipFromStore: true, ReserveAt: domain.ReserveAtOrderPlaced,
			HoldTTL: 24 * time.Hour, SafetyStock: 2, AllowSplit: true, MaxSplit: 3, PickupWindow: 48 * time.Hour},
		{Channel: domain.Marketplace, EligibleKinds: []domain.LocationKind{domain.DC}, ReserveAt: domain.ReserveAtOrderPlaced,
			HoldTTL: 2 * time.Hour, SafetyStock: 3, MaxSplit: 1, PickupWindow: 72 * time.Hour},
		{Channel: domain.LocalDelivery, EligibleKinds: []domain.LocationKind{domain.Store}, ReserveAt: domain.ReserveAtCheckoutStart,
			HoldTTL: 15 * time.Minute, SafetyStock: 1, MaxSplit: 1, PickupWindow: 4 * time.Hour},
	}
}

// SeedResult says what SeedDemo did.
type SeedResult struct {
	AlreadySeeded bool
	Locations     int
	Products      int
	Positions     int
}

// DemoSKUCount is how many SKUs the demo retailer carries.
const DemoSKUCount = 2000

// SeedDemo loads the deterministic demo retailer once: 12 stores in two
// regions and a DC, about 2,000 SKUs with stock (some at zero, some
// damaged, a few in transit), channel policies, one user per role and the
// demo API token. A database that already has locations is left alone.
func (db *DB) SeedDemo(ctx context.Context) (SeedResult, error) {
	var res SeedResult
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM locations`); err != nil {
		return res, err
	}
	if n > 0 {
		res.AlreadySeeded = true
		return res, nil
	}
	actor := domain.SystemActor("seed")
	rng := rand.New(rand.NewPCG(2026, 11))
	err := db.InTx(ctx, func(tx *Tx) error {
		for _, l := range demoLocations {
			if _, err := tx.ExecContext(ctx, `INSERT INTO locations (code, name, kind, region, timezone, pickup, ship_from_store) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
				l.code, l.name, l.kind, l.region, l.tz, l.pickup, l.sfs); err != nil {
				return err
			}
		}
		res.Locations = len(demoLocations)
		skus, names, barcodes, cats, prices := demoProducts(rng)
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (sku, name, barcode, category, price_cents)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])`,
			pq.Array(skus), pq.Array(names), pq.Array(barcodes), pq.Array(cats), pq.Array(prices)); err != nil {
			return err
		}
		res.Products = len(skus)
		// Stock: every (location, sku) gets a position; quantities are drawn
		// so that some are zero, a few damaged, a few in transit.
		var locIDs, prodIDs []int64
		if err := tx.SelectContext(ctx, &locIDs, `SELECT id FROM locations ORDER BY code`); err != nil {
			return err
		}
		if err := tx.SelectContext(ctx, &prodIDs, `SELECT id FROM products ORDER BY sku`); err != nil {
			return err
		}
		var pl, pp []int64
		var onHand, damaged, transit []int32
		for li, l := range locIDs {
			for _, p := range prodIDs {
				q := 0
				switch r := rng.IntN(100); {
				case r < 12: // out of stock
				case r < 60:
					q = 1 + rng.IntN(6)
				case r < 92:
					q = 6 + rng.IntN(20)
				default:
					q = 25 + rng.IntN(60)
				}
				if li == 0 { // the DC holds more
					q = q*8 + rng.IntN(40)
				}
				d := 0
				if q > 2 && rng.IntN(100) < 4 {
					d = 1 + rng.IntN(2)
				}
				t := 0
				if li > 0 && rng.IntN(100) < 2 {
					t = 2 + rng.IntN(6)
				}
				pl, pp = append(pl, l), append(pp, p)
				onHand, damaged, transit = append(onHand, int32(q)), append(damaged, int32(d)), append(transit, int32(t))
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO positions (location_id, product_id, on_hand, damaged, in_transit_in)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::int[])`,
			pq.Array(pl), pq.Array(pp), pq.Array(onHand), pq.Array(damaged), pq.Array(transit)); err != nil {
			return err
		}
		res.Positions = len(pl)
		// The ledger behind the opening positions, so the check holds.
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, occurred_at)
			SELECT location_id, product_id, 'on_hand', on_hand, 'received', 'seed', 'opening-balance', $1, now() - interval '30 days' FROM positions WHERE on_hand <> 0
			UNION ALL
			SELECT location_id, product_id, 'damaged', damaged, 'damaged', 'seed', 'opening-balance', $1, now() - interval '20 days' FROM positions WHERE damaged <> 0
			UNION ALL
			SELECT location_id, product_id, 'in_transit_in', in_transit_in, 'transfer_in', 'seed', 'opening-transfer', $1, now() - interval '1 day' FROM positions WHERE in_transit_in <> 0`,
			actor.String()); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("store: seed demo: %w", err)
	}
	for _, p := range DefaultPolicies() {
		if err := db.SavePolicy(ctx, actor, p); err != nil {
			return res, err
		}
	}
	for _, u := range DemoUsers {
		if _, err := db.CreateUser(ctx, actor, NewUser{Email: u.Email, Name: u.Role.Label() + " (demo)", Role: u.Role, Locations: u.Locations, Password: u.Password}); err != nil {
			return res, err
		}
	}
	if _, err := db.CreateToken(ctx, actor, "demo", DemoToken, domain.Scopes); err != nil {
		return res, err
	}
	if err := db.seedDemoExceptions(ctx); err != nil {
		return res, err
	}
	if err := db.SeedDemoDrifts(ctx); err != nil {
		return res, err
	}
	// Fresh statistics, so the planner knows the small tables are small
	// before autovacuum gets round to them.
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		return res, err
	}
	return res, nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// ean13 appends the check digit to a 12-digit code.
func ean13(d12 string) string {
	sum := 0
	for i, c := range d12 {
		n := int(c - '0')
		if i%2 == 1 {
			n *= 3
		}
		sum += n
	}
	return d12 + fmt.Sprint((10-sum%10)%10)
}

// demoProducts draws the demo catalogue: SKUs, names, barcodes, categories
// and prices, deterministically from rng.
func demoProducts(rng *rand.Rand) (skus, names, barcodes, cats []string, prices []int64) {
	for i := range DemoSKUCount {
		c := demoCategories[i%len(demoCategories)]
		noun := c.nouns[(i/len(demoCategories))%len(c.nouns)]
		adj := demoAdjectives[(i/(len(demoCategories)*len(c.nouns)))%len(demoAdjectives)]
		col := demoColours[(i/(len(demoCategories)*len(c.nouns)*len(demoAdjectives)))%len(demoColours)]
		skus = append(skus, fmt.Sprintf("%s-%05d", c.name[:3], 10000+i))
		names = append(names, fmt.Sprintf("%s %s, %s", adj, noun, col))
		barcodes = append(barcodes, ean13(fmt.Sprintf("400638%06d", 100000+i)))
		cats = append(cats, c.name)
		p := c.prices[0] + rng.IntN(c.prices[1]-c.prices[0])
		prices = append(prices, int64(p/100*100+99))
	}
	for i := range skus {
		skus[i] = upper(skus[i])
	}
	return skus, names, barcodes, cats, prices
}
