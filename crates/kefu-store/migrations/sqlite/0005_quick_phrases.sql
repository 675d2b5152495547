-- Quick phrases (快捷短语, SPEC §2.7), SQLite flavour. A phrase with no owner is the team's;
-- one with an owner is that account's own and goes when the account goes.
CREATE TABLE quick_phrases (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    owner_id    BLOB,
    group_name  TEXT NOT NULL,
    shortcut    TEXT,
    text        TEXT NOT NULL,
    -- 0-based within (shop, owner, group), kept dense by the store; not unique, so that
    -- shifting a group never trips over itself halfway.
    position    INTEGER NOT NULL CHECK (position >= 0),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    FOREIGN KEY (owner_id, shop_id) REFERENCES accounts(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX quick_phrases_group ON quick_phrases (shop_id, owner_id, group_name, position);
-- A shortcut is unique among the team's phrases, and among each account's own; an account's
-- own may shadow the team's.
CREATE UNIQUE INDEX quick_phrases_team_shortcut ON quick_phrases (shop_id, shortcut)
    WHERE owner_id IS NULL AND shortcut IS NOT NULL;
CREATE UNIQUE INDEX quick_phrases_own_shortcut ON quick_phrases (shop_id, owner_id, shortcut)
    WHERE owner_id IS NOT NULL AND shortcut IS NOT NULL;
