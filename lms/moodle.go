package lms

import "errors"

// newMoodle is a placeholder until the moodle connector is built.
func newMoodle(s Spec, deps Deps) (Connector, error) {
	return nil, errors.New("connector type moodle is not built yet")
}
