// Package migrations embeds the numbered up/down SQL files that build the
// schema. store.Migrate applies them; see store/migrate.go.
package migrations

import "embed"

// FS holds NNNN_name.up.sql and NNNN_name.down.sql pairs.
//
//go:embed *.sql
var FS embed.FS
