-- One-time setup links: made by `tocsin up` when nobody can log in, they let the first admin
-- be created from a browser. Kept hashed, in the database so that every gateway replica can
-- check them; a link works once, before it expires, and only while still nobody can log in.
CREATE TABLE setup_tokens (
    token_hash text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
