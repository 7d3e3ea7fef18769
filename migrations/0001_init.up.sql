-- hepvault's schema.
--
-- Packets are stored in blocks: one row of packet_blocks holds a run of up
-- to 128 packets sorted by (capture time, id). PostgreSQL's cost is mostly
-- per row and per index entry, so a row per block takes several times more
-- packets per second than a row per packet, and TOAST compresses the packets
-- of a block together (SIP messages repeat most of their text).
--
-- A block is self-describing: each packet is a value of the composite type
-- packet_v1 holding every field as it was extracted on arrival and the
-- payload, so reading it parses nothing, and PostgreSQL reads it as well as
-- hepvault does (the packets view and packets_between below). Fields and
-- payloads share one array, compressed as one value: a header field then
-- costs a back-reference to the same bytes of its payload. A new field is an attribute
-- added at the end of packet_v1 (old values read it as NULL) and a new
-- format number in packet_blocks.format, which says which attributes a
-- block's values were written with (store/block.go); the decoder keeps
-- reading every format ever written.
--
-- In packet_v1 an absent value is NULL: method and request_uri of a
-- response, status_code and reason of a request, anything a malformed
-- message did not have.
CREATE TYPE packet_v1 AS (
    captured_at    timestamptz, -- HEP capture time
    id             bigint,      -- arrival order, assigned by the collector
    received_at    timestamptz, -- when hepvault read it
    capture_id     bigint,      -- HEP chunk 0x000c (uint32)
    hep_version    smallint,    -- 1, 2, 3; 0: plain SIP imported from a capture file
    proto_type     smallint,    -- HEP chunk 0x000b; 1 = SIP
    correlation_id text,        -- HEP chunk 0x0011
    src_ip         inet,
    src_port       integer,
    dst_ip         inet,
    dst_port       integer,
    transport      smallint,    -- IP protocol number: 6 tcp, 17 udp, 132 sctp
    kind           smallint,    -- 0 invalid, 1 request, 2 response
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
    from_user      text,        -- user part of the URI, percent-decoded; a tel: URI's number
    to_uri         text,
    to_tag         text,
    to_user        text,
    ruri_user      text,
    pai_user       text,        -- P-Asserted-Identity
    via_branch     text,
    user_agent     text,        -- User-Agent, or Server in a response
    contact        text,
    content_type   text,
    raw            bytea,       -- the payload, byte for byte
    correlation_header text     -- X-CID, X-Call-ID or a --correlation-header (format 2)
);

CREATE TABLE packet_blocks (
    first_at  timestamptz NOT NULL, -- capture time of the first packet
    first_id  bigint      NOT NULL, -- id of the first packet
    last_at   timestamptz NOT NULL, -- capture time of the last packet
    count     integer     NOT NULL, -- packets in the block
    format    smallint    NOT NULL, -- layout of packets: 1, 2 (store/block.go)
    terms     integer[]   NOT NULL, -- what the block holds for each filter, hashed (store/terms.go), sorted, once each
    packets   packet_v1[] NOT NULL
) PARTITION BY RANGE (first_at);

-- A block spans under four seconds of capture time and one UTC day, so a
-- window query finds every block that may hold a packet of the window by
-- first_at alone, and a day's partition holds exactly that day's packets.
-- store makes the daily partitions (packet_blocks_pYYYYMMDD), for every day
-- a packet falls on. There is no default partition: retention drops a day
-- with DETACH PARTITION CONCURRENTLY, which PostgreSQL refuses while a
-- default partition exists, and a default partition would hold rows that
-- only row deletes could expire.

-- "First N packets of a window" walks an index on (first_at, first_id) in
-- order; unique so that a batch written again is stored once (its blocks
-- start with the same packets). store makes it on each day's partition
-- as it makes the partition (packet_blocks_pYYYYMMDD_first), not here: a
-- unique index on packet_blocks would forbid the foreign partitions of
-- days moved to an archive database (store/archive.go), and, holding the
-- partition key, a unique index per partition is unique over the table.

