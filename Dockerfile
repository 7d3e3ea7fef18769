# hepvault in a container, for docker-compose.yml (which brings its own
# PostgreSQL: the image has no PostgreSQL of its own, so give it --db or
# HEPVAULT_DB).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /hepvault ./cmd/hepvault

FROM debian:bookworm-slim
# curl for the healthcheck (GET /readyz).
RUN apt-get update -q && apt-get install -y -q --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/hepvault --create-home hepvault
COPY --from=build /hepvault /usr/local/bin/hepvault
# The spool (batches the database could not take yet) lives in the data
# folder: a volume, so a restart replays it.
ENV HEPVAULT_DATA_DIR=/var/lib/hepvault
VOLUME /var/lib/hepvault
WORKDIR /var/lib/hepvault
USER hepvault
# HEP over UDP and TCP, HEP over TLS (with --hep-tls :9061), the API.
EXPOSE 9060/udp 9060/tcp 9061/tcp 9080/tcp
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD curl -fsS http://127.0.0.1:9080/readyz || exit 1
ENTRYPOINT ["hepvault"]
CMD ["serve"]
