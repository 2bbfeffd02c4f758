package store

import (
	"context"
	"encoding/json"
	"fmt"

	"stockline/domain"
)

// DemoConnector is a demo feed to set up, pointing at a simulator.
type DemoConnector struct {
	Name         string
	Kind         string
	Adapter      string
	BaseURL      string
	PollSeconds  int
	StaleSeconds int
	Settings     json.RawMessage
	Mappings     []Mapping
}

// SeedDemoConnectors creates the demo feeds, or points existing ones at
// the simulators' new addresses, and (re)writes their mappings. They are
// marked simulated, so they run only while the simulators do.
func (db *DB) SeedDemoConnectors(ctx context.Context, feeds []DemoConnector) error {
	actor := domain.SystemActor("simulators")
	for _, f := range feeds {
		c, err := db.ConnectorByName(ctx, f.Name)
		switch domain.ErrorCode(err) {
		case domain.ENOTFOUND:
			c, err = db.CreateConnector(ctx, actor, NewConnector{Name: f.Name, Kind: f.Kind, Adapter: f.Adapter, BaseURL: f.BaseURL,
				Settings: f.Settings, PollSeconds: f.PollSeconds, StaleSeconds: f.StaleSeconds, Enabled: true, Simulated: true})
			if err != nil {
				return err
			}
		case "":
			// A simulator starts empty at a new address: its old cursors mean
			// nothing there (dedupe covers anything read twice).
			settings := f.Settings
			if len(settings) == 0 {
				settings = json.RawMessage(`{}`)
			}
			if _, err := db.ExecContext(ctx, `UPDATE connectors SET base_url = $2, settings = $3, simulated = true, error_count = 0,
					next_attempt_at = NULL, updated_at = now() WHERE id = $1`, c.ID, f.BaseURL, string(settings)); err != nil {
				return fmt.Errorf("store: seed demo connector: %w", err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM connector_cursors WHERE connector_id = $1`, c.ID); err != nil {
				return fmt.Errorf("store: seed demo connector: %w", err)
			}
		default:
			return err
		}
		if err := db.SetMappings(ctx, actor, c.ID, f.Mappings); err != nil {
			return err
		}
	}
	return nil
}

// StockBySKU is on hand per location code for each of the given SKUs, as
// the simulators start from.
func (db *DB) StockBySKU(ctx context.Context, skus []string) (map[string]map[string]int, error) {
	var rows []struct {
		SKU    string `db:"sku"`
		Code   string `db:"code"`
		OnHand int    `db:"on_hand"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT pr.sku, l.code, p.on_hand FROM positions p
		JOIN products pr ON pr.id = p.product_id JOIN locations l ON l.id = p.location_id WHERE pr.sku = ANY($1::text[])`, feedStrings(skus))
	if err != nil {
		return nil, fmt.Errorf("store: stock by sku: %w", err)
	}
	out := map[string]map[string]int{}
	for _, r := range rows {
		if out[r.SKU] == nil {
			out[r.SKU] = map[string]int{}
		}
		out[r.SKU][r.Code] = r.OnHand
	}
	return out, nil
}

// AllSKUs returns every SKU in order.
func (db *DB) AllSKUs(ctx context.Context) ([]string, error) {
	var out []string
	if err := db.SelectContext(ctx, &out, `SELECT sku FROM products ORDER BY sku`); err != nil {
		return nil, fmt.Errorf("store: all skus: %w", err)
	}
	return out, nil
}