-- "Blocks that hold this Call-ID, this number, this status...". fastupdate
-- gathers new entries in a pending list and sorts them into the index in
-- bulk, far cheaper than an insert per entry. store empties the list from a
-- connection of its own every fraction of a second (store/term_index.go):
-- the insert that finds the list over its limit would otherwise merge it,
-- holding up the writer.
CREATE INDEX packet_blocks_terms ON packet_blocks USING gin (terms)
    WITH (fastupdate = on, gin_pending_list_limit = 4096);

-- Hashes do not compress: terms are never tried.
ALTER TABLE packet_blocks ALTER COLUMN terms SET STORAGE EXTERNAL;

-- LZ4 compresses and decompresses several times faster than PostgreSQL's
-- default (pglz) for a similar size. Partitions inherit it. A server built
-- without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE packet_blocks ALTER COLUMN packets SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END $$;

-- A block's packets as PostgreSQL keeps them once detoasted, as a bytea:
-- sealing and verify read days through it (store/block_image.go), as
-- PostgreSQL's binary output of packet_v1[] costs 20 times more. byteasend
-- returns its argument's value as it is (detoasted, copied); a function in
-- LANGUAGE internal takes a superuser to create, so a role that is not one
-- goes without (hepvault then reads the binary output, and says so in its
-- log; a superuser can run this statement later).
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE FUNCTION packets_image(packet_v1[]) RETURNS bytea
        LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteasend';
    END IF;
END $$;

-- One row per stored packet, for psql, Grafana and an auditor's own SQL.
-- A query over it reads every block: for a window use packets_between.
CREATE VIEW packets AS
SELECT p.*
FROM packet_blocks b, LATERAL unnest(b.packets) AS p;

COMMENT ON VIEW packets IS 'One row per stored SIP packet. Use packets_between(from, to) for a time window: it reads only that window''s blocks.';

-- The packets captured in [lo, hi). Inlined into the query that calls it,
-- so PostgreSQL reads only the partitions and blocks of the window: a block
-- starts less than four seconds before its last packet (store/block_write.go).
CREATE FUNCTION packets_between(lo timestamptz, hi timestamptz) RETURNS SETOF packets
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.*
    FROM packet_blocks b, LATERAL unnest(b.packets) AS p
    WHERE b.first_at >= lo - interval '4 seconds' AND b.first_at < hi AND b.last_at >= lo
      AND p.captured_at >= lo AND p.captured_at < hi
$$;

-- Statistics: packets counted per minute by method, status code, status
-- class, kind, capture agent and address pair (hepvault.StatsDim), kept far
-- longer than packets. A row holds the counts of one period and dimension
-- as two parallel arrays, keys and counts, so a minute costs a row per
-- dimension, not a row per key.
--
-- The writer appends the counts of each batch's new blocks to stats_delta
-- in the transaction that stores the blocks: an append, no update of a hot
-- row, and a batch written again adds nothing, as its blocks are not new.
-- Every minute store folds (store/stats.go) the delta rows of closed
-- minutes into one row per minute and dimension in stats_minute, keeping
-- for dimension pair only the most frequent keys plus "other", and
-- recomputes the hours and days they fall in (stats_hour, stats_day), all
-- in one transaction. So the counts of any period are its rollup rows plus
-- the delta rows not folded yet, whether or not the fold has run.
-- Periods are UTC.
CREATE TABLE stats_delta (
    minute timestamptz NOT NULL,
    dim    text        NOT NULL,
    keys   text[]      NOT NULL,
    counts bigint[]    NOT NULL
);
CREATE INDEX stats_delta_minute ON stats_delta (minute);

CREATE TABLE stats_minute (
    minute timestamptz NOT NULL,
    dim    text        NOT NULL,
    keys   text[]      NOT NULL,
    counts bigint[]    NOT NULL,
    PRIMARY KEY (dim, minute)
);

CREATE TABLE stats_hour (
    hour   timestamptz NOT NULL,
    dim    text        NOT NULL,
    keys   text[]      NOT NULL,
    counts bigint[]    NOT NULL,
    PRIMARY KEY (dim, hour)
);

