-- The smart bot (SPEC §1.1–1.5, §1.7), SQLite flavour.

-- Hit counts and "was this helpful" per entry; a standard question is unique in its shop,
-- which is also how an import recognises an entry it already has.
ALTER TABLE kb_entries ADD COLUMN hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kb_entries ADD COLUMN helpful INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kb_entries ADD COLUMN unhelpful INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX kb_entries_question ON kb_entries (shop_id, question);

-- The shop's dictionary and synonyms, and a version bumped by every change the bot must
-- see (knowledge base, lexicon, settings), so that every node rebuilds its copy.
CREATE TABLE bot_state (
    shop_id   BLOB PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
    version   INTEGER NOT NULL,
    words     TEXT NOT NULL,
    synonyms  TEXT NOT NULL
);

CREATE TABLE bot_sessions (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    visitor     TEXT NOT NULL,
    failures    INTEGER NOT NULL,
    offered     TEXT NOT NULL,
    handed_off  BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (id, shop_id)
);

CREATE TABLE bot_questions (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL,
    session_id  BLOB NOT NULL,
    question    TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('answered', 'suggested', 'unknown', 'handoff')),
    entry_id    BLOB REFERENCES kb_entries(id) ON DELETE SET NULL,
    confidence  REAL NOT NULL,
    helpful     BOOLEAN,
    -- The buyer picked `entry_id` from the suggestions offered for this question.
    confirmed   BOOLEAN NOT NULL DEFAULT FALSE,
    resolved    BOOLEAN NOT NULL DEFAULT FALSE,
    asked_at    TEXT NOT NULL,
    FOREIGN KEY (session_id, shop_id) REFERENCES bot_sessions(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX bot_questions_open ON bot_questions (shop_id, resolved, asked_at);

CREATE TABLE leave_messages (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    session_id  BLOB REFERENCES bot_sessions(id) ON DELETE SET NULL,
    name        TEXT NOT NULL,
    contact     TEXT NOT NULL,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'done')),
    note        TEXT NOT NULL,
    handled_by  BLOB REFERENCES accounts(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    handled_at  TEXT
);
CREATE INDEX leave_messages_queue ON leave_messages (shop_id, status, created_at);

CREATE TABLE agent_replies (
    account_id  BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL,
    replies     TEXT NOT NULL,
    FOREIGN KEY (account_id, shop_id) REFERENCES accounts(id, shop_id) ON DELETE CASCADE
);
