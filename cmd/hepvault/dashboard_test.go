package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const dashboardPath = "../../grafana/hepvault-dashboard.json"

type dashRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashPanel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *dashRef    `json:"datasource"`
	Panels     []dashPanel `json:"panels"`
	Targets    []struct {
		RefID      string   `json:"refId"`
		Datasource *dashRef `json:"datasource"`
		Expr       string   `json:"expr"`
		RawSQL     string   `json:"rawSql"`
	} `json:"targets"`
}

// knownMetrics are the names /metrics may show: hepvault's families, its
// write histograms (with their _bucket, _sum and _count series), and the Go
// runtime's and the process's.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	descs := make(chan *prometheus.Desc, 1000)
	collectorFamilies(collector.New(collector.Config{})).Describe(descs)
	writerFamilies(metricSources{retention: &store.Retention{}}).Describe(descs) // described, never collected
	close(descs)
	for d := range descs {
		names[fqName.FindStringSubmatch(d.String())[1]] = true
	}
	reg := prometheus.NewRegistry()
	w := newWriteMetrics()
	w.observe(1, 0)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), w.packets, w.seconds)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[mf.GetName()+suffix] = true
			}
		}
	}
	return names
}

// TestDashboard reads grafana/hepvault-dashboard.json: every panel and
// query reads through a datasource variable the dashboard declares, every
// metric a Prometheus query names is one hepvault serves and every query
// parses (promtool), and every SQL query reads the stats_minutes view within
// the dashboard's time range and runs on PostgreSQL.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Datasource *dashRef        `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Panels []dashPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatal("the dashboard has no uid or title")
	}
	// Datasource variables: "${name}" stands for a datasource of the
	// variable's plugin type.
	sources := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			var plugin string
			if err := json.Unmarshal(v.Query, &plugin); err != nil || plugin == "" {
				t.Fatalf("datasource variable %s: no plugin type in its query (%s)", v.Name, v.Query)
			}
			sources["${"+v.Name+"}"] = plugin
		}
	}
	if len(sources) != 2 {
		t.Fatalf("unexpected datasource variables %v; want one for Prometheus and one for PostgreSQL", sources)
	}
	checkRef := func(where string, ref *dashRef) string {
		t.Helper()
		if ref == nil {
			t.Fatalf("%s: no datasource", where)
		}
		plugin, ok := sources[ref.UID]
		if !ok {
			t.Fatalf("%s: datasource %q is not a datasource variable of the dashboard (%v)", where, ref.UID, sources)
		}
		if ref.Type != plugin {
			t.Fatalf("%s: datasource type %q, but %s is a %q", where, ref.Type, ref.UID, plugin)
		}
		return plugin
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			checkRef("variable "+v.Name, v.Datasource)
		}
	}

	known := knownMetrics(t)
	metricName := regexp.MustCompile(`\b(?:hepvault|go|process)_[a-z0-9_]+\b`)
	dim := regexp.MustCompile(`\bdim = '([a-z_]+)'`)
	dims := map[string]bool{"method": true, "status": true, "status_class": true, "kind": true, "capture_id": true, "pair": true}
	used := map[string]bool{}
	ids := map[int]bool{}
	var promQL, sqls []string
	var walk func(panels []dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			where := "panel " + p.Title
			if ids[p.ID] {
				t.Fatalf("%s: id %d taken by another panel", where, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			plugin := checkRef(where, p.Datasource)
			if len(p.Targets) == 0 {
				t.Fatalf("%s: no query", where)
			}
			for _, q := range p.Targets {
				qwhere := where + " query " + q.RefID
				if q.Datasource != nil && checkRef(qwhere, q.Datasource) != plugin {
					t.Fatalf("%s: datasource differs from its panel's", qwhere)
				}
				switch plugin {
				case "prometheus":
					promQL = append(promQL, q.Expr)
					names := metricName.FindAllString(q.Expr, -1)
					if len(names) == 0 {
						t.Fatalf("%s: no hepvault metric in %q", qwhere, q.Expr)
					}
					for _, n := range names {
						if !known[n] {
							t.Fatalf("%s: %s is not on /metrics (%q)", qwhere, n, q.Expr)
						}
						used[n] = true
					}
				default:
					sqls = append(sqls, q.RawSQL)
					m := dim.FindStringSubmatch(q.RawSQL)
					if !strings.Contains(q.RawSQL, "FROM stats_minutes") || !strings.Contains(q.RawSQL, "$__timeFilter(minute)") || m == nil || !dims[m[1]] {
						t.Fatalf("%s: want a query of stats_minutes by one of its dims within $__timeFilter(minute); got %q", qwhere, q.RawSQL)
					}
				}
			}
		}
	}
	walk(d.Panels)
	for _, n := range []string{"hepvault_received_total", "hepvault_stored_total", "hepvault_dropped_total", "hepvault_queue_length",
		"hepvault_db_write_duration_seconds_bucket", "hepvault_sip_requests_total", "hepvault_sip_responses_total",
		"hepvault_capture_id_packets_total", "hepvault_retention_dropped_partitions_total"} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	checkPromQL(t, promQL)
	checkSQL(t, sqls)
}

// grafanaVars stands in for the variables Grafana fills in a query.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$instance", ".*")

// checkPromQL has promtool parse each query, as a recording rule.
func checkPromQL(t *testing.T, queries []string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run scripts/deps.sh (make test does), which installs Debian's prometheus package", err)
	}
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range queries {
		rules = append(rules, rule{fmt.Sprintf("dashboard:query_%d", i), grafanaVars.Replace(q)})
	}
	// JSON is YAML: a rules file promtool reads.
	b, err := json.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

// checkSQL runs each query, its Grafana macros expanded as Grafana's
// PostgreSQL datasource expands them, on a table shaped as the
// stats_minutes view, and wants rows back.
func checkSQL(t *testing.T, queries []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE stats_minutes (minute timestamptz, dim text, key text, count bigint);
		INSERT INTO stats_minutes SELECT date_trunc('minute', now()) - m * interval '1 minute', d, k, 10 * m + 1
		FROM generate_series(0, 59) m, unnest(ARRAY['method', 'status', 'status_class', 'kind', 'capture_id', 'pair']) d, unnest(ARRAY['a', 'b']) k`); err != nil {
		t.Fatal(err)
	}
	macros := strings.NewReplacer(
		"$__timeGroupAlias(minute, $__interval)", `floor(extract(epoch from minute)/300)*300 AS "time"`,
		"$__timeFilter(minute)", "minute BETWEEN now() - interval '6 hours' AND now()",
		"$__interval_ms", "300000",
	)
	for _, q := range queries {
		sql := macros.Replace(q)
		if strings.Contains(sql, "$") {
			t.Fatalf("a macro of this query is not expanded by the test: %s", sql)
		}
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%v:\n%s", err, sql)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil || n == 0 {
			t.Fatalf("%d rows, %v:\n%s", n, err, sql)
		}
	}
}
