"""SQL written out for the hottest statements, with the ORM's conversions (P11, P7).

The ORM spends several times longer composing a simple statement, and instantiating wide rows,
than the database spends running it. The apps' lifecycle moves (orders/services/sql.py,
dispatch/services/sql.py) write those few statements once, as plain SQL that PostgreSQL and
SQLite both run. This module is what they share: every value prepared by its model field for
the backend at hand, every column read back through the field's converters, as the ORM would
(`Rows`), multi-row INSERTs and UPDATEs by id, and several writes in one round trip (`run`).

On PostgreSQL each of these statements is prepared once per database session and then sent as
EXECUTE (`_sent`): the server parses and plans it once, not at every call (planning took as long
as running for the simulated day's statements, P11). Set SPARK_SQL_PREPARE=false behind a
pooler that does not keep sessions (PgBouncer in transaction mode).
"""

import hashlib
import logging
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    FileField,
    FloatField,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
    UUIDField,
    signals,
)
from django.db.models.base import ModelState

logger = logging.getLogger(__name__)


def marks(n: int) -> str:
    return ", ".join(["%s"] * n)


# From this many values on, `any_of` sends one array on PostgreSQL rather than an IN list.
ANY_FROM = 16


def any_of(column: str, values: Iterable[object]) -> tuple[str, list[object]]:
    """`column` is one of `values`, as SQL and its parameters.

    A short list is an IN list (`IN (%s, %s)`): one prepared statement per length, whose
    generic plan PostgreSQL soon uses, as it knows how many values come. From ANY_FROM values
    on, PostgreSQL gets one array parameter (`= ANY(%s)`): a round's hundreds of drivers are
    then one prepared statement, not one per length each planned at every call (a short list
    stays an IN list because PostgreSQL guesses ten values for an array it has not seen, and
    so re-plans a one-order move at every call rather than trust that guess). SQLite always
    gets the IN list, and takes an empty one (which matches nothing)."""
    values = list(values)
    if connection.vendor == "postgresql" and len(values) >= ANY_FROM:
        return f"{column} = ANY(%s)", [values]
    if not values and connection.vendor == "postgresql":
        return "FALSE", []
    return f"{column} IN ({marks(len(values))})", values


_CONSTANT = re.compile(r"[A-Za-z0-9_.:-]*")


def literal(value: object) -> str:
    """A constant of the code (a status, a flag) written into the SQL text, not sent as a
    parameter. The planner then sees it: `o.status = 'offered'` is planned for the few offered
    orders, where `o.status = $1` is planned for an average status, so PostgreSQL kept
    re-planning such prepared statements at every call rather than use their generic plan.
    Only for the code's own constants, never for outside input (anything else is refused)."""
    if isinstance(value, bool):
        if connection.vendor == "postgresql":
            return "TRUE" if value else "FALSE"
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str) and _CONSTANT.fullmatch(value):
        return f"'{value}'"
    raise ValueError(f"not a constant to write into SQL: {value!r}")


def literals(values: Iterable[object]) -> str:
    """Several constants for an IN list (see `literal`)."""
    return ", ".join(literal(value) for value in values)


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """A UUID column read with plain SQL: a UUID on PostgreSQL, its hex string on SQLite."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def prep(model: type[Model], name: str, value: object) -> object:
    """A value as the model field sends it to this database (UUIDs, datetimes, JSON, ...)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _plain_types(field: Field) -> tuple[type, ...]:
    """Python types the field sends to the database unchanged (prepping them is a no-op)."""
    if isinstance(field, ForeignKey):
        field = field.target_field
    if isinstance(field, BooleanField):
        return (bool,)
    if isinstance(field, CharField | TextField):
        return (str,)
    if isinstance(field, IntegerField | AutoField):
        return (int,)
    if isinstance(field, FloatField):
        return (float,)
    return ()


def _fast_prep(field: Field, wrapper: BaseDatabaseWrapper) -> Callable[[Any], Any] | None:
    """What the field's get_db_prep_save does with its most common value, written out: an
    aware datetime or a UUID (the ORM's path through get_prep_value and the backend's adapter
    takes several times longer). Other values take the field's own path."""
    if isinstance(field, DateTimeField) and wrapper.settings_dict.get("TIME_ZONE") is None:
        if wrapper.vendor == "postgresql":  # the driver adapts aware datetimes itself
            return lambda v: v if type(v) is datetime and v.tzinfo is not None else _SLOW
        if wrapper.vendor == "sqlite":  # naive UTC text, as adapt_datetimefield_value makes it
            return lambda v: (
                str(v.astimezone(UTC).replace(tzinfo=None))
                if type(v) is datetime and v.tzinfo is not None
                else _SLOW
            )
    if isinstance(field, UUIDField):
        native = wrapper.features.has_native_uuid_field
        return lambda v: (v if native else v.hex) if type(v) is uuid.UUID else _SLOW
    return None


