-- Chat records search (SPEC §5.5), SQLite flavour.
--
-- message_search: an FTS5 index of the messages people and the bot wrote, keyed by the
-- conversation_events rowid and written in the same transaction as the event. It is
-- contentless: it keeps the terms' lists, not the texts (those are in conversation_events).
-- The terms are made in Rust (jieba over the folded text, `kefu_bot::search_terms`), joined
-- by spaces; the `ascii` tokenizer then only splits at those spaces (every non-ASCII character
-- is a token character), so a Chinese word is one token. Each row also carries marker tokens
-- no query term can be (`§` is no letter or digit, and query terms are only those):
-- `§s<shop id>`; `§y<yyyy>`, `§m<yyyymm>` and `§d<yyyymmdd>` (the message's year, month and
-- day, UTC); `§b<the buyer's nick in hex>`, so that the index itself narrows a search to the
-- shop, a time range and a buyer.
-- detail=none: rowids only (queries are terms AND-ed, never phrases).
CREATE VIRTUAL TABLE message_search USING fts5(
    terms, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);

-- The months (yyyymm, UTC) each shop has indexed messages in, written with them: a search in
-- a time range narrows by the marks of those months (or whole years, or a few days) it touches.
CREATE TABLE search_months (
    shop_id  BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    month    INTEGER NOT NULL,
    PRIMARY KEY (shop_id, month)
) WITHOUT ROWID;

-- An event leaves the index with it (a shop's removal cascades to its chats): its rowid,
-- reused, would otherwise be found by the old message's words.
CREATE TRIGGER conversation_events_unindex AFTER DELETE ON conversation_events
BEGIN
    DELETE FROM message_search WHERE rowid = OLD.rowid;
END;

-- Every agent a conversation was ever assigned to (routing or 转接): an agent searches those.
CREATE TABLE conversation_agents (
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    account_id       BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, account_id)
) WITHOUT ROWID;
CREATE INDEX conversation_agents_account ON conversation_agents (account_id);

INSERT OR IGNORE INTO conversation_agents (conversation_id, account_id)
SELECT e.conversation_id, a.id
FROM conversation_events e
JOIN accounts a ON a.id = unhex(replace(
    CASE json_extract(e.body, '$.kind') WHEN 'assigned' THEN json_extract(e.body, '$.agent_id')
                                        ELSE json_extract(e.body, '$.to') END, '-', ''))
WHERE json_extract(e.body, '$.kind') IN ('assigned', 'transferred');

-- Conversations whose events, up to up_to_seq, were stored before the index existed: the
-- store indexes them in the background after opening, a few at a time, and removes the row
-- in the same transaction.
CREATE TABLE search_backfill (
    conversation_id  BLOB PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    up_to_seq        INTEGER NOT NULL
);
INSERT INTO search_backfill (conversation_id, up_to_seq)
SELECT id, last_seq FROM conversations WHERE last_seq > 0;

-- The version of the search terms (kefu_bot::search_terms::VERSION) the index holds: a store
-- opening with another one empties the index and lists every conversation above.
CREATE TABLE search_meta (terms_version BIGINT NOT NULL);
INSERT INTO search_meta (terms_version) VALUES (1);
