"""Use cases of identity: register, log in, refresh (with rotation), authenticate, look up.

Failures of credentials all raise the same :class:`NotAuthenticated` with the same message, and an
unknown email costs as much time as a wrong password (a hash is verified either way), so neither
the answer nor its timing tells an attacker which emails have accounts.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from attrs import define, field

from airline_core.errors import AlreadyExists, FieldError, NotAuthenticated
from airline_core.identity.model import (
    Principal,
    RefreshToken,
    RefreshUse,
    Role,
    TokenPair,
    User,
    normalize_email,
    reveal_to,
)
from airline_core.identity.passwords import check_password
from airline_core.ids import new_id
from airline_core.pagination import KeysetWindow, Page, PageRequest, make_page
from airline_core.ports import AccessTokens, Clock, PasswordHasher, RefreshTokenStore, UserStore

__all__ = ["BAD_CREDENTIALS", "Accounts", "hash_refresh_token"]

#: The one answer for every failed login or refresh.
BAD_CREDENTIALS = "the credentials are not valid"
_FIRST_PAGE = PageRequest()


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are 256 random bits, so a fast hash is enough to keep them useless if the
    table leaks (no dictionary to try)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user_key(user: User) -> tuple[str]:
    return (user.id,)


@define
class Accounts:
    users: UserStore
    refresh_tokens: RefreshTokenStore
    hasher: PasswordHasher
    access_tokens: AccessTokens
    clock: Clock
    refresh_lifetime: timedelta = timedelta(days=30)
    _decoy_hash: str | None = field(default=None, init=False)

    async def register(
        self, *, email: str, password: str, name: str, role: Role = Role.CUSTOMER
    ) -> User:
        """Create an account.

        :raises InvalidRequest: a bad email or name, or a weak password (field ``password``).
        :raises AlreadyExists: the email has an account (field ``email``).
        """
        email = normalize_email(email)
        check_password(password, email)
        # Validate the rest before paying for a hash.
        User(
            id=new_id(),
            email=email,
            name=name,
            role=role,
            password_hash="",
            created_at=self.clock.now(),
        )
        if await self.users.find_by_email(email) is not None:
            raise AlreadyExists(
                "an account with that email exists", errors=[FieldError("email", "is taken")]
            )
        user = User(
            id=new_id(),
            email=email,
            name=name,
            role=role,
            password_hash=await self.hasher.hash(password),
            created_at=self.clock.now(),
        )
        await self.users.add(user)
        return user

    async def login(self, email: str, password: str) -> TokenPair:
        """:raises NotAuthenticated: unknown email or wrong password (one answer for both)."""
        user = await self.users.find_by_email(normalize_email(email))
        if user is None:
            await self.hasher.verify(await self._decoy(), password)
            raise NotAuthenticated(BAD_CREDENTIALS)
        if not await self.hasher.verify(user.password_hash, password):
            raise NotAuthenticated(BAD_CREDENTIALS)
        if self.hasher.needs_rehash(user.password_hash):
            await self.users.set_password_hash(user.id, await self.hasher.hash(password))
        return await self._issue(user, family_id=new_id())

    async def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = await self.hasher.hash(secrets.token_urlsafe(16))
        return self._decoy_hash

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair; the presented token stops working.

        :raises NotAuthenticated: the token is unknown, expired or revoked; or it was used
            before, in which case its whole family is revoked (a stolen token was replayed).
        """
        now = self.clock.now()
        outcome, token = await self.refresh_tokens.use(hash_refresh_token(refresh_token), now)
        if outcome is RefreshUse.REUSED and token is not None:
            await self.refresh_tokens.revoke_family(token.family_id, now)
        if outcome is not RefreshUse.ROTATED or token is None:
            raise NotAuthenticated(BAD_CREDENTIALS)
        user = await self.users.get(token.user_id)
        return await self._issue(user, family_id=token.family_id)

    async def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to (its whole family). Unknown tokens are
        ignored: logging out twice is not an error."""
        now = self.clock.now()
        outcome, token = await self.refresh_tokens.use(hash_refresh_token(refresh_token), now)
        if token is not None and outcome is not RefreshUse.INVALID:
            await self.refresh_tokens.revoke_family(token.family_id, now)

    async def _issue(self, user: User, *, family_id: str) -> TokenPair:
        now = self.clock.now()
        refresh_token = secrets.token_urlsafe(32)
        await self.refresh_tokens.add(
            RefreshToken(
                token_hash=hash_refresh_token(refresh_token),
                family_id=family_id,
                user_id=user.id,
                issued_at=now,
                expires_at=now + self.refresh_lifetime,
            )
        )
        access_token, expires_in = self.access_tokens.issue(
            Principal(user_id=user.id, role=user.role), now
        )
        return TokenPair(
            access_token=access_token, refresh_token=refresh_token, expires_in=expires_in
        )

    def authenticate(self, access_token: str) -> Principal:
        """:raises NotAuthenticated: the token is not one of ours, or has expired."""
        return self.access_tokens.verify(access_token)

    async def get(self, user_id: str, principal: Principal | None) -> User:
        """The user, if ``principal`` is that user or an admin; otherwise NotFound."""
        reveal_to(principal, user_id, "user")
        return await self.users.get(user_id)

    async def list(self, page: PageRequest = _FIRST_PAGE) -> Page[User]:
        """Every account, oldest first (an admin's view: guard it at the edge)."""
        window = KeysetWindow.open(page, "users")
        return make_page(await self.users.list(window), window, _user_key, "users")

    async def create_admin(self, *, email: str, password: str, name: str) -> User:
        """An admin account (for ``airline users create-admin``)."""
        return await self.register(email=email, password=password, name=name, role=Role.ADMIN)
