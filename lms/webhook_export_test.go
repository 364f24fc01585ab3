package lms

import "time"

// SetWebhookClock makes c, a webhook connector, stamp its attempts with
// now: lets tests see webhook-timestamp move between retries without
// sleeping.
func SetWebhookClock(c Connector, now func() time.Time) { c.(*webhook).now = now }