_SLOW = object()  # a fast path's "not mine: ask the field"


class Rows:
    """A model's columns in SQL, and values to and from them, as the ORM converts them.

    What the ORM works out on every query (the column list, each field's converters) is worked
    out once per model and database connection; a row is then a few calls. Values of plain
    types (str, int, float, bool, None) go to the database as they are, as the fields would
    send them; the others (datetimes, UUIDs, JSON, ...) through the field.
    """

    _cache: "weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], Rows]]" = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, model: type[Model], wrapper: BaseDatabaseWrapper) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        self.wrapper = weakref.ref(wrapper)
        self.alias = wrapper.alias
        quote = wrapper.ops.quote_name
        self.names = [quote(f.column) for f in self.fields]
        self._columns: dict[str | None, str] = {}
        self.converters = []
        for i, field in enumerate(self.fields):
            col = field.get_col(model._meta.db_table)
            found = wrapper.ops.get_db_converters(col) + col.get_db_converters(wrapper)
            if found:
                self.converters.append((i, found, col))
        # INSERT: every column but the id; auto_now fields and files fill themselves in.
        self.insert_fields = [f for f in self.fields if not f.primary_key]
        self.insert_head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608
            model._meta.db_table, ", ".join(quote(f.column) for f in self.insert_fields)
        )
        self.insert_row = f"({marks(len(self.insert_fields))})"
        self.getters = [
            (None, f)
            if getattr(f, "auto_now", False)
            or getattr(f, "auto_now_add", False)
            or isinstance(f, FileField)
            else (f.attname, f)
            for f in self.insert_fields
        ]
        self.plain = {f.name: _plain_types(f) for f in self.fields}
        self.plain |= {f.attname: self.plain[f.name] for f in self.fields}
        self.fast = {f.name: _fast_prep(f, wrapper) for f in self.fields}
        self.attnames = [f.attname for f in self.fields]
        self.plain_init = getattr(model.from_db, "__func__", None) is Model.from_db.__func__ and (
            not signals.post_init.has_listeners(model) and not signals.pre_init.has_listeners(model)
        )

    @classmethod
    def of(cls, model: type[Model]) -> "Rows":
        # `connection` is the default alias's: one lookup of the thread's wrapper, not two
        wrapper = connections[DEFAULT_DB_ALIAS]
        by_model = cls._cache.get(wrapper)
        if by_model is None:
            by_model = cls._cache.setdefault(wrapper, {})
        rows = by_model.get(model)
        if rows is None:
            rows = by_model[model] = cls(model, wrapper)
        return rows

    def columns(self, alias: str | None = None) -> str:
        """`alias.col1, alias.col2, ...`: every column, in the model's order (unqualified
        without an alias, as RETURNING wants them)."""
        found = self._columns.get(alias)
        if found is None:
            found = ", ".join(f"{alias}.{name}" if alias else name for name in self.names)
            self._columns[alias] = found
        return found

    def instance(self, row: Sequence[Any], start: int = 0) -> Model:
        """The model instance of len(fields) values of a row, from `start`."""
        values = list(row[start : start + len(self.fields)])
        wrapper = self.wrapper()
        for i, found, col in self.converters:
            value = values[i]
            if value is not None or len(found) > 1:
                for convert in found:
                    value = convert(value, col, wrapper)
                values[i] = value
        if not self.plain_init:
            return self.model.from_db(self.alias, None, values)
        # Model.from_db(), written out for a model that neither overrides it nor has post_init
        # receivers: a fresh instance's fields are plain attributes (~3x faster for wide rows)
        obj = self.model.__new__(self.model)
        state = ModelState()
        state.adding, state.db = False, self.alias
        attrs = obj.__dict__
        attrs["_state"] = state
        attrs.update(zip(self.attnames, values, strict=True))
        return obj

    def to_db(self, field: Field, value: Any) -> Any:
        """The value as the field would send it to the database."""
        plain = self.plain[field.name]
        if (
            value is None
            or (plain and type(value) in plain)
            or (
                plain == (str,) and isinstance(value, str)  # text choices
            )
        ):
            return value
        fast = self.fast[field.name]
        if fast is not None and (done := fast(value)) is not _SLOW:
            return done
        return field.get_db_prep_save(value, self.wrapper())

    def insert_params(self, obj: Model) -> list[Any]:
        return [
            self.to_db(f, getattr(obj, attname) if attname else f.pre_save(obj, True))
            for attname, f in self.getters
        ]


