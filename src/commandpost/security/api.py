"""Token endpoints (admin) and ``whoami``."""

from __future__ import annotations

from fastapi import APIRouter

from commandpost.deps import Admin, Reader, RowId
from commandpost.policy import service as policy_service
from commandpost.security import service
from commandpost.security.schemas import TokenCreated, TokenIn, TokenOut, WhoAmI

router = APIRouter(prefix="/api/v1", tags=["security"])


@router.get("/whoami", response_model=WhoAmI)
def whoami(ctx: Reader) -> WhoAmI:
    p = ctx.principal
    return WhoAmI(person=p.person, scope=p.scope, token_id=p.token_id)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(ctx: Admin) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in service.list_tokens(ctx.session)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, ctx: Admin) -> TokenCreated:
    row, plaintext = service.create_token(
        ctx.session,
        person=body.person,
        scope=body.scope,
        name=body.name,
        now=ctx.now,
        people=policy_service.people_handles(ctx.session),
    )
    ctx.audit_target(f"token:{row.id}", person=row.person, scope=row.scope)
    return TokenCreated.model_validate({**TokenOut.model_validate(row).model_dump(), "token": plaintext})


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: RowId, ctx: Admin) -> TokenOut:
    row = service.revoke_token(ctx.session, token_id=token_id, now=ctx.now)
    ctx.audit_target(f"token:{row.id}")
    return TokenOut.model_validate(row)
