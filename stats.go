package hepvault

import "time"

// StatsDim is what statistics count packets by.
type StatsDim string

// The dimensions statistics are kept for. Each counts some packets under a
// key: method counts requests by method; status responses by code ("486");
// status_class responses by class ("4xx"); kind every packet ("request",
// "response", "invalid"); capture_id every packet by its HEP capture agent
// id ("4242"); pair every packet by source and destination address
// ("10.0.0.1 > 10.0.0.2"; "-" for a missing address), the most frequent
// pairs of each minute kept and the rest counted as "other".
const (
	StatsMethod      StatsDim = "method"
	StatsStatus      StatsDim = "status"
	StatsStatusClass StatsDim = "status_class"
	StatsKind        StatsDim = "kind"
	StatsCaptureID   StatsDim = "capture_id"
	StatsPair        StatsDim = "pair"
)

// StatsDims lists every dimension.
func StatsDims() []StatsDim {
	return []StatsDim{StatsMethod, StatsStatus, StatsStatusClass, StatsKind, StatsCaptureID, StatsPair}
}

// StatsOther is the key under which the pairs outside a minute's most
// frequent ones are counted.
const StatsOther = "other"

// StatsSteps lists the widths statistics can be read at, each a whole
// number of minutes that divides a day.
func StatsSteps() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour}
}

// StatsQuery asks for the counts of one dimension in [From, To), summed
// per Step. From and To are multiples of Step since the Unix epoch (UTC).
type StatsQuery struct {
	From, To time.Time
	Step     time.Duration
	By       StatsDim
}

// StatsSeries is the counts of one key: a point per step of the window,
// in order, 0 where nothing was counted.
type StatsSeries struct {
	Key    string       `json:"key"`
	Points []StatsPoint `json:"points"`
}

// StatsPoint is the count of the step starting at T.
type StatsPoint struct {
	T     time.Time `json:"t"`
	Count int64     `json:"count"`
}
