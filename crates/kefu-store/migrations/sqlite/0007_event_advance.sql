-- A stored event advances its conversation (SQLite only). The common message — a buyer writing
-- to a chat already waiting for a reply, an agent answering one already answered — is then
-- one INSERT … SELECT instead of a transaction of four statements; each statement is a round
-- trip to SQLite's connection thread, and a busy shop's messages queue behind one writer.
CREATE TRIGGER conversation_events_advance AFTER INSERT ON conversation_events
BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_activity_at = NEW.at
    WHERE id = NEW.conversation_id AND last_seq < NEW.seq;
END;