# --- prepared statements (PostgreSQL) --------------------------------------------------------

PREPARE_MAX_PARAMS = 64  # longer IN lists and multi-row INSERTs vary too much to keep
PREPARE_MAX_PER_SESSION = 1000
_PLACEHOLDER = re.compile(r"%([s%])")
_UNSEEN = object()
_UNDO_PREPARE = "ROLLBACK TO SAVEPOINT spark_prepare; RELEASE SAVEPOINT spark_prepare"
_by_name: dict[str, str] = {}  # prepared name -> its SQL (readable())
# EXECUTE name(values), the values as psycopg2 quotes them (quoted strings may hold anything)
_EXECUTE = re.compile(r"EXECUTE (spark_[0-9a-f]{16})(?:\((?:[^()']|'(?:[^']|'')*')*\))?")


def _sent(wrapper: BaseDatabaseWrapper, sql: str, n_params: int) -> str:
    """The text to send for `sql` with `n_params` %s parameters: on PostgreSQL, EXECUTE of the
    statement prepared on this session (its PREPARE sent the first time); elsewhere, or where
    the statement cannot be prepared, the SQL itself. The parameters are the same either way,
    and psycopg2 quotes them into the EXECUTE as it would into the statement."""
    if wrapper.vendor != "postgresql" or n_params > PREPARE_MAX_PARAMS:
        return sql
    if not settings.SPARK_SQL_PREPARE:
        return sql
    raw = wrapper.connection
    held = wrapper.__dict__.get("_spark_prepared")
    if held is None or held[0] is not raw:  # a new session: nothing is prepared on it yet
        held = wrapper.__dict__["_spark_prepared"] = (raw, {})
    names = held[1]
    name = names.get(sql, _UNSEEN)
    if name is _UNSEEN:
        if len(names) >= PREPARE_MAX_PER_SESSION:
            return sql
        name = _prepare(wrapper, raw, sql)
        if name is _UNSEEN:  # not now (an aborted transaction): try again next time
            return sql
        names[sql] = name
    if name is None:
        return sql
    return f"EXECUTE {name}({marks(n_params)})" if n_params else f"EXECUTE {name}"


def _prepare(wrapper: BaseDatabaseWrapper, raw: Any, sql: str) -> object:
    """PREPARE `sql` on the session: its name; None when it cannot be prepared (the server
    cannot type a parameter, say) and is to be sent as it is; _UNSEEN to decide later.

    Sent on the driver's own cursor, not Django's: it writes nothing (no audit context, not
    one of the request's queries). Inside a transaction a savepoint keeps a failed PREPARE
    from aborting it; a PREPARE stays when the transaction rolls back."""
    from psycopg2 import Error, errors
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INERROR
    from psycopg2.extensions import cursor as psycopg2_cursor

    if "$" in sql or ";" in sql:
        return None
    status = raw.info.transaction_status
    if status == TRANSACTION_STATUS_INERROR:
        return _UNSEEN
    name = "spark_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    numbers = iter(range(1, PREPARE_MAX_PARAMS + 1))
    body = _PLACEHOLDER.sub(lambda m: "%" if m[1] == "%" else f"${next(numbers)}", sql)
    # (spark.lib.postgresql keeps the driver in autocommit and opens transactions itself)
    opens = not raw.autocommit and status == TRANSACTION_STATUS_IDLE
    in_transaction = opens or status != TRANSACTION_STATUS_IDLE
    if opens:
        # This PREPARE opens the transaction, so the audit context is not yet set in it.
        wrapper.spark_audit_set = None
    prepare = f"PREPARE {name} AS {body}"
    with raw.cursor(cursor_factory=psycopg2_cursor) as cursor:  # the driver's own, plain
        try:
            if in_transaction:
                prepare = f"SAVEPOINT spark_prepare; {prepare}; RELEASE SAVEPOINT spark_prepare"
            cursor.execute(prepare)
        except Error as exc:
            if in_transaction:
                cursor.execute(_UNDO_PREPARE)
            if not isinstance(exc, errors.DuplicatePreparedStatement):  # else: it is there
                logger.info("not prepared (%s): %s", str(exc).strip(), sql)
                return None
    _by_name[name] = sql
    return name


def readable(sent: str) -> str:
    """A text this module sent with each `EXECUTE spark_...(values)` in it replaced by the SQL
    that was prepared (for tests and debugging: the values are left out)."""
    return _EXECUTE.sub(lambda m: _by_name.get(m[1], m[0]), sent)


