package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// FerretDB v1.24.2's SQLite backend looks documents up by _id with
// `WHERE _ferretdb_sjson->'$._id' = ?`, but creates the _id index on the expression
// `_ferretdb_sjson->"_id"`. SQLite matches index expressions textually, so that index is never used
// and every lookup, update or delete by _id scans the whole table (EXPLAIN QUERY PLAN: "SCAN").
//
// indexIDLookups adds, to every collection table, an index on the very expression those queries use.
// It runs at start and then every interval, so that collections created later get it within one
// interval. FerretDB does not know this index (it lists only its own); it is dropped with its table.
func indexIDLookups(ctx context.Context, dir string, every time.Duration, logger *slog.Logger) {
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, f := range files {
			if err := indexFile(ctx, f); err != nil && ctx.Err() == nil {
				logger.Debug("id lookup index not added yet", "file", f, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func indexFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()

	// Tables without the index yet (read-only unless there is one to add).
	missing, err := column(ctx, db, `
		SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '__id_lookup')`)
	if err != nil {
		return err
	}
	for _, t := range missing {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"__id_lookup", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func column(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
