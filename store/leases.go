package store

import (
	"context"
	"fmt"
	"time"
)

// AcquireSyncLease makes holder the only sync of userID until ttl from now
// or until it releases the lease, and reports whether it did: false while
// another holder's lease runs. A lease whose holder died expires on its
// own, so a crash delays that user's next sync by at most ttl.
func (s *Store) AcquireSyncLease(ctx context.Context, userID, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	n, err := exec(ctx, s.pool, `INSERT INTO sync_leases (user_id, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE sync_leases.expires < ? OR sync_leases.holder = excluded.holder`,
		userID, holder, s.d.timeArg(now.Add(ttl)), s.d.timeArg(now))
	if err != nil {
		return false, fmt.Errorf("store: acquire sync lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseSyncLease ends holder's lease on userID, if it still has it.
func (s *Store) ReleaseSyncLease(ctx context.Context, userID, holder string) error {
	if _, err := exec(ctx, s.pool, `DELETE FROM sync_leases WHERE user_id = ? AND holder = ?`, userID, holder); err != nil {
		return fmt.Errorf("store: release sync lease: %w", err)
	}
	return nil
}
