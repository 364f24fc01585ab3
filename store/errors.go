package store

import (
	"errors"
	"fmt"
)

// opError gives err the context of the store operation op, except for the
// sentinel errors: their text is meant for clients ("already exists:
// userName \"bjensen\"") and is returned as built, without SQL, arguments or
// internal context.
func opError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	if errorsIsAny(err, ErrNotFound, ErrAlreadyExists, ErrUnknownMember, ErrInvalidValue, ErrVersionMismatch) {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// callerError carries an error returned by a caller's update function out
// of the transaction, so that it is returned exactly as the caller made it.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }
func (e callerError) Unwrap() error { return e.err }

func notFound(kind, id string) error {
	if !validText(id) {
		return fmt.Errorf("%w: %s", ErrNotFound, kind)
	}
	return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id)
}

func alreadyExists(attr, value string) error {
	return fmt.Errorf("%w: %s %q", ErrAlreadyExists, attr, value)
}

func unknownMember(id string) error {
	if !validText(id) {
		return fmt.Errorf("%w: a member value is not a user id", ErrUnknownMember)
	}
	return fmt.Errorf("%w: %q is not a user", ErrUnknownMember, id)
}

// errorsIsAny reports whether err is one of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func versionMismatch(kind, id string) error {
	return fmt.Errorf("%w: %s %q has changed", ErrVersionMismatch, kind, id)
}
