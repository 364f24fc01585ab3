package store

import (
	"context"
	"fmt"
)

// listPage runs a list query on table ("users" or "groups") in one read
// transaction: it counts the matches into *total and, when the page is not
// empty, reads the page's rows and hands them to fill, still inside the
// transaction, so that what fill reads with them (groups, members) belongs
// to the same snapshot.
func (s *Store) listPage(ctx context.Context, table string, q ListQuery, total *int, fill func(tx *storeTx, rows []resourceRow) error) error {
	where, err := renderWhere(s.d, table, q.Filter)
	if err != nil {
		return err
	}
	order, err := renderOrder(s.d, table, q.Sort)
	if err != nil {
		return err
	}
	return s.inReadTx(ctx, func(tx *storeTx) error {
		// table is one of two constants, never client text.
		if err := get(ctx, tx, total, `SELECT COUNT(*) FROM `+table+` r`+where.String(), where.args...); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if q.Count <= 0 || *total == 0 {
			return nil
		}
		var rows []resourceRow
		args := append(append(append([]any{}, where.args...), order.args...), q.Count, offset(q.StartIndex))
		err := selectAll(ctx, tx, &rows, `SELECT `+resourceColumns+` FROM `+table+` r`+where.String()+
			order.String()+` LIMIT ? OFFSET ?`, args...)
		if err != nil {
			return fmt.Errorf("page: %w", err)
		}
		return fill(tx, rows)
	})
}

// rowIDs lists the ids of rows, in order.
func rowIDs(rows []resourceRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}
