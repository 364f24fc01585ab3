package lms

import "errors"

// newCanvas is a placeholder until the canvas connector is built.
func newCanvas(s Spec, deps Deps) (Connector, error) {
	return nil, errors.New("connector type canvas is not built yet")
}
