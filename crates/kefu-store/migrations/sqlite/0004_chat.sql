-- Real-time chat (SPEC §2), SQLite flavour: conversations, their numbered events, agents'
-- presence, and the counted events statistics are computed from.

CREATE TABLE conversations (
    id                   BLOB PRIMARY KEY,
    shop_id              BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    visitor              TEXT NOT NULL,
    buyer_nick           TEXT NOT NULL,
    channel              TEXT NOT NULL,
    skill_group          TEXT,
    state                TEXT NOT NULL CHECK (state IN ('bot', 'queued', 'assigned', 'closed')),
    agent_id             BLOB REFERENCES accounts(id) ON DELETE SET NULL,
    last_seq             INTEGER NOT NULL,
    buyer_read_seq       INTEGER NOT NULL,
    agent_read_seq       INTEGER NOT NULL,
    created_at           TEXT NOT NULL,
    queued_at            TEXT,
    assigned_at          TEXT,
    closed_at            TEXT,
    buyer_waiting_since  TEXT,
    agent_answered       BOOLEAN NOT NULL,
    last_activity_at     TEXT NOT NULL
);
CREATE INDEX conversations_visitor ON conversations (shop_id, visitor, created_at);
CREATE INDEX conversations_state ON conversations (shop_id, state, queued_at);
CREATE INDEX conversations_agent ON conversations (agent_id, state);
CREATE INDEX conversations_activity ON conversations (state, last_activity_at);

CREATE TABLE conversation_events (
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    shop_id          BLOB NOT NULL,
    sender           TEXT NOT NULL CHECK (sender IN ('buyer', 'agent', 'bot', 'system')),
    sender_id        BLOB,
    client_id        TEXT,
    body             TEXT NOT NULL,
    at               TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- A client's retry of a message is recognised by its id, per conversation and sender.
CREATE UNIQUE INDEX conversation_events_client
    ON conversation_events (conversation_id, sender, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE agent_presence (
    account_id  BLOB PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('online', 'suspended', 'offline')),
    since       TEXT NOT NULL,
    idle_since  TEXT NOT NULL
);

CREATE TABLE stat_events (
    id               BLOB PRIMARY KEY,
    shop_id          BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    at               TEXT NOT NULL,
    conversation_id  BLOB,
    account_id       BLOB,
    value_ms         INTEGER,
    data             TEXT
);
CREATE INDEX stat_events_shop ON stat_events (shop_id, kind, at);
