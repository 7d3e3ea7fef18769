package main

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/spool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// /metrics is served by the Prometheus client library from one registry:
// the counters hepvault keeps anyway (the collector's and the writer's
// atomics) are read when the page is asked for, so counting costs the
// packet path nothing more; the histograms of the database writes are
// observed once per write; the Go runtime and process collectors come with
// the library.

// metricSources is what the metrics are read from.
type metricSources struct {
	col           *collector.Collector
	writer        *store.Writer
	spool         *spool.Spool // nil: no spool
	spoolMaxBytes int64
	writes        *writeMetrics
	access        *store.AccessLogger
	retention     *store.Retention    // nil: no retention series
	tls           *collector.TLSCerts // nil: no HEP over TLS
	leader        *store.Leader       // nil: no leader series
	archiver      *store.Archiver     // nil: no archive series
	readDB        *store.DB           // nil: no replica series
}

// newMetricsRegistry returns the registry /metrics serves.
func newMetricsRegistry(src metricSources) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectorFamilies(src.col),
		tlsFamilies(src.col, src.tls),
		writerFamilies(src),
	)
	if src.access != nil {
		a := src.access
		reg.MustRegister(families{
			counterOf("hepvault_access_log_lost_total", "API access log entries lost: the queue was full, or the database did not take them for long.", nil, value(a.Dropped)),
		})
	}
	if src.writes != nil {
		reg.MustRegister(src.writes.packets, src.writes.seconds)
	}
	reg.MustRegister(clusterFamilies(src))
	return reg
}

// metricsHandler serves reg, in whichever exposition format the scraper
// asks for; a metric that cannot be gathered is logged and left out, the
// rest served.
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
}

// writeMetrics are the histograms of the writer's database writes, fed by
// store.WriterConfig.OnWrite.
type writeMetrics struct {
	packets, seconds prometheus.Histogram
}

func newWriteMetrics() *writeMetrics {
	return &writeMetrics{
		packets: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hepvault_db_write_batch_packets",
			Help:    "Packets per database write the database committed (a batch, a spooled batch replayed, or one packet of a refused batch written one by one).",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 1500, 2000, 4000},
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hepvault_db_write_duration_seconds",
			Help:    "Time a committed database write took, from the start of the write to its commit.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}),
	}
}

// observe is the writer's OnWrite.
func (m *writeMetrics) observe(packets int, took time.Duration) {
	m.packets.Observe(float64(packets))
	m.seconds.Observe(took.Seconds())
}

// family is one metric whose samples are read when /metrics is asked for.
type family struct {
	desc    *prometheus.Desc
	typ     prometheus.ValueType
	collect func(sample func(v float64, labelValues ...string))
}

// families is a prometheus.Collector of families.
type families []family

func (fs families) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range fs {
		ch <- f.desc
	}
}

func (fs families) Collect(ch chan<- prometheus.Metric) {
	for _, f := range fs {
		f.collect(func(v float64, labelValues ...string) {
			ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, labelValues...)
		})
	}
}

func counterOf(name, help string, labels []string, collect func(sample func(float64, ...string))) family {
	return family{prometheus.NewDesc(name, help, labels, nil), prometheus.CounterValue, collect}
}

func gaugeOf(name, help string, labels []string, collect func(sample func(float64, ...string))) family {
	return family{prometheus.NewDesc(name, help, labels, nil), prometheus.GaugeValue, collect}
}

// value is a collect of one unlabelled sample.
func value[T uint64 | int64 | int](v func() T) func(sample func(float64, ...string)) {
	return func(sample func(float64, ...string)) { sample(float64(v())) }
}

