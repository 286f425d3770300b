-- What each API key may do: space-separated scopes (server/auth/policy.py KeyScope).
-- A key stored without scopes may do nothing (the column's lasting default)...
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
-- ...while every key made before scopes could read, create and change visits, and keeps that.
UPDATE api_keys SET scopes = 'visits:read visits:create visits:change';