CREATE TABLE stats_day (
    day    timestamptz NOT NULL,
    dim    text        NOT NULL,
    keys   text[]      NOT NULL,
    counts bigint[]    NOT NULL,
    PRIMARY KEY (dim, day)
);

-- One row per minute, dimension and key, for psql and Grafana:
--   SELECT minute AS time, key, count FROM stats_minutes
--   WHERE dim = 'method' AND minute >= now() - interval '1 hour' ORDER BY 1;
-- A condition on minute and dim reaches both tables' indexes.
CREATE VIEW stats_minutes AS
SELECT r.minute, r.dim, u.key, sum(u.count)::bigint AS count
FROM (SELECT minute, dim, keys, counts FROM stats_minute
      UNION ALL
      SELECT minute, dim, keys, counts FROM stats_delta) r,
     LATERAL unnest(r.keys, r.counts) AS u(key, count)
GROUP BY r.minute, r.dim, u.key;

COMMENT ON VIEW stats_minutes IS 'Packets counted per minute (UTC), dimension (method, status, status_class, kind, capture_id, pair) and key.';

-- The same per hour, for windows of days or months.
CREATE VIEW stats_hours AS
SELECT r.hour, r.dim, u.key, sum(u.count)::bigint AS count
FROM (SELECT hour, dim, keys, counts FROM stats_hour
      UNION ALL
      SELECT date_bin('1 hour', minute, '2000-01-01 00:00:00+00'), dim, keys, counts FROM stats_delta) r,
     LATERAL unnest(r.keys, r.counts) AS u(key, count)
GROUP BY r.hour, r.dim, u.key;

COMMENT ON VIEW stats_hours IS 'Packets counted per hour (UTC), dimension and key.';

-- hepvault's own record, for coverage (store/coverage.go): each serving
-- process (node) writes a row per heartbeat period saying it ran from
-- started_at to ended_at, what it dropped meanwhile by reason (the
-- collector's drop reasons, the writer's spool_full, spool_error,
-- disk_full, expired, rejected, and the kernel's UDP drops as
-- udp_kernel), how many packets it spooled, and whether the database was
-- unreachable in it. A row for a period the database was down is written
-- from memory once it answers. next_by is when the node's next row is
-- due: until then a node whose last row ended recently is taken as
-- running still.
CREATE TABLE node_periods (
    node          text        NOT NULL,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    next_by       timestamptz NOT NULL,
    drop_reasons  text[]      NOT NULL,
    drop_counts   bigint[]    NOT NULL,
    spooled       bigint      NOT NULL,
    spool_bytes   bigint      NOT NULL, -- in the spool at ended_at
    db_down       boolean     NOT NULL,
    PRIMARY KEY (node, started_at)
);
CREATE INDEX node_periods_ended ON node_periods (ended_at);

-- One row per API request that returned packets, calls, exports or holds
-- (api/access.go), kept as long as the statistics.
CREATE TABLE access_log (
    at       timestamptz NOT NULL,
    token    text        NOT NULL, -- the token's name; '' when the API takes no token
    role     text        NOT NULL,
    client   text        NOT NULL, -- the client's address
    method   text        NOT NULL, -- GET, POST, DELETE
    route    text        NOT NULL, -- /api/v1/packets, /api/v1/calls/:call_id, ...
    params   text        NOT NULL, -- the query string, or the hold's id and reason
    status   smallint    NOT NULL,
    returned integer     NOT NULL  -- packets, calls or holds in the answer
);
CREATE INDEX access_log_at ON access_log (at);

