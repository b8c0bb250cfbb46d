-- A personal API token may carry an expiry; past it, it is refused as a revoked one is.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;  -- NULL: until revoked
