# The two commands of the README:
#   make run    build hepvault and run it on its embedded PostgreSQL (./hepvault-data)
#   make test   install what the tests need, when missing, and run them all
# .ci/run calls `make test`.

GO ?= go

.PHONY: run test build deps outage-bench

build:
	$(GO) build -o hepvault ./cmd/hepvault

run: deps build
	./hepvault serve

test: deps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# PostgreSQL's server binaries (initdb, postgres) from Debian when they are missing.
deps:
	@./scripts/deps.sh

# Long runs, kept out of `make test` (BENCHMARKS.md has the others' commands):
# PostgreSQL stopped 8 s during 30 s of 100,000 packets/s over TCP.
outage-bench: deps
	bash scripts/outage-bench.sh 100000 30s 8 tcp
