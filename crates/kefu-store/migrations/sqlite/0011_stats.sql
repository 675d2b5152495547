-- Statistics (SPEC §5): buyers' ratings at chat end (§5.6), one per chat, and an index for
-- counting agents' messages by time without scanning every buyer's.

CREATE TABLE chat_ratings (
    conversation_id  BLOB PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    shop_id          BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    account_id       BLOB REFERENCES accounts(id) ON DELETE SET NULL,
    score            INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment          TEXT NOT NULL,
    at               TEXT NOT NULL
);
CREATE INDEX chat_ratings_shop ON chat_ratings (shop_id, at);

CREATE INDEX conversation_events_agent_messages ON conversation_events (shop_id, at) WHERE sender = 'agent';
CREATE INDEX conversations_created ON conversations (shop_id, created_at);
CREATE INDEX bot_questions_asked ON bot_questions (shop_id, asked_at);
