-- One row per captured SIP message (or undecodable payload), partitioned by
-- HEP capture time into daily partitions that store creates ahead of time.
-- Rows whose capture time falls outside the partitions made so far land in the
-- default partition, so no timestamp, however odd, loses a packet.
CREATE TABLE packets (
    captured_at    timestamptz NOT NULL,
    id             bigint      NOT NULL, -- arrival order, assigned by the collector
    received_at    timestamptz NOT NULL,
    capture_id     bigint      NOT NULL, -- HEP chunk 0x000c (uint32)
    hep_version    smallint    NOT NULL,
    proto_type     smallint    NOT NULL, -- HEP chunk 0x000b; 1 = SIP
    transport      smallint    NOT NULL, -- IP protocol number: 6 tcp, 17 udp, 132 sctp
    src_ip         inet        NOT NULL,
    src_port       integer     NOT NULL,
    dst_ip         inet        NOT NULL,
    dst_port       integer     NOT NULL,
    kind           smallint    NOT NULL, -- 0 invalid, 1 request, 2 response
    invalid_reason text,
    method         text,
    request_uri    text,
    status_code    smallint,
    reason         text,
    call_id        text,
    cseq           bigint,
    cseq_method    text,
    from_uri       text,
    from_tag       text,
    to_uri         text,
    to_tag         text,
    via_branch     text,
    user_agent     text,
    contact        text,
    content_type   text,
    correlation_id text,
    raw            bytea       NOT NULL
) PARTITION BY RANGE (captured_at);

CREATE TABLE packets_default PARTITION OF packets DEFAULT;

-- "First N packets of a window" walks this index in order.
CREATE INDEX packets_captured_at_id ON packets (captured_at, id);
-- "Every packet of one call".
CREATE INDEX packets_call_id ON packets (call_id, captured_at, id);
