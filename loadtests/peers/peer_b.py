"""Peer B: FastAPI + SQLAlchemy 2 async ORM (asyncpg driver), the same lookup and JSON.

PEER_DSN=postgresql://... uvicorn loadtests.peers.peer_b:app --workers 2
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from loadtests.peers.common import NOT_FOUND, answer, dsn


class Base(DeclarativeBase):
    pass


class Institution(Base):
    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str]
    name: Mapped[str]


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str]


class Certificate(Base):
    __tablename__ = "certificates"
    number: Mapped[str] = mapped_column(primary_key=True)
    holder_name: Mapped[str]
    id_type: Mapped[str]
    id_tail: Mapped[str]
    occupation_code: Mapped[str]
    occupation_name: Mapped[str]
    job: Mapped[str]
    level: Mapped[int | None]
    issue_date: Mapped[date]
    status: Mapped[str]
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))


engine = create_async_engine(dsn().replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=10)
Session = async_sessionmaker(engine, expire_on_commit=False)
STATEMENT = (
    select(Certificate, Institution.code, Institution.name)
    .join(Institution, Institution.id == Certificate.institution_id)
    .join(Batch, Batch.id == Certificate.batch_id)
    .where(Batch.state == "published")
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/n/{number}")
async def by_number(number: str) -> Any:
    session: AsyncSession
    async with Session() as session:
        found = (await session.execute(STATEMENT.where(Certificate.number == number))).first()
    if found is None:
        return JSONResponse(NOT_FOUND, status_code=404)
    cert, code, name = found
    row = {c: getattr(cert, c) for c in ("number", "holder_name", "id_type", "id_tail", "occupation_code",
                                          "occupation_name", "job", "level", "issue_date", "status")}  # fmt: skip
    return answer({**row, "issuer_code": code, "issuer_name": name})
