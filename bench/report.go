package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// verdict compares a figure with one of issue #3's targets.
type verdict struct {
	Target string `json:"target"` // e.g. ">= 2,000/s"
	Met    bool   `json:"met"`
	// MissedByPct is how far the figure falls short, in percent of the
	// target; 0 when met.
	MissedByPct float64 `json:"missed_by_pct,omitempty"`
	Caveat      string  `json:"caveat,omitempty"`
}

func (v *verdict) String() string {
	if v == nil {
		return ""
	}
	s := "met"
	if !v.Met {
		s = fmt.Sprintf("missed by %.0f%%", v.MissedByPct)
	}
	if v.Caveat != "" {
		s += " (" + v.Caveat + ")"
	}
	return s
}

// atLeast judges a rate against a floor.
func atLeast(got, floor float64, label string) *verdict {
	v := &verdict{Target: label, Met: got >= floor}
	if !v.Met {
		v.MissedByPct = (floor - got) / floor * 100
	}
	return v
}

// atMost judges a figure against a ceiling.
func atMost(got, ceiling float64, label string) *verdict {
	v := &verdict{Target: label, Met: got <= ceiling}
	if !v.Met {
		v.MissedByPct = (got - ceiling) / ceiling * 100
	}
	return v
}

// Issue #3's targets for SQLite on the 2-core machines.
const (
	targetCreates    = 2000.0
	targetGets       = 15000.0
	targetFilters    = 10000.0
	targetUsers      = 100000
	targetMemberBase = 1000
	targetMemberBig  = 100000
	targetMemberX    = 1.5
	targetRSSMB      = 150.0
)

// judge attaches the targets to a SQLite run's steps and memory.
func judge(db *dbResult) {
	small := ""
	if db.Population < targetUsers {
		small = fmt.Sprintf("target is at %s users; this run has %s", human(targetUsers), human(db.Population))
	}
	var base, big *stepResult
	for i := range db.Steps {
		s := &db.Steps[i]
		if s.Skipped != "" {
			continue
		}
		switch s.Key {
		case "create_seq":
			s.Target = atLeast(s.PerSec, targetCreates, ">= 2,000/s, durable")
		case "get":
			s.Target = atLeast(s.PerSec, targetGets, ">= 15,000/s")
			s.Target.Caveat = small
		case "filter":
			s.Target = atLeast(s.PerSec, targetFilters, ">= 10,000/s at 100k users")
			s.Target.Caveat = small
		}
		judgeDelivery(s)
		if strings.HasPrefix(s.Key, "member_add_") && s.Ops > s.Errors {
			if base == nil {
				base = s
			}
			big = s
		}
	}
	if base != nil && big != nil && big != base && base.P50ms > 0 {
		ratio := big.P50ms / base.P50ms
		v := atMost(ratio, targetMemberX, fmt.Sprintf("p50 <= 1.5x the %s figure", strings.TrimPrefix(base.Key, "member_add_")))
		v.Caveat = fmt.Sprintf("%.2fx", ratio)
		if big.Key != fmt.Sprintf("member_add_%d", targetMemberBig) || base.Key != fmt.Sprintf("member_add_%d", targetMemberBase) {
			v.Caveat += fmt.Sprintf("; target compares 100k with 1k, this run %s with %s",
				strings.TrimPrefix(big.Key, "member_add_"), strings.TrimPrefix(base.Key, "member_add_"))
		}
		big.Target = v
	}
	if db.Memory != nil {
		db.Memory.Target = atMost(db.Memory.RSSMB, targetRSSMB, "< 150 MB at 100k users")
		db.Memory.Target.Caveat = small
	}
}

// printTable writes one database's results as a table.
func printTable(w io.Writer, h header, db *dbResult) {
	fmt.Fprintf(w, "\n== %s ==\n", db.Title)
	if db.Skipped != "" {
		fmt.Fprintf(w, "%s was skipped: %s\n", db.Title, db.Skipped)
		return
	}
	fmt.Fprintf(w, "database: %s\n", db.Detail)
	fmt.Fprintf(w, "host: %d CPUs (GOMAXPROCS %d), %s %s/%s; the load generator and the server share these CPUs, over loopback\n",
		h.CPUs, h.GOMAXPROCS, h.GoVersion, h.OS, h.Arch)
	fmt.Fprintf(w, "server: %s (version %s); population %d users; features: %s\n", h.Binary, db.ServerVersion, db.Population, db.Features)
	withTargets := db.Name == "sqlite"
	rows := [][]string{{"step", "clients", "ops", "errors", "seconds", "per sec", "p50 ms", "p99 ms", "RSS MB"}}
	if withTargets {
		rows[0] = append(rows[0], "target", "verdict")
	}
	memRow := func() {
		m := db.Memory
		if m == nil {
			return
		}
		row := []string{fmt.Sprintf("server RSS at end (peak %.0f MB)", m.PeakMB), "", "", "", "", "", "", "", mb(m.RSSMB)}
		if withTargets && m.Target != nil {
			row = append(row, m.Target.Target, verdictWord(m.Target))
		}
		rows = append(rows, row)
	}
	memDone := false
	for _, s := range db.Steps {
		if strings.HasPrefix(s.Key, "delivery") && !memDone {
			memRow() // the SCIM phase's server, before the delivery phase's rows
			memDone = true
		}
		var row []string
		if s.Skipped != "" {
			row = []string{s.Name, "-", "-", "-", "-", "skipped", "-", "-", "-"}
		} else {
			row = []string{s.Name, strconv.Itoa(s.Clients), strconv.Itoa(s.Ops), strconv.Itoa(s.Errors),
				fmt.Sprintf("%.1f", s.Seconds), fmt.Sprintf("%.0f", s.PerSec), fmt.Sprintf("%.2f", s.P50ms), fmt.Sprintf("%.2f", s.P99ms), mb(s.RSSMB)}
		}
		if withTargets {
			if s.Target != nil {
				row = append(row, s.Target.Target, verdictWord(s.Target))
			} else {
				row = append(row, "", "")
			}
		}
		rows = append(rows, row)
	}
	if !memDone {
		memRow()
	}
	writeRows(w, rows)
	var notes []string
	for _, s := range db.Steps {
		switch {
		case s.Skipped != "":
			notes = append(notes, s.Name+": skipped: "+s.Skipped)
		case s.Note != "":
			notes = append(notes, s.Name+": "+s.Note)
		}
		if s.Target != nil && s.Target.Caveat != "" {
			notes = append(notes, s.Name+": target: "+s.Target.Caveat)
		}
		for _, e := range s.FirstErrors {
			notes = append(notes, s.Name+": error: "+e)
		}
	}
	if db.Memory != nil && db.Memory.Target != nil && db.Memory.Target.Caveat != "" {
		notes = append(notes, "RSS: target: "+db.Memory.Target.Caveat)
	}
	notes = append(notes, db.Notes...)
	for _, n := range notes {
		fmt.Fprintln(w, "  - "+n)
	}
}

func mb(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", v)
}

// verdictWord is the verdict without its caveat (the caveat goes to the notes).
func verdictWord(v *verdict) string {
	if v.Met {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", v.MissedByPct)
}

// writeRows prints rows as columns: the first and the last two (target,
// verdict) left-aligned, the figures right-aligned.
func writeRows(w io.Writer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 0 || i >= 9 {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "%*s", width[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