// collectorFamilies are the collector's counters: what was received, what
// was dropped and why, the SIP seen, the TCP connections and the UDP socket.
func collectorFamilies(col *collector.Collector) families {
	m := col.Metrics()
	return families{
		counterOf("hepvault_received_total", "HEP packets received, by listener transport.", []string{"transport"},
			func(sample func(float64, ...string)) {
				sample(float64(m.UDPDatagrams.Load()), "udp")
				sample(float64(m.TCPFrames.Load()), "tcp")
				sample(float64(m.TLSFrames()), "tls")
			}),
		counterOf("hepvault_decoded_total", "HEP packets received that decoded, by listener transport and HEP version (1, 2, 3); the rest of hepvault_received_total is in the decode reasons of hepvault_dropped_total.",
			[]string{"transport", "version"},
			func(sample func(float64, ...string)) {
				for _, t := range collector.Transports() {
					for v := 1; v <= 3; v++ {
						sample(float64(m.Decoded(t, v)), t.String(), strconv.Itoa(v))
					}
				}
			}),
		counterOf("hepvault_capture_id_packets_total", "HEP packets accepted (decoded, with the right auth key), by capture id (agent): the first "+
			strconv.Itoa(collector.MaxCaptureIDs)+" ids seen each have their own series, later ones are counted as \"other\".",
			[]string{"capture_id"},
			func(sample func(float64, ...string)) {
				ids, other := m.CaptureIDs()
				for _, a := range ids {
					sample(float64(a.Packets), strconv.FormatUint(uint64(a.CaptureID), 10))
				}
				sample(float64(other), "other")
			}),
		counterOf("hepvault_queued_total", "Packets handed to the database writer.", nil, value(m.Queued.Load)),
		counterOf("hepvault_invalid_sip_total", "Packets whose payload is not valid SIP (stored as kind invalid).", nil, value(m.InvalidSIP.Load)),
		counterOf("hepvault_sip_messages_total", "SIP payloads parsed, by kind: request, response, or invalid (not valid SIP, stored as such); queued or dropped as queue_full.",
			[]string{"kind"},
			func(sample func(float64, ...string)) {
				for _, k := range []hepvault.Kind{hepvault.KindRequest, hepvault.KindResponse, hepvault.KindInvalid} {
					sample(float64(m.SIPKind(k)), k.String())
				}
			}),
		counterOf("hepvault_sip_requests_total", "Valid SIP requests, by method: the methods of RFC 3261 and the common extensions, \"other\" for the rest.",
			[]string{"method"},
			func(sample func(float64, ...string)) {
				for _, meth := range collector.SIPMethods() {
					sample(float64(m.SIPMethod(meth)), meth.String())
				}
			}),
		counterOf("hepvault_sip_responses_total", "Valid SIP responses, by status class (1xx to 6xx).", []string{"class"},
			func(sample func(float64, ...string)) {
				for c := hepvault.StatusClass(1); c <= 6; c++ {
					sample(float64(m.SIPClass(c)), c.String())
				}
			}),
		counterOf("hepvault_dropped_total", "Packets received but not queued, by reason.", []string{"reason"},
			func(sample func(float64, ...string)) {
				for _, r := range collector.Reasons() {
					sample(float64(m.Dropped(r)), r.String())
				}
			}),
		gaugeOf("hepvault_queue_length", "Packets waiting for the writer.", nil, value(col.QueueLen)),
		gaugeOf("hepvault_queue_capacity", "Packets that may wait for the writer; past it packets are dropped as queue_full.", nil, value(col.QueueCap)),
		counterOf("hepvault_tcp_connections_total", "TCP connections accepted.", nil, value(m.TCPConnections.Load)),
		gaugeOf("hepvault_tcp_connections_open", "TCP connections open now.", nil, value(m.TCPOpen.Load)),
		counterOf("hepvault_tcp_connections_closed_total", "TCP connections refused or closed by hepvault, by reason.", []string{"reason"},
			func(sample func(float64, ...string)) {
				for _, r := range collector.ConnReasons() {
					sample(float64(m.ConnClosed(r)), r.String())
				}
			}),
		counterOf("hepvault_tcp_bad_frames_total", "TCP connections closed because the stream was not HEPv3 or a frame length was out of range.", nil, value(m.TCPBadFrames.Load)),
		counterOf("hepvault_tcp_partial_frames_total", "TCP connections that ended in the middle of a packet.", nil, value(m.TCPPartial.Load)),
		counterOf("hepvault_read_errors_total", "Socket read errors.", nil, value(m.ReadErrors.Load)),
		counterOf("hepvault_hep_vendor_chunks_total", "HEP chunks of other vendors, skipped.", nil, value(m.VendorChunks.Load)),
		counterOf("hepvault_hep_unknown_chunks_total", "HEP chunks of unknown type, skipped.", nil, value(m.UnknownChunks.Load)),
		// The UDP socket's figures, when there is a UDP listener whose
		// figures the system gives.
		gaugeOf("hepvault_udp_receive_buffer_bytes", "UDP socket receive buffer granted by the kernel.", nil,
			func(sample func(float64, ...string)) {
				if m.UDPSocket() {
					sample(float64(m.UDPReadBuffer()))
				}
			}),
		counterOf("hepvault_udp_kernel_drops_total", "Datagrams the kernel dropped before hepvault read them (receive buffer full).", nil,
			func(sample func(float64, ...string)) {
				if drops, err := m.UDPKernelDrops(); err == nil {
					sample(float64(drops))
				}
			}),
	}
}

// tlsFamilies are the HEP over TLS listener's handshakes, and when it runs
// the expiry of its certificate, which a reload on SIGHUP moves.
func tlsFamilies(col *collector.Collector, certs *collector.TLSCerts) families {
	m := col.Metrics()
	fs := families{
		counterOf("hepvault_tls_handshakes_total", "HEP over TLS handshakes that succeeded.", nil, value(m.TLSHandshakes)),
		counterOf("hepvault_tls_handshake_failures_total", "HEP over TLS handshakes that failed, by reason; the connection is closed.", []string{"reason"},
			func(sample func(float64, ...string)) {
				for _, r := range collector.TLSFailures() {
					sample(float64(m.TLSHandshakeFailures(r)), r.String())
				}
			}),
	}
	if certs != nil {
		fs = append(fs, gaugeOf("hepvault_tls_certificate_expiry_timestamp_seconds", "When the certificate the HEP TLS listener serves expires (unix seconds).", nil,
			func(sample func(float64, ...string)) { sample(float64(certs.Leaf().NotAfter.Unix())) }))
	}
	return fs
}

