-- Real-time chat (SPEC §2), PostgreSQL flavour: conversations, their numbered events, agents'
-- presence, and the counted events statistics are computed from.

CREATE TABLE conversations (
    id                   UUID PRIMARY KEY,
    shop_id              UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    visitor              TEXT NOT NULL,
    buyer_nick           TEXT NOT NULL,
    channel              TEXT NOT NULL,
    skill_group          TEXT,
    state                TEXT NOT NULL CHECK (state IN ('bot', 'queued', 'assigned', 'closed')),
    agent_id             UUID REFERENCES accounts(id) ON DELETE SET NULL,
    last_seq             BIGINT NOT NULL,
    buyer_read_seq       BIGINT NOT NULL,
    agent_read_seq       BIGINT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    queued_at            TIMESTAMPTZ,
    assigned_at          TIMESTAMPTZ,
    closed_at            TIMESTAMPTZ,
    buyer_waiting_since  TIMESTAMPTZ,
    agent_answered       BOOLEAN NOT NULL,
    last_activity_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversations_visitor ON conversations (shop_id, visitor, created_at);
CREATE INDEX conversations_state ON conversations (shop_id, state, queued_at);
CREATE INDEX conversations_agent ON conversations (agent_id, state);
CREATE INDEX conversations_activity ON conversations (state, last_activity_at);

CREATE TABLE conversation_events (
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    shop_id          UUID NOT NULL,
    sender           TEXT NOT NULL CHECK (sender IN ('buyer', 'agent', 'bot', 'system')),
    sender_id        UUID,
    client_id        TEXT,
    body             JSONB NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- A client's retry of a message is recognised by its id, per conversation and sender.
CREATE UNIQUE INDEX conversation_events_client
    ON conversation_events (conversation_id, sender, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE agent_presence (
    account_id  UUID PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    shop_id     UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('online', 'suspended', 'offline')),
    since       TIMESTAMPTZ NOT NULL,
    idle_since  TIMESTAMPTZ NOT NULL
);

CREATE TABLE stat_events (
    id               UUID PRIMARY KEY,
    shop_id          UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    conversation_id  UUID,
    account_id       UUID,
    value_ms         BIGINT,
    data             TEXT
);
CREATE INDEX stat_events_shop ON stat_events (shop_id, kind, at);
