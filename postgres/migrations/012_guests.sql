-- 012: guest accounts. Someone who opens an invite link may join the group without an email
-- or a password: a guest account, reached only through the session token its device keeps.
-- A guest has neither an email nor a password hash; a full account has both. Adding both
-- later (POST /api/v1/me/credentials) turns the guest into a full account in place, so its
-- memberships, expenses and token carry over. "guest" is derived (email IS NULL), never stored.
-- UNIQUE (email) stays: PostgreSQL lets any number of rows hold NULL there.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_credentials_both_or_neither
    CHECK ((email IS NULL) = (password_hash IS NULL));
