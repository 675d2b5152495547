-- A stored event advances its conversation (SQLite only). The common message — a buyer writing,
-- an agent writing again in a chat already answered — is then one INSERT … SELECT instead of a
-- transaction of four statements; each statement is a round trip to SQLite's connection
-- thread, and a busy shop's messages queue behind one writer. A buyer's message to the agents
-- starts their reply wait, as `append_event` does on the full path.
CREATE TRIGGER conversation_events_advance AFTER INSERT ON conversation_events
BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_activity_at = NEW.at,
        buyer_waiting_since = CASE
            WHEN buyer_waiting_since IS NULL AND NEW.sender = 'buyer' AND state IN ('queued', 'assigned')
                 AND json_extract(NEW.body, '$.kind') = 'message'
            THEN NEW.at ELSE buyer_waiting_since END
    WHERE id = NEW.conversation_id AND last_seq < NEW.seq;
END;
