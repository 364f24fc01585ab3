package lms

import "errors"

// newWebhook is a placeholder until the webhook connector is built.
func newWebhook(s Spec, deps Deps) (Connector, error) {
	return nil, errors.New("connector type webhook is not built yet")
}
