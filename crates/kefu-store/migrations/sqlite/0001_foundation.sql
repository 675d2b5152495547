-- kefu foundation schema, SQLite flavour. Every row belongs to a shop (shop_id).
-- Ids are UUIDv7 stored as 16-byte BLOBs; instants are UTC RFC 3339 TEXT; money is integer fen.

CREATE TABLE shops (
    id          BLOB PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE accounts (
    id            BLOB PRIMARY KEY,
    shop_id       BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'supervisor', 'agent')),
    skill_group   TEXT,
    takes_chats   BOOLEAN NOT NULL,
    capacity      INTEGER NOT NULL CHECK (capacity > 0),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (shop_id, username),
    UNIQUE (id, shop_id)
);
-- Exactly one owner per shop.
CREATE UNIQUE INDEX accounts_one_owner ON accounts (shop_id) WHERE role = 'owner';

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    account_id  BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    FOREIGN KEY (account_id, shop_id) REFERENCES accounts(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE login_failures (
    key              TEXT PRIMARY KEY,
    failures         INTEGER NOT NULL,
    last_failure_at  TEXT NOT NULL
);

CREATE TABLE products (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    sku         TEXT NOT NULL,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_fen   INTEGER NOT NULL CHECK (price_fen >= 0),
    stock       INTEGER NOT NULL,
    attributes  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (shop_id, sku)
);

CREATE TABLE customers (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    nick        TEXT NOT NULL,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (shop_id, nick),
    UNIQUE (id, shop_id)
);

CREATE TABLE orders (
    id                BLOB PRIMARY KEY,
    shop_id           BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    order_no          TEXT NOT NULL,
    customer_id       BLOB NOT NULL,
    state             TEXT NOT NULL,
    close_reason      TEXT,
    items             TEXT NOT NULL,
    shipping_fee_fen  INTEGER NOT NULL,
    address           TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    paid_at           TEXT,
    shipped_at        TEXT,
    completed_at      TEXT,
    closed_at         TEXT,
    UNIQUE (shop_id, order_no),
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id)
);
CREATE INDEX orders_shop_created ON orders (shop_id, created_at);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE kb_categories (
    id        BLOB PRIMARY KEY,
    shop_id   BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    position  INTEGER NOT NULL,
    UNIQUE (shop_id, name),
    UNIQUE (id, shop_id)
);

CREATE TABLE kb_entries (
    id           BLOB PRIMARY KEY,
    shop_id      BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    category_id  BLOB NOT NULL,
    question     TEXT NOT NULL,
    similar_questions TEXT NOT NULL,
    answer       TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    valid_from   TEXT,
    valid_until  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    FOREIGN KEY (category_id, shop_id) REFERENCES kb_categories(id, shop_id)
);
CREATE INDEX kb_entries_shop ON kb_entries (shop_id, category_id);
