package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// encodeAttributes turns a resource's attributes into the JSON stored in its
// data column. It refuses, with [ErrInvalidValue], what one of the dialects
// could not store (NUL characters, invalid UTF-8, non-finite numbers), so
// both accept and refuse the same resources.
func encodeAttributes(attrs map[string]any) (string, error) {
	if attrs == nil {
		return "{}", nil
	}
	if err := checkValue("", attrs); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(attrs); err != nil {
		// Only a Go value no SCIM request decodes to (a channel, a
		// function) gets here: a programming error, not the client's.
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// checkValue walks v and reports the first value no dialect can store. name
// is the attribute path so far, for the error text.
func checkValue(name string, v any) error {
	switch v := v.(type) {
	case string:
		if !validText(v) {
			return fmt.Errorf("%w: %s holds a NUL character or invalid UTF-8", ErrInvalidValue, attrName(name))
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s is not a finite number", ErrInvalidValue, attrName(name))
		}
	case float32:
		return checkValue(name, float64(v))
	case map[string]any:
		for k, e := range v {
			path := k
			if name != "" {
				path = name + "." + k
			}
			if !validText(k) {
				return fmt.Errorf("%w: an attribute name holds a NUL character or invalid UTF-8", ErrInvalidValue)
			}
			if err := checkValue(path, e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := checkValue(name, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func attrName(name string) string {
	if name == "" {
		return "a value"
	}
	if utf8.ValidString(name) && !strings.ContainsRune(name, 0) {
		return fmt.Sprintf("%q", name)
	}
	return "an attribute"
}

// decodeAttributes reads a data column. Numbers become float64, as they
// would from any SCIM request body, so both dialects give equal maps.
func decodeAttributes(data []byte) (map[string]any, error) {
	attrs := map[string]any{}
	if err := json.Unmarshal(data, &attrs); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return attrs, nil
}

// validText reports whether s can be stored and compared on every dialect:
// PostgreSQL refuses NUL characters and invalid UTF-8 in text.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// cleanText makes s storable, for free text such as audit summaries where
// refusing the whole write would be worse than a replacement character.
func cleanText(s string) string {
	if validText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// sqliteTimeFormat is how timestamps are written on SQLite: fixed width, so
// that text order is time order.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// dbTime scans a timestamp column of either dialect: PostgreSQL drivers
// return time.Time, SQLite returns the text the store wrote.
type dbTime struct{ time.Time }

// Scan implements sql.Scanner. NULL scans as the zero time.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	t.Time = v.UTC()
	return nil
}

// eventTime is the time stored for an audit event: microseconds, UTC.
func eventTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// maxIndexedBytes bounds the attributes kept in indexed columns (userName,
// displayName, externalId). PostgreSQL refuses a B-tree entry over about
// 2,700 bytes, and no identity provider sends identifiers anywhere near
// this long, so a longer value is the client's error, not the database's.
const maxIndexedBytes = 1024

// checkIndexed refuses a value too long to index, naming the attribute.
func checkIndexed(name, value string) error {
	if len(value) > maxIndexedBytes {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidValue, name, maxIndexedBytes)
	}
	return nil
}

// indexedText makes free text storable in an indexed audit column: a
// refused request may name a resource id far longer than any real one, and
// its audit row must still be written.
func indexedText(s string) string {
	s = cleanText(s)
	if len(s) <= maxIndexedBytes {
		return s
	}
	cut := maxIndexedBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// resourceRow is a users or groups row as read. The indexed columns are
// derived from data on every write and never read back.
type resourceRow struct {
	ID           string `db:"id"`
	Version      int64  `db:"version"`
	Created      dbTime `db:"created"`
	LastModified dbTime `db:"last_modified"`
	Data         []byte `db:"data"`
}

// resourceColumns selects a resourceRow from a table aliased r.
const resourceColumns = "r.id, r.version, r.created, r.last_modified, r.data"
