// Command onramp is the Onramp SCIM 2.0 provisioning server and its
// operator CLI: serve, migrate, token, audit, version.
//
// Settings come from flags, then ONRAMP_* environment variables, then
// defaults. Every command that touches the database honours --database and
// ONRAMP_DATABASE_URL and migrates the database first.
package main

import (
	"context"
	"os"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
