package delivery

// WithFanoutMin returns c with changes to n users or more fanned out, so
// that tests exercise fan-out without a thousand users.
func WithFanoutMin(c Config, n int) Config {
	c.fanoutMin = n
	return c
}
