-- A packet is identified by (captured_at, id). Making the window index unique
-- lets a batch be written again without storing it twice: after a write whose
-- outcome is unknown (the connection broke at commit), on replay of a spool, or
-- on a second import of the same capture file. Same index, same size.
DROP INDEX packets_captured_at_id;
CREATE UNIQUE INDEX packets_captured_at_id ON packets (captured_at, id);
