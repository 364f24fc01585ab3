package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The Standard Webhooks reference libraries' test vector.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = "1614265330"
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorKey(t *testing.T) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestVerifyWebhookVector(t *testing.T) {
	t.Parallel()
	key := vectorKey(t)
	now := time.Unix(1614265330, 0).Add(time.Minute)
	for _, tc := range []struct {
		name, id, ts, sigs, body string
		now                      time.Time
		wantErr                  string
	}{
		{"vector", vectorID, vectorTS, vectorSig, vectorBody, now, ""},
		{"rotation: any v1 may match", vectorID, vectorTS, "v1,bm90IHRoZSBzaWduYXR1cmU= v2,xyz " + vectorSig, vectorBody, now, ""},
		{"tampered body", vectorID, vectorTS, vectorSig, `{"test": 2432232315}`, now, "no v1 signature"},
		{"other id", "msg_other", vectorTS, vectorSig, vectorBody, now, "no v1 signature"},
		{"late", vectorID, vectorTS, vectorSig, vectorBody, now.Add(5 * time.Minute), "away from now"},
		{"early", vectorID, vectorTS, vectorSig, vectorBody, now.Add(-7 * time.Minute), "away from now"},
		{"no signature", vectorID, vectorTS, "", vectorBody, now, "missing"},
		{"bad timestamp", vectorID, "yesterday", vectorSig, vectorBody, now, "unix seconds"},
	} {
		err := verifyWebhook(key, tc.id, tc.ts, tc.sigs, []byte(tc.body), tc.now)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}

// post sends one signed event to rv, as Onramp's webhook connector does.
func post(t *testing.T, rv *receiver, key []byte, id, typ, user, course string) int {
	t.Helper()
	body := fmt.Sprintf(`{"type":%q,"timestamp":"2026-01-01T00:00:00.000Z","correlation_id":"c","data":{"user":{"id":%q},"course_id":%q,"bundle":"eng"}}`, typ, user, course)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + body))
	req, _ := http.NewRequest(http.MethodPost, rv.url, strings.NewReader(body))
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceiver(t *testing.T) {
	t.Parallel()
	secret, key := newWebhookSecret()
	if !strings.HasPrefix(secret, "whsec_") || len(key) != 32 {
		t.Fatalf("secret %q, key of %d bytes", secret, len(key))
	}
	rv, err := startReceiver(key)
	if err != nil {
		t.Fatal(err)
	}
	defer rv.close()
	if !strings.HasPrefix(rv.url, "http://127.0.0.1:") {
		t.Errorf("receiver url %q is not on loopback", rv.url)
	}
	_, wake := rv.arrivals("u1", deliveryCourses)
	for _, tc := range []struct {
		id, typ, user, course string
		want                  int
	}{
		{"msg_1", "enrollment.created", "u1", "C1", 204},
		{"msg_2", "enrollment.created", "u1", "C2", 204},
		{"msg_1", "enrollment.created", "u1", "C1", 204}, // the same message again
		{"msg_3", "enrollment.created", "u1", "C1", 204}, // the same enrollment under another id
		{"msg_4", "enrollment.removed", "u1", "C3", 204},
	} {
		if got := post(t, rv, key, tc.id, tc.typ, tc.user, tc.course); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.id, got, tc.want)
		}
	}
	if got := post(t, rv, []byte("not the key, but 24 bytes"), "msg_5", "enrollment.created", "u2", "C1"); got != http.StatusUnauthorized {
		t.Errorf("wrong key: status %d, want 401", got)
	}
	select {
	case <-wake:
	default:
		t.Error("the wake channel was not closed by a new enrollment")
	}
	arr, _ := rv.arrivals("u1", deliveryCourses)
	if arr[0].IsZero() || arr[1].IsZero() || !arr[2].IsZero() {
		t.Errorf("arrivals of u1 = %v; want C1 and C2 only", arr)
	}
	if a, _ := rv.arrivals("u2", deliveryCourses); !a[0].IsZero() {
		t.Error("a request with a bad signature was recorded")
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.received != 5 || len(rv.byID) != 4 || rv.redelivered != 1 || rv.dupEnrolls != 1 || rv.rejected != 1 || rv.others["enrollment.removed"] != 1 {
		t.Errorf("received %d, ids %d, redelivered %d, duplicates %d, rejected %d, others %v; want 5, 4, 1, 1, 1, removed 1",
			rv.received, len(rv.byID), rv.redelivered, rv.dupEnrolls, rv.rejected, rv.others)
	}
	if rv.conns.Load() < 1 {
		t.Error("no connection counted")
	}
}

