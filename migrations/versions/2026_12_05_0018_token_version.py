"""users.token_version: a password change refuses every token issued before it

Revision ID: 0018_token_version
Revises: 0017_national_communes
Create Date: 2026-12-05

Each token carries the user's ``token_version`` when it was issued (claim ``ver``); changing a
password (one's own or by an ADMIN) adds one to it, so every earlier token, tile tokens
included, is refused at its next use. Tokens issued before this migration carry no version and
count as 0, every user's first: they stay valid until the first password change.

``token_auth`` (migration 0012), the token check of the hot lead paths, takes the token's
version as a third argument: a token of another version is revoked. Its statements stay prepared
once per connection.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_token_version"
down_revision: str | None = "0017_national_communes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_AUTH = """
CREATE FUNCTION token_auth(
    p_user_id bigint, p_jti text, p_version integer, OUT role text, OUT revoked boolean
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_version integer;
BEGIN
    SELECT u.role, u.token_version INTO role, v_version
    FROM users u WHERE u.id = p_user_id AND u.is_active;
    -- Unknown or disabled user: role and v_version are NULL, only the jti can say revoked.
    revoked := coalesce(v_version <> p_version, false)
        OR EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = p_jti);
END
$$
"""

# Migration 0012's function, for the downgrade.
TOKEN_AUTH_0012 = """
CREATE FUNCTION token_auth(p_user_id bigint, p_jti text, OUT role text, OUT revoked boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT u.role INTO role FROM users u WHERE u.id = p_user_id AND u.is_active;
    revoked := EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = p_jti);
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute("DROP FUNCTION token_auth(bigint, text)")
    op.execute(TOKEN_AUTH)


def downgrade() -> None:
    op.execute("DROP FUNCTION token_auth(bigint, text, integer)")
    op.execute(TOKEN_AUTH_0012)
    op.drop_column("users", "token_version")
