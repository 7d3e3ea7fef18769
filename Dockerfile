# hepvault in a container, for docker-compose.yml (which brings its own PostgreSQL).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /hepvault ./cmd/hepvault

FROM debian:bookworm-slim
COPY --from=build /hepvault /usr/local/bin/hepvault
EXPOSE 9060/udp 9060/tcp 9080/tcp
ENTRYPOINT ["hepvault"]
CMD ["serve"]
