"""SQLAlchemy stores for users and refresh tokens (contracts in :mod:`airline_core.ports`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from attrs import define
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.errors import NotFound
from airline_core.identity.model import RefreshToken, RefreshUse, Role, User
from airline_core.pagination import KeysetWindow
from airline_runtime.db.engine import Database, integrity_errors
from airline_runtime.db.keysets import keyset, window_key
from airline_runtime.db.tables import refresh_tokens, users

__all__ = ["SQLAlchemyRefreshTokenStore", "SQLAlchemyUserStore"]


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        created_at=row.created_at,
    )


@define
class SQLAlchemyUserStore:
    db: Database

    async def add(self, user: User) -> None:
        with integrity_errors(duplicate="an account with that email exists"):
            await self.db.execute(
                users.insert().values(
                    id=user.id,
                    email=user.email,
                    name=user.name,
                    role=user.role.value,
                    password_hash=user.password_hash,
                    created_at=user.created_at,
                )
            )

    async def get(self, user_id: str) -> User:
        async with self.db.read() as connection:
            row = (await connection.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound(f"no user has id {user_id}")
        return _user(row)

    async def find_by_email(self, email: str) -> User | None:
        async with self.db.read() as connection:
            row = (await connection.execute(select(users).where(users.c.email == email))).first()
        return None if row is None else _user(row)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        statement = update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        if not await self.db.execute(statement):
            raise NotFound(f"no user has id {user_id}")

    async def set_role(self, user_id: str, role: Role) -> None:
        statement = update(users).where(users.c.id == user_id).values(role=role.value)
        if not await self.db.execute(statement):
            raise NotFound(f"no user has id {user_id}")

    async def list(self, window: KeysetWindow) -> Sequence[User]:
        query = keyset(select(users), [users.c.id], window, window_key(window))
        async with self.db.read() as connection:
            return [_user(row) for row in await connection.execute(query)]


def _token(row: Any) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        family_id=row.family_id,
        user_id=row.user_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
    )


@define
class SQLAlchemyRefreshTokenStore:
    db: Database

    async def add(self, token: RefreshToken) -> None:
        await self.db.execute(
            refresh_tokens.insert().values(
                token_hash=token.token_hash,
                family_id=token.family_id,
                user_id=token.user_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
            )
        )

    async def use(self, token_hash: str, now: datetime) -> tuple[RefreshUse, RefreshToken | None]:
        # Compare-and-set: of two concurrent uses only one updates the row; the other then sees
        # it used and reports a reuse.
        async def work(connection: AsyncConnection) -> tuple[RefreshUse, RefreshToken | None]:
            claimed = await connection.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.token_hash == token_hash,
                        refresh_tokens.c.used_at.is_(None),
                        refresh_tokens.c.revoked_at.is_(None),
                        refresh_tokens.c.expires_at > now,
                    )
                )
                .values(used_at=now)
            )
            row = (
                await connection.execute(
                    select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
                )
            ).first()
            if row is None:
                return RefreshUse.INVALID, None
            if claimed.rowcount == 1:
                return RefreshUse.ROTATED, _token(row)
            if row.revoked_at is None and row.used_at is not None and row.expires_at > now:
                return RefreshUse.REUSED, _token(row)
            return RefreshUse.INVALID, None

        return await self.db.write(work)

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.db.execute(
            update(refresh_tokens)
            .where(
                and_(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            )
            .values(revoked_at=now)
        )
