-- Webhooks (SPEC §7.2): a shop's endpoints, the deliveries queued for them (the outbox every
-- node works from) and each try's outcome (the delivery log).
CREATE TABLE webhooks (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- Subscribed event types, comma-separated with a comma at each end: ',order.updated,'.
    events      TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (id, shop_id)
);
CREATE INDEX webhooks_shop ON webhooks (shop_id);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    shop_id          BLOB NOT NULL,
    webhook_id       BLOB NOT NULL,
    event_id         BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    -- The exact body sent (and signed) on every try.
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    -- A node's claim: until then nobody else tries it; the token says whose it is.
    claimed_until    TEXT,
    claim_token      BLOB,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    FOREIGN KEY (webhook_id, shop_id) REFERENCES webhooks(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id  BLOB NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    status_code  INTEGER,
    duration_ms  INTEGER NOT NULL,
    error        TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- E-mail (SPEC §7.3): mails waiting to go out over SMTP, claimed like deliveries so that
-- one node sends each once.
CREATE TABLE mail_outbox (
    id               BLOB PRIMARY KEY,
    shop_id          BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('leave_message', 'transcript')),
    -- The conversation a transcript is of (its hourly limit counts these).
    conversation_id  BLOB,
    to_addr          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text_body        TEXT NOT NULL,
    html_body        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    claimed_until    TEXT,
    claim_token      BLOB,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_conversation ON mail_outbox (conversation_id, created_at);