// writerFamilies are the writer's, the spool's and retention's counters.
func writerFamilies(src metricSources) families {
	w := src.writer
	stat := func(f func(store.WriterStats) uint64) func(sample func(float64, ...string)) {
		return func(sample func(float64, ...string)) { sample(float64(f(w.Stats()))) }
	}
	spoolStats := func() spool.Stats {
		if src.spool == nil {
			return spool.Stats{}
		}
		return src.spool.Stats()
	}
	fs := families{
		counterOf("hepvault_stored_total", "Packets the database committed.", nil, stat(func(s store.WriterStats) uint64 { return s.Stored })),
		counterOf("hepvault_db_rejected_total", "Packets the database refused (logged).", nil, stat(func(s store.WriterStats) uint64 { return s.Rejected })),
		counterOf("hepvault_db_retries_total", "Batch writes retried while the database was unavailable.", nil, stat(func(s store.WriterStats) uint64 { return s.Retries })),
		counterOf("hepvault_db_write_errors_total", "Database writes that failed, by reason: unavailable (no answer, or none within the write timeout: retried or spooled) or refused (a row the database would not take: the batch is written again packet by packet).",
			[]string{"reason"},
			func(sample func(float64, ...string)) {
				st := w.Stats()
				for _, r := range store.WriteErrors() {
					sample(float64(st.WriteErrors[r]), r.String())
				}
			}),
		counterOf("hepvault_spooled_total", "Packets written to the disk spool while the database was unavailable.", nil, stat(func(s store.WriterStats) uint64 { return s.Spooled })),
		counterOf("hepvault_replayed_total", "Spooled packets written to the database.", nil, stat(func(s store.WriterStats) uint64 { return s.Replayed })),
		gaugeOf("hepvault_spool_bytes", "Bytes in the disk spool now.", nil, value(func() int64 { return spoolStats().Bytes })),
		gaugeOf("hepvault_spool_max_bytes", "Cap of the disk spool (--spool-max-bytes); 0: no spool.", nil,
			func(sample func(float64, ...string)) {
				if src.spool == nil {
					sample(0)
					return
				}
				sample(float64(src.spoolMaxBytes))
			}),
		counterOf("hepvault_spool_dropped_total", "Packets the database could not take and the spool could not either, by reason.", []string{"reason"},
			func(sample func(float64, ...string)) {
				st := w.Stats()
				for _, r := range store.SpoolDrops() {
					sample(float64(st.SpoolDropped[r]), r.String())
				}
			}),
		counterOf("hepvault_spool_skipped_records_total", "Spool records skipped as torn (crash mid-write) or damaged; their packets are lost.", nil,
			value(func() uint64 { return spoolStats().Skipped })),
		counterOf("hepvault_retention_refused_total", "Packets not stored, by reason: expired (captured before the retention horizon) or disk_full (the disk guard paused writing, or had dropped their day).",
			[]string{"reason"},
			func(sample func(float64, ...string)) {
				st := w.Stats()
				sample(float64(st.Expired), "expired")
				sample(float64(st.DiskFull), "disk_full")
			}),
	}
	if src.retention == nil {
		return fs
	}
	r := src.retention
	return append(fs,
		counterOf("hepvault_retention_dropped_partitions_total", "Day partitions (a day of packets each) dropped, by reason: retention (past the horizon) or disk (the disk guard needed the space). Not named _days_: promtool takes days for a unit that should be seconds.",
			[]string{"reason"},
			func(sample func(float64, ...string)) {
				st := r.Stats()
				for _, reason := range store.DropReasons() {
					sample(float64(st.DroppedDays[reason]), reason.String())
				}
			}),
		gaugeOf("hepvault_disk_guard_paused", "1 while the disk guard drops new packets: space short and only today's partition left.", nil,
			func(sample func(float64, ...string)) {
				if r.Stats().Paused {
					sample(1)
				} else {
					sample(0)
				}
			}),
		gaugeOf("hepvault_disk_free_bytes", "Free space the disk guard measured last (absent while the guard is off).", nil,
			func(sample func(float64, ...string)) {
				if st := r.Stats(); st.Guard {
					sample(float64(st.FreeBytes))
				}
			}),
		gaugeOf("hepvault_disk_min_free_bytes", "Free space the disk guard keeps (absent while the guard is off).", nil,
			func(sample func(float64, ...string)) {
				if st := r.Stats(); st.Guard {
					sample(float64(st.NeedBytes))
				}
			}),
	)
}
