"""One contract for the user and refresh-token stores: memory, SQLite and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from airline_core import AlreadyExists, NotFound, PageRequest, Role, User
from airline_core.identity import RefreshToken, RefreshUse, hash_refresh_token
from airline_core.ids import new_id
from tests.conftest import TEST_NOW, Stores

pytestmark = pytest.mark.anyio


def user(email: str = "ann@example.org", role: Role = Role.CUSTOMER) -> User:
    return User(
        id=new_id(),
        email=email,
        name="Ann",
        role=role,
        password_hash="scrypt$16$1$1$x",
        created_at=TEST_NOW,
    )


def token(owner: User, family_id: str | None = None, *, days: int = 30) -> RefreshToken:
    return RefreshToken(
        token_hash=hash_refresh_token(new_id()),
        family_id=family_id or new_id(),
        user_id=owner.id,
        issued_at=TEST_NOW,
        expires_at=TEST_NOW + timedelta(days=days),
    )


async def test_user_round_trips(stores: Stores) -> None:
    ann = user()
    await stores.users.add(ann)
    assert await stores.users.get(ann.id) == ann
    assert await stores.users.find_by_email("ann@example.org") == ann
    assert await stores.users.find_by_email("bob@example.org") is None
    assert (await stores.users.get(ann.id)).created_at == TEST_NOW


async def test_email_is_unique_whatever_its_case(stores: Stores) -> None:
    await stores.users.add(user("ann@example.org"))
    with pytest.raises(AlreadyExists):
        await stores.users.add(user("ANN@Example.org"))


async def test_user_updates_and_missing(stores: Stores) -> None:
    ann = user()
    await stores.users.add(ann)
    await stores.users.set_password_hash(ann.id, "scrypt$32$1$1$y")
    await stores.users.set_role(ann.id, Role.ADMIN)
    stored = await stores.users.get(ann.id)
    assert (stored.password_hash, stored.role) == ("scrypt$32$1$1$y", Role.ADMIN)
    missing = new_id()
    for action in (
        stores.users.get(missing),
        stores.users.set_password_hash(missing, "x"),
        stores.users.set_role(missing, Role.ADMIN),
    ):
        with pytest.raises(NotFound):
            await action


async def test_users_page_in_creation_order(stores: Stores) -> None:
    people = [user(f"user{index}@example.org") for index in range(5)]
    for person in people:
        await stores.users.add(person)
    seen = []
    page = await stores.airline.accounts.list(PageRequest(limit=2))
    seen.extend(page.items)
    while page.after is not None:
        page = await stores.airline.accounts.list(PageRequest(limit=2, after=page.after))
        seen.extend(page.items)
    assert [person.id for person in seen] == [person.id for person in people]


async def test_refresh_token_rotates_once(stores: Stores) -> None:
    ann = user()
    await stores.users.add(ann)
    first = token(ann)
    await stores.refresh_tokens.add(first)
    assert await stores.refresh_tokens.use(first.token_hash, TEST_NOW) == (
        RefreshUse.ROTATED,
        first,
    )
    assert await stores.refresh_tokens.use(first.token_hash, TEST_NOW) == (
        RefreshUse.REUSED,
        first,
    )
    assert await stores.refresh_tokens.use(hash_refresh_token("unknown"), TEST_NOW) == (
        RefreshUse.INVALID,
        None,
    )


async def test_expired_and_revoked_tokens_are_invalid(stores: Stores) -> None:
    ann = user()
    await stores.users.add(ann)
    expired = token(ann, days=1)
    await stores.refresh_tokens.add(expired)
    later = TEST_NOW + timedelta(days=2)
    assert await stores.refresh_tokens.use(expired.token_hash, later) == (RefreshUse.INVALID, None)
    family = new_id()
    used, fresh = token(ann, family), token(ann, family)
    other = token(ann)
    for each in (used, fresh, other):
        await stores.refresh_tokens.add(each)
    await stores.refresh_tokens.use(used.token_hash, TEST_NOW)
    await stores.refresh_tokens.revoke_family(family, TEST_NOW)
    assert await stores.refresh_tokens.use(fresh.token_hash, TEST_NOW) == (RefreshUse.INVALID, None)
    assert await stores.refresh_tokens.use(used.token_hash, TEST_NOW) == (RefreshUse.INVALID, None)
    assert (await stores.refresh_tokens.use(other.token_hash, TEST_NOW))[0] is RefreshUse.ROTATED


async def test_concurrent_uses_rotate_exactly_once(stores: Stores) -> None:
    ann = user()
    await stores.users.add(ann)
    contested = token(ann)
    await stores.refresh_tokens.add(contested)
    outcomes: list[RefreshUse] = []

    async def use() -> None:
        outcome, _ = await stores.refresh_tokens.use(contested.token_hash, TEST_NOW)
        outcomes.append(outcome)

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(use)
    assert sorted(outcomes) == sorted([RefreshUse.ROTATED] + [RefreshUse.REUSED] * 7)
