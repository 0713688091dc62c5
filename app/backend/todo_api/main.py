"""The FastAPI application: health, readiness, Todo CRUD scoped to the JWT's user, and chat."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import __version__
from .auth import User, current_user
from .chat import UNAVAILABLE_MESSAGE, ChatError, CohereChat
from .config import Settings, load_settings
from .db import Database, Todo

log = logging.getLogger("todo_api")

TITLE_MAX = 500
# Stripped from both ends of a title, the same set as the frontend's trimTitle()
# (app/frontend/lib/titles.ts): JavaScript's String.trim() set (which has U+FEFF) plus what
# Python's str.strip() adds to it (U+001C..U+001F, U+0085). A title the page accepts is one the
# API accepts, and the other way round.
TITLE_BLANKS = (
    "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------
class _TitleMixin(BaseModel):
    @field_validator("title", check_fields=False)
    @classmethod
    def _strip_title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip(TITLE_BLANKS)
        if not value:
            raise ValueError("title must not be blank")
        return value


class TodoCreate(_TitleMixin):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    completed: bool = False


class TodoUpdate(_TitleMixin):
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    completed: bool | None = None


class TodoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    completed: bool


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=4000)


class ChatOut(BaseModel):
    reply: str


class ChatStatus(BaseModel):
    available: bool
    detail: str


# ---------------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------------
def get_session(request: Request) -> Iterator[Session]:
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
UserDep = Annotated[User, Depends(current_user)]


def _owned_todo(session: Session, user: User, todo_id: int) -> Todo:
    todo = session.get(Todo, todo_id)
    if todo is None or todo.user_id != user.id:  # someone else's todo does not exist for you
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Todo not found")
    return todo


# ---------------------------------------------------------------------------------------------
# Application factory
# ---------------------------------------------------------------------------------------------
def create_app(
    settings: Settings | None = None,
    chat_transport: httpx.BaseTransport | None = None,
) -> FastAPI:
    """Build the app. ``chat_transport`` lets tests replace Cohere's HTTP boundary."""
    settings = settings or load_settings()
    database = Database(settings.database_url)
    chat = (
        CohereChat(
            settings.cohere_api_key,
            settings.cohere_model,
            settings.cohere_base_url,
            transport=chat_transport,
        )
        if settings.cohere_api_key
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Tables are created at start-up; if the database is not reachable yet the process still
        # starts (liveness stays green), /ready answers 503 and creation is retried later.
        database.try_ensure_schema()
        log.info(
            "todo-api %s started (database: %s, chat: %s)",
            __version__,
            database.backend_name,
            "on" if chat else "off",
        )
        yield
        if chat is not None:
            chat.close()
        database.dispose()

    app = FastAPI(title="Todo API", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.database = database
    app.state.chat = chat

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: cheap, never touches the database."""
        return {"status": "healthy"}

    @app.get("/ready", responses={503: {"description": "Database not reachable"}})
    def ready() -> JSONResponse:
        """Readiness: the database answers."""
        if database.ping():
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"status": "unavailable", "detail": "database is not reachable"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/api/todos")
    def list_todos(user: UserDep, session: SessionDep) -> list[TodoOut]:
        rows = session.scalars(select(Todo).where(Todo.user_id == user.id).order_by(Todo.id))
        return [TodoOut.model_validate(row) for row in rows]

    @app.post("/api/todos", status_code=status.HTTP_201_CREATED)
    def create_todo(body: TodoCreate, user: UserDep, session: SessionDep) -> TodoOut:
        todo = Todo(user_id=user.id, title=body.title, completed=body.completed)
        session.add(todo)
        session.commit()
        return TodoOut.model_validate(todo)

    @app.get("/api/todos/{todo_id}")
    def get_todo(todo_id: int, user: UserDep, session: SessionDep) -> TodoOut:
        return TodoOut.model_validate(_owned_todo(session, user, todo_id))

    @app.patch("/api/todos/{todo_id}")
    def update_todo(todo_id: int, body: TodoUpdate, user: UserDep, session: SessionDep) -> TodoOut:
        todo = _owned_todo(session, user, todo_id)
        if body.title is not None:
            todo.title = body.title
        if body.completed is not None:
            todo.completed = body.completed
        session.commit()
        return TodoOut.model_validate(todo)

    @app.delete("/api/todos/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_todo(todo_id: int, user: UserDep, session: SessionDep) -> Response:
        session.delete(_owned_todo(session, user, todo_id))
        session.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/api/chat")
    def chat_status() -> ChatStatus:
        """Whether chat is configured, so a UI can disable its chat box with a clear note."""
        if chat is None:
            return ChatStatus(available=False, detail=UNAVAILABLE_MESSAGE)
        return ChatStatus(available=True, detail="Chat is available.")

    @app.post(
        "/api/chat",
        responses={503: {"description": "COHERE_API_KEY is not set"}, 502: {}},
    )
    def post_chat(body: ChatIn, user: UserDep, session: SessionDep) -> ChatOut:
        if chat is None:
            raise HTTPException(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=UNAVAILABLE_MESSAGE
            )
        todos = session.execute(
            select(Todo.title, Todo.completed).where(Todo.user_id == user.id).order_by(Todo.id)
        ).all()
        try:
            reply = chat.reply(body.message, [(t, bool(c)) for t, c in todos])
        except ChatError as exc:
            raise HTTPException(status_code=status.HTTP_502_BAD_GATEWAY, detail=str(exc)) from None
        return ChatOut(reply=reply)

    return app
