-- Chat records search (SPEC §5.5), PostgreSQL flavour.
--
-- message_search: one row per message people and the bot wrote, written in the same
-- transaction as the event. The terms are made in Rust (jieba over the folded text,
-- `kefu_bot::search_terms`), joined by spaces, and stored as to_tsvector('simple', …): the
-- 'simple' configuration only lower-cases, so a Chinese word stays one lexeme. Queries are
-- plainto_tsquery('simple', <the query's terms>): every term must occur. Results are newest
-- first by (at, id), which pages them; the shop's messages by time are an index, so a time
-- range or a common word reads only the page it needs.
CREATE TABLE message_search (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  UUID NOT NULL,
    seq              BIGINT NOT NULL,
    shop_id          UUID NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    terms            TSVECTOR NOT NULL,
    UNIQUE (conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES conversation_events (conversation_id, seq) ON DELETE CASCADE
);
CREATE INDEX message_search_terms ON message_search USING GIN (terms);
CREATE INDEX message_search_time ON message_search (shop_id, at, id);

-- A buyer's chats, for search by buyer.
CREATE INDEX conversations_buyer ON conversations (shop_id, buyer_nick);

-- Every agent a conversation was ever assigned to (routing or 转接): an agent searches those.
CREATE TABLE conversation_agents (
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    account_id       UUID NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, account_id)
);
CREATE INDEX conversation_agents_account ON conversation_agents (account_id);

INSERT INTO conversation_agents (conversation_id, account_id)
SELECT DISTINCT e.conversation_id, a.id
FROM conversation_events e
JOIN accounts a ON a.id::text = CASE e.body->>'kind' WHEN 'assigned' THEN e.body->>'agent_id' ELSE e.body->>'to' END
WHERE e.body->>'kind' IN ('assigned', 'transferred')
ON CONFLICT DO NOTHING;

-- Conversations whose events, up to up_to_seq, were stored before the index existed: the
-- store indexes them in the background after opening, a few at a time, and removes the row
-- in the same transaction.
CREATE TABLE search_backfill (
    conversation_id  UUID PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    up_to_seq        BIGINT NOT NULL
);
INSERT INTO search_backfill (conversation_id, up_to_seq)
SELECT id, last_seq FROM conversations WHERE last_seq > 0;

-- The version of the search terms (kefu_bot::search_terms::VERSION) the index holds: a store
-- opening with another one empties the index and lists every conversation above.
CREATE TABLE search_meta (terms_version BIGINT NOT NULL);
INSERT INTO search_meta (terms_version) VALUES (1);