def execute(cursor: Any, sql: str, params: Sequence[object]) -> None:
    """cursor.execute(sql, params), prepared on PostgreSQL (`_sent`)."""
    cursor.execute(_sent(cursor.db, sql, len(params)), params)


def fetch(sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
    wrapper = connections[DEFAULT_DB_ALIAS]
    with wrapper.cursor() as cursor:
        cursor.execute(_sent(wrapper, sql, len(params)), params)
        return cursor.fetchall()


Statement = tuple[str, list[Any]]


def run(statements: Sequence[Statement]) -> int:
    """Run writes in order, in one round trip on PostgreSQL (psycopg2 sends them as one
    string; SQLite takes one statement per call, in process). Returns the rowcount of the
    last one. A failing statement fails the transaction, as it would on its own."""
    statements = [s for s in statements if s]
    if not statements:
        return 0
    wrapper = connections[DEFAULT_DB_ALIAS]  # what `connection` stands for, looked up once
    with wrapper.cursor() as cursor:
        if wrapper.vendor == "postgresql" and len(statements) > 1:
            cursor.execute(
                "; ".join(_sent(wrapper, sql, len(ps)) for sql, ps in statements),
                [p for _, ps in statements for p in ps],
            )
        else:
            for sql, params in statements:
                cursor.execute(_sent(wrapper, sql, len(params)), params)
        return cursor.rowcount


def run_later(statements: Sequence[Statement]) -> None:
    """Writes whose outcome the caller does not read (no rowcount, nothing returned). On
    PostgreSQL inside a transaction they go out with its next statement or with its COMMIT,
    one round trip fewer (spark.lib.postgresql: an error in them surfaces there and fails the
    transaction as a whole); elsewhere they run now, as `run` would."""
    holding = getattr(connections[DEFAULT_DB_ALIAS], "holding", None)
    if holding is None:  # (in autocommit the backend sends them at once itself)
        run(statements)
        return
    with holding():
        run(statements)


def insert_statements(model: type[Model], objs: Sequence[Model]) -> list[Statement]:
    """The multi-row INSERTs of new rows (bulk_create, written out), ids not read back."""
    if not objs:
        return []
    rows = Rows.of(model)
    # SQLite caps the parameters of a statement.
    size = max(1, connection.ops.bulk_batch_size(rows.insert_fields, objs))
    out = []
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        params = [value for obj in batch for value in rows.insert_params(obj)]
        out.append((rows.insert_head + ", ".join([rows.insert_row] * len(batch)), params))
    return out


def insert(model: type[Model], objs: Sequence[Model], *, ids: bool = False) -> None:
    """Multi-row INSERTs of new rows (bulk_create, written out). With `ids` each object gets
    its id back (RETURNING, in the order of the rows, as bulk_create relies on too); without,
    nothing is read back (audit and outbox rows: nothing refers to them in the transaction)
    and the rows are written later in the transaction (`run_later`)."""
    statements = insert_statements(model, objs)
    if not ids:
        run_later(statements)
        return
    alias, done = Rows.of(model).alias, 0
    with connection.cursor() as cursor:
        for sql, params in statements:
            execute(cursor, sql + " RETURNING id", params)
            for (pk,) in cursor.fetchall():
                obj, done = objs[done], done + 1
                obj.pk = pk
                obj._state.adding, obj._state.db = False, alias
    if done != len(objs):
        raise RuntimeError(f"{model.__name__}: {len(objs)} rows inserted, {done} ids back")


def update_statement(
    model: type[Model], ids: Iterable[int], values: dict[str, Any], *, key: str = "id"
) -> Statement | None:
    """UPDATE <model> SET <values> WHERE <key> is one of <ids> (QuerySet.update(), written
    out)."""
    ids = list(ids)
    if not ids or not values:
        return None
    rows = Rows.of(model)
    fields = [model._meta.get_field(name) for name in values]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    params = [
        rows.to_db(f, v.pk if isinstance(v, Model) else v)
        for f, v in zip(fields, values.values(), strict=True)
    ]
    where, keys = any_of(quote(model._meta.get_field(key).column), ids)
    sql = f"UPDATE {model._meta.db_table} SET {sets} WHERE {where}"  # noqa: S608
    return sql, [*params, *keys]


def update(
    model: type[Model], ids: Iterable[int], values: dict[str, Any], *, key: str = "id"
) -> int:
    """update_statement, run: the number of rows changed."""
    statement = update_statement(model, ids, values, key=key)
    return run([statement]) if statement else 0