-- Legal holds: the days a hold's window touches are not dropped by
-- retention (store/holds.go says why whole days). A hold names a Call-ID
-- or a packet filter (the query string of /api/v1/packets) over
-- [from_at, to_at); ended_at is set when it is ended, and the row stays.
CREATE TABLE holds (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    reason     text        NOT NULL,
    call_id    text,
    filter     text,
    from_at    timestamptz NOT NULL,
    to_at      timestamptz NOT NULL,
    ended_at   timestamptz,
    ended_by   text,
    CHECK ((call_id IS NULL) <> (filter IS NULL)),
    CHECK (to_at > from_at)
);
-- SIPREC (RFC 7866): the recording-session INVITEs, re-INVITEs and UPDATEs
-- among the stored packets, with the recording metadata (RFC 7865) each
-- carried, read once by the writer as it stores the packet's block, in the
-- same transaction (store/recording_write.go). A row is keyed by its packet,
-- so a batch written again adds nothing. metadata is one document as sent
-- (internal/siprec.Metadata as JSON: complete, or a partial update); a
-- query applies a recording's documents in capture order and reads no
-- packet for it. A message the proxy received and forwarded is two packets,
-- so two rows. error says why a metadata part could not be read: the packet
-- is stored all the same.
CREATE TABLE recording_messages (
    call_id     text        NOT NULL, -- the recording session's own dialog
    captured_at timestamptz NOT NULL,
    packet_id   bigint      NOT NULL,
    method      text        NOT NULL,
    cseq        bigint      NOT NULL,
    session_id  text,                 -- its Session-ID header's local UUID (RFC 7989)
    metadata    jsonb,                -- NULL: no metadata, or unreadable
    error       text,                 -- why the metadata could not be read
    PRIMARY KEY (call_id, captured_at, packet_id)
);
CREATE INDEX recording_messages_at ON recording_messages (captured_at);

-- Metadata that could not be read, counted by reason, per hour:
--   SELECT * FROM recording_metadata_errors WHERE hour >= now() - interval '1 day';
CREATE VIEW recording_metadata_errors AS
SELECT date_bin('1 hour', captured_at, '2000-01-01 00:00:00+00') AS hour,
       split_part(error, ':', 1) || ':' || split_part(error, ':', 2) AS reason, count(*) AS count
FROM recording_messages WHERE error IS NOT NULL GROUP BY 1, 2;

COMMENT ON VIEW recording_metadata_errors IS 'SIPREC metadata that could not be read, per hour (UTC) and reason.';

-- Sealed days (store/seal.go). Each UTC day's packets are hashed in
-- storage order, blocks by (first_at, first_id) and packets in their
-- block's order, into a Merkle tree (RFC 6962); once the day has ended and
-- a grace has passed, its root is the day's seal, addendum 0. Packets
-- stored for a sealed day later are sealed the same way as addendum 1, 2,
-- ... . The root covers each packet's stored fields, not these bytes
-- (store.PacketDigest), so it outlives a change of block format.
CREATE TABLE seals (
    day        date        NOT NULL,
    addendum   integer     NOT NULL,
    count      bigint      NOT NULL,  -- packets covered
    root       bytea       NOT NULL,  -- SHA-256, 32 bytes
    sealed_at  timestamptz NOT NULL,
    key_id     text,                  -- when signed: first 8 bytes of SHA-256 of the Ed25519 public key, hex
    public_key bytea,
    signature  bytea,                 -- Ed25519 over the statement's message (README.md)
    dropped_at timestamptz,           -- when retention or the disk guard dropped the day's packets
    PRIMARY KEY (day, addendum)
);

-- Which seal covers each block, so that an addendum covers exactly the
-- blocks no earlier seal did, and verify can say which packet of which
-- block differs: digest is SHA-256 of the block's leaves in order, leaves
-- the first 4 bytes of each. This table is an index into the seals, not
-- their proof: a change here changes no root.
CREATE TABLE seal_blocks (
    first_at timestamptz NOT NULL,
    first_id bigint      NOT NULL,
    day      date        NOT NULL,
    addendum integer     NOT NULL,
    count    integer     NOT NULL,
    digest   bytea       NOT NULL,
    leaves   bytea       NOT NULL,
    PRIMARY KEY (first_at, first_id)
);
CREATE INDEX seal_blocks_day ON seal_blocks (day, addendum);

-- Days of which packets were stored after the day was sealed: the writer
-- notes them, and the next addendum seals their packets.
CREATE TABLE seal_pending (
    day      date        PRIMARY KEY,
    noted_at timestamptz NOT NULL
);
