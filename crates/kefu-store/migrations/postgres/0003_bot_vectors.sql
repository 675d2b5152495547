-- Sentence vectors of knowledge-base phrasings, by model and text, so that a restart or
-- another node does not embed them again (~20 ms each). Little-endian f32s.
CREATE TABLE bot_vectors (
    shop_id  UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    model    TEXT NOT NULL,
    text     TEXT NOT NULL,
    vector   BYTEA NOT NULL,
    PRIMARY KEY (shop_id, model, text)
);
