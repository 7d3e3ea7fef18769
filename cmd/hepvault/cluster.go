package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// clusterFamilies are the series of the deployments beyond one process:
// who leads among the processes sharing the database.
func clusterFamilies(src metricSources) prometheus.Collector {
	var fs families
	if l := src.leader; l != nil {
		fs = append(fs,
			gaugeOf("hepvault_leader", "1 while this process leads: it runs the store-wide jobs (partitions ahead, retention, statistics fold) for every process sharing the database.", nil,
				func(sample func(float64, ...string)) {
					if l.Leading() {
						sample(1)
					} else {
						sample(0)
					}
				}),
			counterOf("hepvault_leader_terms_total", "Times this process became leader.", nil,
				func(sample func(float64, ...string)) { sample(float64(l.Stats().Terms)) }),
		)
	}
	return fs
}
