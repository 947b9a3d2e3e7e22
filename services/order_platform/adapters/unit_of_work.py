"""The unit of work on PostgreSQL: one session's transaction on the writer pool, and the
repositories over it (the port is ``service_layer.unit_of_work``)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from order_platform.adapters.db import Database
from order_platform.adapters.orders import SqlOrders
from order_platform.adapters.outbox import SqlOutbox
from order_platform.adapters.processed_events import SqlProcessedEvents
from order_platform.adapters.products import SqlProducts
from order_platform.adapters.session import Session
from order_platform.service_layer.unit_of_work import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    """``UnitOfWork`` on one writer pool. Used by one thread at a time, block after block:
    each ``with uow:`` borrows a connection and gives it back at the end."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._session: Session | None = None

    def __enter__(self) -> Self:
        session = self._session = self._database.open_session()
        self.orders = SqlOrders(session)
        self.products = SqlProducts(session)
        self.outbox = SqlOutbox(session)
        self.processed_events = SqlProcessedEvents(session)
        return self

    def __exit__(self, kind: type[BaseException] | None, failure: BaseException | None,
                 traceback: TracebackType | None) -> None:
        session, self._session = self._session, None
        if session is not None:  # rolls back what was not committed, gives the connection back
            self._database.close_session(session, failure)

    def commit(self) -> None:
        """See ``UnitOfWork.commit``."""
        self._active().commit()

    def rollback(self) -> None:
        """See ``UnitOfWork.rollback``."""
        self._active().rollback()

    def _active(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `with uow:`")
        return self._session
