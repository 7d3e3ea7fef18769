-- Packets stored in blocks: one row holds a run of ~128 packets sorted by
-- (capture time, id), encoded by store (store/block.go). PostgreSQL's cost
-- is mostly per row and per index entry, so a row per block takes several
-- times more packets per second than a row per packet, and TOAST compresses
-- the packets of a block together (SIP messages repeat most of their text):
-- a fraction of the bytes per packet.
--
-- A block spans under one second of capture time and one UTC day, so a
-- window query finds its blocks by first_at alone, and a day's partition
-- holds exactly that day's packets.
--
-- Rows of the packets table (0001-0004) are moved into blocks by store when
-- it migrates (store/legacy.go), which then drops that table.
CREATE TABLE packet_blocks (
    first_at  timestamptz NOT NULL, -- capture time of the first packet, rounded down to the microsecond
    first_id  bigint      NOT NULL, -- id of the first packet
    last_at   timestamptz NOT NULL, -- capture time of the last packet, rounded down
    count     integer     NOT NULL, -- packets in the block
    calls     bigint[]    NOT NULL, -- the call hashes (md5 of Call-ID, as call_hash in 0004) of its packets, sorted, once each
    data      bytea       NOT NULL  -- the packets
) PARTITION BY RANGE (first_at);

CREATE TABLE packet_blocks_default PARTITION OF packet_blocks DEFAULT;

-- "First N packets of a window" walks this index in order; unique so that a
-- batch written again is stored once (its blocks start with the same packets).
CREATE UNIQUE INDEX packet_blocks_first ON packet_blocks (first_at, first_id);
-- "Every packet of one call". fastupdate gathers new entries in a pending
-- list and sorts them into the index in bulk, which costs far less than an
-- insert per entry. store empties the list from a connection of its own
-- every fraction of a second (store/call_index.go): the insert that finds
-- the list over its limit would otherwise merge it, holding up the writer.
CREATE INDEX packet_blocks_calls ON packet_blocks USING gin (calls)
    WITH (fastupdate = on, gin_pending_list_limit = 4096);

-- LZ4 compresses and decompresses several times faster than PostgreSQL's
-- default (pglz) for a similar size. Partitions inherit it. A server built
-- without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE packet_blocks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END $$;
