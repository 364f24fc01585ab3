package lms_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/lms/lmstest"
)

// The test vector of the Standard Webhooks reference libraries
// (github.com/standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
// TestWebhookSign; the same vector is in the other languages' tests):
// Onramp's signer and the test receiver's own verifier both agree with it.
func ExampleSignWebhook() {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)

	sig, err := lms.SignWebhook(secret, id, ts, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sig)
	fmt.Println("matches the vector:", sig == want)

	header := http.Header{}
	header.Set("webhook-id", id)
	header.Set("webhook-timestamp", "1614265330")
	header.Set("webhook-signature", "v1,bm90IHRoZSBzaWduYXR1cmU= "+want) // rotation: any v1 may match
	_, err = lmstest.VerifyWebhook(secret, header, body, ts.Add(time.Minute))
	fmt.Println("receiver verifies:", err)

	_, err = lmstest.VerifyWebhook(secret, header, []byte(`{"test": 2432232315}`), ts)
	fmt.Println("tampered body:", err)

	_, err = lmstest.VerifyWebhook(secret, header, body, ts.Add(6*time.Minute))
	fmt.Println("replayed late:", err)
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// matches the vector: true
	// receiver verifies: <nil>
	// tampered body: no v1 signature matches
	// replayed late: webhook-timestamp is 6m0s away from now, more than 5m0s
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	fmt.Println(lms.ParseRetryAfter("120", now))
	fmt.Println(lms.ParseRetryAfter("Mon, 02 Mar 2026 09:31:30 GMT", now))
	fmt.Println(lms.ParseRetryAfter("-1", now))
	// Output:
	// 2m0s
	// 1m30s
	// 0s
}
