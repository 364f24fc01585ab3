// Package lms connects Onramp to learning management systems: the far end
// of delivery. A [Connector] makes one enrollment change in one LMS; the
// delivery engine decides which changes to make and when to retry.
//
// Four types exist, chosen per connector in the config file: log (writes
// each delivery as a JSON log line), webhook (Standard Webhooks), moodle
// (REST web services) and canvas (REST API). [New] builds one from a [Spec].
//
// Package lmstest has fake Moodle and Canvas servers and a webhook receiver
// for tests.
package lms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Op is the change a delivery makes to one user's enrollment in one course.
type Op string

const (
	// OpEnroll ensures an active enrollment: it creates a missing one and
	// reactivates a suspended one.
	OpEnroll Op = "enroll"
	// OpSuspend keeps the enrollment, and the learner's progress, but makes
	// it inactive (a deactivated user under on_deactivate: suspend).
	OpSuspend Op = "suspend"
	// OpUnenroll removes the enrollment.
	OpUnenroll Op = "unenroll"
)

// User is the person a delivery is about, as the LMS needs to find or
// create them. ID is Onramp's SCIM id; an LMS matches on ExternalID (the
// HR system's id), then Email, then UserName.
type User struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	GivenName   string `json:"givenName,omitempty"`
	FamilyName  string `json:"familyName,omitempty"`
}

// Delivery is one enrollment change to make in one LMS.
type Delivery struct {
	// ID identifies this change, stable across every retry of it and
	// different for the next change of the same enrollment. It is the
	// Standard Webhooks webhook-id, so receivers can drop duplicates.
	ID     string
	Op     Op
	User   User
	Course string // the course id as the bundle names it
	Bundle string // the bundle that wants the enrollment (the first, when several do)
	// CorrelationID is the id of the request that caused the change. HTTP
	// connectors send it as X-Correlation-ID and in payloads.
	CorrelationID string
	// Time is when Onramp decided on the change; it does not move on retry,
	// so a payload that carries it is byte-for-byte the same each time.
	Time time.Time
}

// Connector makes enrollment changes in one LMS.
//
// Deliver makes d's change and returns nil once the LMS holds it. It must
// be idempotent: the delivery engine calls it again after any failure, and
// after a crash it cannot know whether a call it made had taken effect, so
// Deliver may be called for a change the LMS already holds (an enrollment
// that exists, a removal of one that is gone) and must then succeed without
// doing it twice. Connectors that can look before they write do; a webhook
// relies on its receiver de-duplicating by d.ID.
//
// A failure is an *[Error] saying whether retrying can help and how long the
// LMS asked Onramp to wait. Deliver must honour ctx's deadline.
type Connector interface {
	Deliver(ctx context.Context, d Delivery) error
}

// Error is a failed delivery, classified for the retry decision.
type Error struct {
	// Op names what was attempted, e.g. "canvas: POST enrollments".
	Op string
	// Status is the HTTP status the LMS answered; 0 when there was no
	// answer (refused, timed out, dropped).
	Status int
	// RetryAfter is how long the LMS asked Onramp to wait (Retry-After);
	// 0 when it did not say.
	RetryAfter time.Duration
	// Permanent is true when retrying the same call cannot succeed (an
	// unknown course, a rejected credential, 410 Gone); the delivery goes
	// straight to the dead letters, where an admin can fix the cause and
	// replay it.
	Permanent bool
	Err       error
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Status != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err says retrying cannot help.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter returns how long the LMS asked to wait before the next
// attempt, 0 when err does not say.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
