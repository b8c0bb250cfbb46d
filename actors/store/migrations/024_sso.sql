-- Single sign-on with OpenID Connect: who a user is at the identity provider, which users
-- may still log in with a password when passwords are kept for break-glass accounts only,
-- and the sign-ins under way at the provider.

-- The provider's issuer and subject identify the person for good (an e-mail address can
-- change hands); set at their first sign-in.
ALTER TABLE users ADD COLUMN oidc_issuer text;
ALTER TABLE users ADD COLUMN oidc_subject text;
ALTER TABLE users ADD CONSTRAINT users_oidc_both CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;
-- With TOCSIN_LOCAL_PASSWORDS=break-glass only these users may log in with a password.
ALTER TABLE users ADD COLUMN break_glass boolean NOT NULL DEFAULT false;

-- A sign-in sent to the provider and not yet back: found by the digest of its `state` and
-- of a cookie only the browser that started it holds, deleted when it comes back there (so
-- a callback URL works once, and in that browser only).
CREATE TABLE sso_sign_ins (
    state_hash    text PRIMARY KEY,
    browser_hash  text NOT NULL,
    nonce         text NOT NULL,                     -- must come back in the ID token
    code_verifier text NOT NULL,                     -- PKCE: proves the code is ours to redeem
    next_page     text NOT NULL,                     -- the dashboard page to land on once signed in
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sso_sign_ins_expiry ON sso_sign_ins (expires_at);
