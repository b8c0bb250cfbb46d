-- Accounts and access: passwords, login sessions, personal API tokens, and the failed
-- logins that rate-limit guessing. No secret is stored as it was given: passwords as
-- argon2id hashes, session ids and API tokens as SHA-256 digests (they are random and
-- long, so a digest suffices and can be looked up).

ALTER TABLE users ADD COLUMN password_hash text;  -- NULL: this user cannot log in

CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,                  -- SHA-256 of the cookie's value
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,                     -- sent back in X-CSRF-Token on changes
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,              -- the idle expiry counts from here
    expires_at   timestamptz NOT NULL               -- the absolute expiry
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,                     -- the token's first characters, to recognise it
    token_hash   text NOT NULL UNIQUE,              -- SHA-256 of the token
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

-- One row per failed login, counted over a sliding window per account (the e-mail address
-- as typed, lower-cased, whether or not a user has it) and per client address. In the
-- database so that every gateway replica counts the same attempts.
CREATE TABLE login_failures (
    id      bigserial PRIMARY KEY,
    account text NOT NULL,
    address text NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, at);
CREATE INDEX login_failures_address ON login_failures (address, at);
CREATE INDEX login_failures_at ON login_failures (at);