// TestConfigFiles checks that the files given to onramp serve and apply
// are the YAML the brief describes.
func TestConfigFiles(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Connectors []map[string]string `yaml:"connectors"`
		Delivery   map[string]string   `yaml:"delivery"`
	}
	if err := yaml.Unmarshal([]byte(serverConfigYAML("http://127.0.0.1:1/hooks", deliveryConfig{workers: 20, poll: 10 * time.Millisecond})), &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Connectors[0]
	if len(cfg.Connectors) != 1 || c["name"] != "hooks" || c["type"] != "webhook" || c["url"] != "http://127.0.0.1:1/hooks" || c["secret_env"] != hooksSecretEnv {
		t.Errorf("connectors = %v", cfg.Connectors)
	}
	if cfg.Delivery["workers"] != "20" || cfg.Delivery["poll_interval"] != "10ms" {
		t.Errorf("delivery = %v", cfg.Delivery)
	}
	if s := serverConfigYAML("http://x/", deliveryConfig{}); strings.Contains(s, "delivery") {
		t.Errorf("defaults should leave delivery out:\n%s", s)
	}

	var m struct {
		Bundles []struct {
			Name, Connector string
			Courses         []string
		}
		Rules []struct {
			Name, Group string
			Bundles     []string
		}
	}
	if err := yaml.Unmarshal([]byte(mappingYAML(true)), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Bundles) != 1 || m.Bundles[0].Connector != "hooks" || strings.Join(m.Bundles[0].Courses, ",") != "C1,C2,C3" {
		t.Errorf("bundles = %+v", m.Bundles)
	}
	if len(m.Rules) != 2 || m.Rules[0].Group != hireGroup || m.Rules[1].Group != backfillGroup || m.Rules[1].Bundles[0] != "eng" {
		t.Errorf("rules = %+v", m.Rules)
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	body := []byte(`# HELP onramp_delivery_jobs Sync jobs by state
# TYPE onramp_delivery_jobs gauge
onramp_delivery_jobs{state="available"} 3
onramp_delivery_jobs{state="completed"} 120
onramp_delivery_jobs{state="running"} 0
onramp_delivery_attempts_total{connector="hooks",op="enroll",outcome="success"} 300
onramp_delivery_attempts_total{connector="hooks",op="unenroll",outcome="success"} 60
onramp_delivery_attempts_total{connector="hooks",op="enroll",outcome="retryable"} 2
onramp_hire_to_enrollment_seconds_bucket{connector="hooks",op="enroll",le="0.1"} 250
onramp_hire_to_enrollment_seconds_sum{connector="hooks",op="enroll"} 30
onramp_hire_to_enrollment_seconds_count{connector="hooks",op="enroll"} 300
`)
	jobs, s := parseMetrics(body)
	if jobs["available"] != 3 || jobs["completed"] != 120 {
		t.Errorf("jobs = %v", jobs)
	}
	for _, want := range []string{"retryable 2", "success 360", "300 observations, mean 100 ms", "available 3, completed 120"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	if jobs, s := parseMetrics([]byte("go_goroutines 7\n")); jobs != nil || s != "" {
		t.Errorf("no delivery metrics: %v %q", jobs, s)
	}
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	rv := &receiver{byUser: map[string]map[string]arrival{}, changed: make(chan struct{})}
	t0 := time.Unix(1000, 0)
	rv.byUser["a"] = map[string]arrival{"C1": {at: t0.Add(100 * time.Millisecond)}, "C2": {at: t0.Add(200 * time.Millisecond)}, "C3": {at: t0.Add(300 * time.Millisecond)}}
	rv.byUser["b"] = map[string]arrival{"C1": {at: t0.Add(-time.Millisecond)}, "C2": {at: t0.Add(1100 * time.Millisecond)}}
	d := &deliveryBench{rv: rv}
	r := d.measure("k", map[string]time.Time{"a": t0, "b": t0}, t0.Add(-time.Second))
	if r.Expected != 6 || r.Arrived != 5 || r.Missing != 1 || r.FirstMissingEg != "user b course C3" || r.BeforeAnswer != 1 {
		t.Errorf("measure = %+v", r)
	}
	if r.P50ms != 200 || r.MaxMs != 1100 || r.P99ms != 1100 {
		t.Errorf("p50 %v, p99 %v, max %v; want 200, 1100, 1100", r.P50ms, r.P99ms, r.MaxMs)
	}
	// 5 arrivals over 1.101 s: 4 intervals.
	if want := 4 / 1.101; r.RatePerSec < want-0.01 || r.RatePerSec > want+0.01 {
		t.Errorf("rate %v, want %v", r.RatePerSec, want)
	}
	s := enrollStep("k", "enrollments", 1, r)
	if s.Errors != 1 || len(s.FirstErrors) != 1 || !strings.Contains(s.Note, "before the PATCH answer") {
		t.Errorf("step = %+v", s)
	}
}

func TestJudgeDelivery(t *testing.T) {
	t.Parallel()
	db := &dbResult{Name: "sqlite", Population: 100000, Steps: []stepResult{
		{Key: "delivery_seq_enroll", Ops: 300, P99ms: 120},
		{Key: "delivery_paced_enroll", Ops: 6000, Offered: 500, PerSec: 495, P99ms: 750},
		{Key: "delivery_burst_enroll", Ops: 6000, PerSec: 400, P99ms: 3000},
		{Key: "delivery_backfill_enroll", Ops: 6000, Errors: 60, PerSec: 800},
		{Key: "delivery_burst_hires", Ops: 2000, PerSec: 300},
	}}
	judge(db)
	for _, tc := range []struct {
		key             string
		offered, perSec float64
	}{{"delivery_paced_ok", 500, 492}, {"delivery_paced_slow", 500, 400}, {"delivery_paced_low", 400, 400}} {
		s := stepResult{Key: "delivery_paced_enroll", Ops: 6000, Offered: tc.offered, PerSec: tc.perSec, P99ms: 200}
		judgeDelivery(&s)
		s.Key = tc.key
		db.Steps = append(db.Steps, s)
	}
	want := map[string]string{
		"delivery_seq_enroll":      "met",
		"delivery_paced_enroll":    "missed by 50% (p99 750 ms)",
		"delivery_paced_ok":        "met (kept up with 500/s offered)",
		"delivery_paced_slow":      "missed by 20% (400/s delivered of 500/s offered)",
		"delivery_paced_low":       "missed by 20% (only 400/s offered)",
		"delivery_burst_enroll":    "missed by 20%",
		"delivery_backfill_enroll": "missed by 1% (60 enrollments missing)",
		"delivery_burst_hires":     "",
	}
	for _, s := range db.Steps {
		if got := s.Target.String(); got != want[s.Key] {
			t.Errorf("%s: verdict %q, want %q", s.Key, got, want[s.Key])
		}
	}
	var buf bytes.Buffer
	printTable(&buf, header{CPUs: 2}, db)
	if !strings.Contains(buf.String(), "500/s sustained, p99 < 500 ms") {
		t.Errorf("table lacks the paced target:\n%s", buf.String())
	}
}

func TestOthersCPU(t *testing.T) {
	t.Parallel()
	a := cpuSample{at: time.Unix(0, 0), busy: 1000, own: 400, ok: true}
	b := cpuSample{at: time.Unix(10, 0), busy: 1000 + 2*1000*float64(runtime.NumCPU())/2, own: 400 + 500, ok: true}
	// Over 10 s: the machine was busy for NumCPU*1000 ticks, the run used 500.
	want := (float64(runtime.NumCPU())*1000 - 500) / 100 / (10 * float64(runtime.NumCPU())) * 100
	if got := othersCPU(a, b); got < want-0.01 || got > want+0.01 {
		t.Errorf("othersCPU = %v, want %v", got, want)
	}
	if got := othersCPU(a, cpuSample{}); got != -1 {
		t.Errorf("othersCPU without a sample = %v, want -1", got)
	}
	if runtime.GOOS == "linux" {
		if s := sampleCPU(os.Getpid(), os.Getppid()); !s.ok || s.busy <= 0 {
			t.Errorf("sampleCPU = %+v", s)
		}
	}
}
