package lms

import "errors"

// newLog is a placeholder until the log connector is built.
func newLog(s Spec, deps Deps) (Connector, error) {
	return nil, errors.New("connector type log is not built yet")
}
