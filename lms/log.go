package lms

import (
	"context"
	"log/slog"
)

// logConnector writes each delivery as one log line and always succeeds:
// for demos (it is the connector Onramp runs when no config file is
// given), and for trying mappings out before an LMS is connected.
type logConnector struct {
	name   string
	logger *slog.Logger
}

func newLog(s Spec, deps Deps) (Connector, error) {
	return &logConnector{name: s.Name, logger: deps.Logger}, nil
}

// Deliver logs d at level Info with the message "lms delivery".
func (l *logConnector) Deliver(_ context.Context, d Delivery) error {
	// The record is logged without ctx on purpose: a handler that adds the
	// context's correlation id (reqctx.LogHandler) would repeat the key,
	// and d's own id is the one this line is about.
	l.logger.LogAttrs(context.Background(), slog.LevelInfo, "lms delivery",
		slog.String("connector", l.name),
		slog.String("op", string(d.Op)),
		slog.String("delivery_id", d.ID),
		slog.String("correlation_id", d.CorrelationID),
		slog.String("user_id", d.User.ID),
		slog.String("user_name", d.User.UserName),
		slog.String("external_id", d.User.ExternalID),
		slog.String("course", d.Course),
		slog.String("bundle", d.Bundle),
	)
	return nil
}
